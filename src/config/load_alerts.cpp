// [alerts]: who hears about problems by mail, and how often. Every key has a default that works,
// so a config without the section sends alerts to the postmaster.
#include "config/loaders.hpp"

namespace pb::config::detail {

namespace {

void load_recipients(const Section& sec, const std::string& postmaster, Alerts& out) {
  const bool given = for_each_string(sec, "recipients", "[\"admin@firma.local\"]",
                                     [&](const toml::node& n, const std::string& key, const std::string& v) {
                                       if (!mail::Address::parse(v)) {
                                         sec.problem_at(n, key, in_quotes(v) +
                                                                    " is not a valid mail address; use a plain "
                                                                    "address like \"admin@firma.local\"");
                                       } else if (std::find(out.recipients.begin(), out.recipients.end(), v) !=
                                                  out.recipients.end()) {
                                         sec.problem_at(n, key, in_quotes(v) + " is listed twice");
                                       } else {
                                         out.recipients.push_back(v);
                                       }
                                     });
  if (!given) {
    out.recipients = {postmaster};
  } else if (out.recipients.empty() && sec.node("recipients")->as_array() &&
             sec.node("recipients")->as_array()->empty()) {
    sec.problem("recipients",
                "is empty: nobody would hear about a refused login or a stopped queue; leave the key "
                "out to use the postmaster address, or list addresses like [\"admin@firma.local\"]");
  }
}

}  // namespace

void load_alerts(const Section& sec, const std::string& postmaster, Alerts& out) {
  load_recipients(sec, postmaster, out);
  sec.get_duration("remind_every", out.remind_every, std::chrono::minutes(1));
  sec.get_duration("after", out.after, std::chrono::minutes(1));
  sec.get_duration("resolve_after", out.resolve_after, std::chrono::seconds(1));
}

}  // namespace pb::config::detail
