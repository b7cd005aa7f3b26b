#include "doctor/command.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <ostream>

#include "mail/address.hpp"

namespace pb::doctor {
namespace asio = boost::asio;

namespace {

std::string names_of_accounts(const config::Config& cfg) {
  std::string out;
  for (const auto& a : cfg.accounts) out += (out.empty() ? "" : ", ") + a.name;
  return out.empty() ? "none configured" : out;
}
std::string names_of_smarthosts(const config::Config& cfg) {
  std::string out;
  for (const auto& s : cfg.smarthosts) out += (out.empty() ? "" : ", ") + s.name;
  return out.empty() ? "none configured" : out;
}

// The reports in a fixed order: local, every account, every smarthost.
asio::awaitable<std::vector<Report>> run_all(const config::Config& cfg, const Request& req) {
  std::vector<Report> out;
  if (req.what == "local" || req.what == "all") out.push_back(co_await test_local(cfg, req.options));
  for (const auto& a : cfg.accounts)
    if (req.what == "all" ? a.enabled : (req.what == "account" && a.name == req.name))
      out.push_back(co_await test_account(cfg, a, req.options));
  for (const auto& s : cfg.smarthosts)
    if (req.what == "all" || (req.what == "smarthost" && s.name == req.name))
      out.push_back(co_await test_smarthost(cfg, s, req.options));
  co_return out;
}

}  // namespace

std::string validate(const config::Config& cfg, const Request& req) {
  if (req.what == "account") {
    if (req.name.empty()) return "test account needs a name (" + names_of_accounts(cfg) + ")";
    if (!cfg.find_account(req.name)) return "no [[account]] named '" + req.name + "' (" + names_of_accounts(cfg) + ")";
    if (!req.options.send_to.empty()) return "--send-to applies to 'test smarthost' and 'test local', not to accounts";
  } else if (req.what == "smarthost") {
    if (req.name.empty()) return "test smarthost needs a name (" + names_of_smarthosts(cfg) + ")";
    if (!cfg.find_smarthost(req.name)) return "no [[smarthost]] named '" + req.name + "' (" + names_of_smarthosts(cfg) + ")";
  } else if (req.what == "local" || req.what == "all") {
    if (!req.name.empty()) return "test " + req.what + " takes no name";
    if (req.what == "all" && !req.options.send_to.empty()) return "--send-to needs one target: test smarthost NAME or test local";
  } else {
    return req.what.empty() ? std::string("test needs a target: account NAME, smarthost NAME, local or all")
                            : "unknown test target '" + req.what + "' (account NAME, smarthost NAME, local, all)";
  }
  for (const std::string* a : {&req.options.send_to, &req.options.from})
    if (!a->empty() && !mail::Address::parse(*a)) return "'" + *a + "' is not an e-mail address";
  return {};
}

int run_command(const config::Config& cfg, const Request& req, std::ostream& out) {
  asio::io_context ioc;
  auto future = asio::co_spawn(ioc, run_all(cfg, req), asio::use_future);
  ioc.run();
  std::vector<Report> reports = future.get();
  bool all_ok = std::all_of(reports.begin(), reports.end(), [](const Report& r) { return r.ok(); });
  if (req.json) {
    boost::json::array arr;
    for (const auto& r : reports) arr.push_back(to_json(r));
    out << boost::json::serialize(boost::json::object{{"ok", all_ok}, {"reports", std::move(arr)}}) << "\n";
  } else {
    for (std::size_t i = 0; i < reports.size(); ++i) out << (i ? "\n" : "") << render_text(reports[i]);
    if (reports.size() > 1) {
      std::size_t failed = std::count_if(reports.begin(), reports.end(), [](const Report& r) { return !r.ok(); });
      out << "\n" << (failed ? std::to_string(failed) + " of " + std::to_string(reports.size()) + " do not work"
                             : "all " + std::to_string(reports.size()) + " work")
          << "\n";
    }
  }
  return all_ok ? 0 : 1;
}

}  // namespace pb::doctor
