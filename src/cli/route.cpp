// The dry run reads only the header section (up to the empty line) of each message and calls the
// same router as the fetcher, so what it prints is what the service would do. The duplicate
// check needs the state database and is left out on purpose: the dry run opens no state.
#include "cli/route.hpp"

#include <fstream>
#include <iostream>

#include "cli/command.hpp"
#include "mail/headers.hpp"
#include "mail/idn.hpp"
#include "routing/multidrop.hpp"
#include "util/display.hpp"

namespace pb::cli {
namespace {

mail::HeaderCollector read_head(std::istream& in) {
  mail::HeaderCollector h;
  std::string line;
  while (!h.done() && std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    h.feed_line(line);
  }
  return h;
}

void explain(const config::Config& cfg, const config::Account& a, const routing::LoopMarker* marker,
             const mail::HeaderCollector& h, std::ostream& out) {
  auto d = routing::route_multidrop(*a.multidrop, h.fields(), cfg.service.hostname, marker, h.truncated());
  // Everything below comes from the message's header: escaped (a Subject may carry ESC or U+009B
  // that a terminal would obey), and aligned by display width, not bytes.
  if (auto id = h.get("Message-ID")) out << "Message-ID: " << display::safe(*id, 200) << "\n";
  if (auto s = h.get("Subject")) out << "Subject:    " << display::safe(mail::decode_rfc2047(*s), 200) << "\n";
  if (!d.held.empty())
    out << "HELD, not delivered: " << display::safe(d.held, 1000) << "\n(after `postbridge queue release ID` it goes to:)\n";
  out << "deliver to:\n";
  std::size_t width = 0;
  for (const auto& r : d.recipients) width = std::max(width, display::width(display::safe(r.address)));
  for (const auto& r : d.recipients)
    out << "  " << display::fit(display::safe(r.address), width) << "  " << display::safe(r.reason, 1000) << "\n";
  if (!d.notes.empty()) {
    out << "notes:\n";
    for (const auto& n : d.notes) out << "  " << display::safe(n, 1000) << "\n";
  }
}

const config::Account* pick(const config::Config& cfg, const std::string& name, std::ostream& err) {
  if (!name.empty()) {
    if (const auto* a = cfg.find_account(name)) return a;
    err << "postbridge route: no [[account]] named '" << name << "' in " << cfg.file.string() << "; there are:";
    for (const auto& a : cfg.accounts) err << " " << a.name;
    err << "\n";
    return nullptr;
  }
  const config::Account* only = nullptr;
  int multidrop = 0;
  for (const auto& a : cfg.accounts)
    if (a.multidrop && multidrop++ == 0) only = &a;
  if (multidrop == 1) return only;
  err << "postbridge route: say which account with --account NAME (" << multidrop
      << " accounts have [account.multidrop])\n";
  return nullptr;
}

}  // namespace

int route_dry_run(const config::Config& cfg, const std::string& account, const std::vector<std::string>& files,
                  std::ostream& out, std::ostream& err) {
  const config::Account* a = pick(cfg, account, err);
  if (!a) return 2;
  if (!a->multidrop) {
    out << "account " << a->name << " is single-drop: every message goes to";
    for (const auto& r : a->deliver_to) out << " " << r;
    out << " (deliver_to); add [account.multidrop] to route by the message's headers\n";
    return 0;
  }
  out << "account " << a->name << ": multidrop for";
  for (const auto& d : a->multidrop->domains) out << " " << mail::domain_for_display(d);
  if (!a->multidrop->rewrite_domain.empty()) out << ", rewritten to @" << a->multidrop->rewrite_domain;
  out << "\ndry run: nothing is delivered or stored (so the duplicate check against delivered mail is left out)\n";
  // The service's loop key, if it exists and this user may read it: without it no loop mark can
  // be checked, so nothing shows as a loop (the service itself always has its key).
  const auto key = routing::LoopMarker::load(cfg.service.state_dir);
  const routing::LoopMarker* marker = key ? &*key : nullptr;
  if (!marker) out << "(no readable " << (cfg.service.state_dir / routing::kLoopKeyFile).string()
                   << ": loops cannot be recognised in this dry run)\n";
  if (files.empty()) {
    explain(cfg, *a, marker, read_head(std::cin), out);
    return 0;
  }
  int rc = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    out << "\n== " << f << "\n";
    if (!in) {
      err << "postbridge route: cannot read " << f << "\n";
      rc = 1;
      continue;
    }
    explain(cfg, *a, marker, read_head(in), out);
  }
  return rc;
}

int route(config::Config& cfg, const Args& args) {
  return route_dry_run(cfg, args.account, args.operands, std::cout, std::cerr);
}

}  // namespace pb::cli
