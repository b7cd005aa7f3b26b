// The multidrop decision as a short pipeline over the header fields: loop check, then the
// sources of multidrop.hpp in order, each address mapped by one function (map_address) so that
// every path applies the same rules. Reasons are built alongside, in the admin's words.
#include "routing/multidrop.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "mail/addrlist.hpp"
#include "mail/idn.hpp"
#include "util/text.hpp"

namespace pb::routing {
namespace {

constexpr std::size_t kMaxNotes = 20;  // a spam To: with 500 foreign addresses is one note, not 500

// White space runs as one space: "by\tGW.firma.local  (postbridge" matches after a fold.
std::string squashed(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The mark of "by HOST (postbridge mark=M)" in a Received: value, or "" (not ours, or unmarked).
std::string received_mark(std::string_view value, const std::string& hostname) {
  const std::string flat = squashed(value), lower = text::to_lower(flat);
  const std::string stamp = "by " + text::to_lower(hostname) + " (postbridge mark=";
  auto at = lower.find(stamp);
  if (at == std::string::npos) return "";
  auto start = at + stamp.size(), end = flat.find(')', start);
  return end == std::string::npos ? "" : flat.substr(start, end - start);
}

// A local part that mail servers may read as a route to another host: "victim%target.example"
// (the percent hack; Postfix's allow_percent_hack is on by default), "target.example!victim" (a
// UUCP bang path; swap_bangpath), or a quoted "victim@target.example" (Postfix looks inside
// quotes: resolve_dequoted_address). Any sender can put such an address of our domain into the
// envelope header, and the office server trusts postbridge (loopback, mynetworks), so handing
// it on would make the office an open relay. A quoted "john doe" routes nowhere and passes.
bool routes_onward(std::string_view local) { return local.find_first_of("%!@") != std::string_view::npos; }

class Router {
 public:
  Router(const config::Multidrop& md, const HeaderFields& fields, const std::string& hostname,
         const LoopMarker* marker)
      : md_(md), fields_(fields), hostname_(hostname), marker_(marker) {}

  MultidropDecision run() {
    check_loops();
    if (!from_envelope_headers() && !envelope_seen_ && !from_received()) from_recipient_headers();
    if (d_.recipients.empty()) to_default();
    return std::move(d_);
  }

 private:
  void note(std::string text) {
    if (d_.notes.size() < kMaxNotes) d_.notes.push_back(std::move(text));
    else if (d_.notes.size() == kMaxNotes) d_.notes.push_back("(more notes left out)");
  }

  void check_loops() {
    std::set<std::string> marks;  // distinct: a copied stamp counts once
    bool unproven = false;
    for (const auto& [name, value] : fields_) {
      if (text::iequals(name, "Received")) {
        std::string mark = received_mark(value, hostname_);
        if (!mark.empty() && marker_ && marker_->verify(hostname_, mark)) marks.insert(mark);
      }
      if (text::iequals(name, kLoopHeader) && d_.held.empty()) {
        auto words = text::split_ws(value);
        if (words.empty() || !text::iequals(words[0], hostname_)) continue;
        if (words.size() == 2 && text::istarts_with(words[1], "mark=") && marker_ &&
            marker_->verify(hostname_, words[1].substr(5)))
          d_.held = "mail loop: the message carries our " + std::string(kLoopHeader) +
                    " header, so postbridge fetched it before and it came back to this mailbox (a forwarding rule "
                    "that points back at it?)";
        else
          unproven = true;
      }
    }
    const int ours = static_cast<int>(marks.size());
    if (d_.held.empty() && ours > md_.loop_limit)
      d_.held = "mail loop: the message passed this postbridge (" + hostname_ + ") " + std::to_string(ours) +
                " times already (loop_limit = " + std::to_string(md_.loop_limit) + ")";
    if (d_.held.empty() && unproven)
      note("an " + std::string(kLoopHeader) + " header names this gateway without a valid mark: ignored (forged by "
           "the sender, or written before postbridge marked its loop headers)");
  }

  // Adds a local recipient once (compared case-insensitively: the office server does too).
  void add(const std::string& address, std::string reason) {
    for (const auto& r : d_.recipients)
      if (text::iequals(r.address, address)) return;
    d_.recipients.push_back({address, std::move(reason)});
  }

  // Our address -> local recipients (true), or false when it is not ours.
  bool map_address(const mail::Address& a, const std::string& via) {
    auto comparable = mail::comparable_address(a);
    if (!comparable) {
      note(a.str() + " (" + via + "): the domain is not a valid international domain name");
      return false;
    }
    std::size_t at = comparable->rfind('@');
    if (!md_.is_ours(comparable->substr(at + 1))) return false;
    std::string shown = a.local() + "@" + mail::domain_for_display(a.domain());
    const auto* rule = md_.find(*comparable);
    if (!rule && routes_onward(a.local())) {
      // Ours, but kept from the office server: only default_recipient gets the message.
      refused_ = true;
      note(shown + " (" + via + "): not delivered as written: with '%', '!' or '@' in the local part, the "
           "office server could pass it on to another domain (percent hack, bang path) and relay for anyone; "
           "add a map entry if this is a real mailbox");
      return true;
    }
    if (rule) {
      for (const auto& t : rule->targets) add(t, "via " + via + " (" + shown + ", map)");
    } else if (!md_.rewrite_domain.empty()) {
      add(comparable->substr(0, at) + "@" + md_.rewrite_domain, "via " + via + " (" + shown + ")");
    } else {
      add(*comparable, "via " + via + (shown == *comparable ? "" : " (" + shown + ")"));
    }
    return true;
  }

  // All mailboxes of one field value; returns how many were ours.
  int take_field(const std::string& name, const std::string& value) {
    auto list = mail::parse_address_list(value);
    for (const auto& p : list.problems) note(name + ": " + p);
    int ours = 0;
    int foreign = 0;
    std::string first_foreign;
    for (const auto& mb : list.mailboxes) {
      if (map_address(mb.address, name)) {
        ++ours;
      } else if (foreign++ == 0) {
        first_foreign = mb.address.str();
      }
    }
    if (foreign == 1) note(first_foreign + " in " + name + " is not in our domains: not delivered");
    if (foreign > 1)
      note(first_foreign + " and " + std::to_string(foreign - 1) + " more in " + name +
           " are not in our domains: not delivered");
    return ours;
  }

  // Source 1: the topmost instance of the first envelope header that names one of ours.
  bool from_envelope_headers() {
    for (const auto& wanted : md_.envelope_headers) {
      std::size_t instances = 0;
      const std::string* top = nullptr;
      for (const auto& [name, value] : fields_) {
        if (!text::iequals(name, wanted)) continue;
        if (instances++ == 0) top = &value;
      }
      if (!top) continue;
      envelope_seen_ = true;
      if (instances > 1)
        note("ignored " + std::to_string(instances - 1) + " lower " + wanted +
             " field(s): earlier forwarding hops or written by the sender; only the provider's topmost one counts");
      if (take_field(wanted, *top) > 0) {
        d_.source = wanted;
        return true;
      }
      if (text::trim(*top).empty()) note("the topmost " + wanted + " is empty");
    }
    return false;
  }

  // Source 2: "Received: ... for <addr>", topmost one naming ours (only without envelope headers).
  bool from_received() {
    for (const auto& [name, value] : fields_) {
      if (!text::iequals(name, "Received")) continue;
      auto a = mail::received_for(value);
      if (a && map_address(*a, "Received: for")) {
        d_.source = "Received";
        return true;
      }
    }
    return false;
  }

  // Source 3: the recipient headers a sender writes. No Bcc here: it names nobody by then.
  bool from_recipient_headers() {
    static constexpr const char* kNames[] = {"To", "Cc", "Resent-To", "Resent-Cc"};
    int ours = 0;
    for (const char* wanted : kNames)
      for (const auto& [name, value] : fields_)
        if (text::iequals(name, wanted)) ours += take_field(wanted, value);
    if (ours > 0) d_.source = "To/Cc";
    return ours > 0;
  }

  void to_default() {
    std::string why = refused_        ? "the address of ours it names is not delivered as written (see the note)"
                      : envelope_seen_ ? "no envelope header names an address of " + domains_text()
                                     : "no envelope header, and no address of " + domains_text() +
                                           " in Received: for, To or Cc";
    add(md_.default_recipient, "default_recipient: " + why);
    d_.source.clear();
  }

  std::string domains_text() const {
    std::string out;
    for (std::size_t i = 0; i < md_.domains.size() && i < 3; ++i)
      out += (i ? ", " : "") + mail::domain_for_display(md_.domains[i]);
    if (md_.domains.size() > 3) out += " ...";
    return out;
  }

  const config::Multidrop& md_;
  const HeaderFields& fields_;
  const std::string& hostname_;
  const LoopMarker* marker_;
  MultidropDecision d_;
  bool envelope_seen_ = false;
  bool refused_ = false;  // an address of ours was kept from the office server (routes_onward)
};

}  // namespace

std::vector<std::string> MultidropDecision::addresses() const {
  std::vector<std::string> out;
  for (const auto& r : recipients) out.push_back(r.address);
  return out;
}

std::string MultidropDecision::summary() const {
  std::string out;
  if (!held.empty()) out = "held: " + held + "; would go to ";
  for (std::size_t i = 0; i < recipients.size(); ++i)
    out += (i ? "; " : "") + recipients[i].address + " " + recipients[i].reason;
  for (const auto& n : notes) out += " | " + n;
  return out;
}

MultidropDecision route_multidrop(const config::Multidrop& md, const HeaderFields& fields, const std::string& hostname,
                                  const LoopMarker* marker, bool truncated) {
  auto d = Router(md, fields, hostname, marker).run();
  if (truncated) d.notes.insert(d.notes.begin(), "the header section is too large: routed on its first 64 KiB");
  return d;
}

std::string loop_header_line(const std::string& hostname, const std::string& mark) {
  return std::string(kLoopHeader) + ": " + hostname + " mark=" + mark + "\r\n";
}

}  // namespace pb::routing
