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

// "07:00" -> 420. Only HH:MM: a report at "7" or "7pm" would be a guess about what was meant.
std::optional<int> minutes_of_day(const std::string& s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (std::size_t i : {0u, 1u, 3u, 4u})
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

void load_daily_report(const Section& sec, Alerts& out) {
  std::string text;
  if (!sec.get("daily_report", text)) return;
  out.daily_report = minutes_of_day(text);
  if (!out.daily_report)
    sec.problem("daily_report", in_quotes(text) +
                                    " is not a time of day; use 24-hour HH:MM in the machine's local time, "
                                    "like \"07:00\", or leave the key out for no daily report");
}

}  // namespace

void load_alerts(const Section& sec, const std::string& postmaster, Alerts& out) {
  load_recipients(sec, postmaster, out);
  sec.get_duration("remind_every", out.remind_every, std::chrono::minutes(1));
  sec.get_duration("after", out.after, std::chrono::minutes(1));
  sec.get_duration("resolve_after", out.resolve_after, std::chrono::seconds(1));
  load_daily_report(sec, out);
  sec.get_enum("language", out.language, kLanguageChoices);
}

}  // namespace pb::config::detail
