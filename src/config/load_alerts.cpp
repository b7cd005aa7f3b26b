// [alerts]: who hears about problems by mail (and by webhook), and how often. Every key has a
// default that works, so a config without the section sends alerts to the postmaster.
#include "config/loaders.hpp"
#include "oauth/grant.hpp"

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

// The URL must be one postbridge can POST to; ntfy takes its topic from the URL's one path
// segment, Gotify its /message path. A token over plain http would travel in clear text, so a
// token needs https (or a loopback address, where nothing travels).
void load_webhook(const Section& sec, const std::filesystem::path& base, Alerts& out) {
  sec.get("webhook_url", out.webhook_url);
  sec.get_enum("webhook_format", out.webhook_format, kWebhookFormatChoices);
  read_ca_file(sec, base, "webhook_ca_file", out.webhook_ca_file);
  read_secret(sec, base, "webhook_token", out.webhook_token);
  if (out.webhook_url.empty()) {
    for (std::string_view k : {"webhook_format", "webhook_ca_file", "webhook_token", "webhook_token_file",
                               "webhook_token_env"})
      if (sec.node(k)) sec.problem(k, "is set but webhook_url is not; add webhook_url or remove the key");
    return;
  }
  oauth::EndpointUrl url;
  try {
    url = oauth::parse_http_url(out.webhook_url, "the webhook_url");
  } catch (const std::exception& e) {
    sec.problem("webhook_url", e.what());
    return;
  }
  const std::string_view path = std::string_view(url.target).substr(0, url.target.find('?'));
  if (out.webhook_format == WebhookFormat::ntfy &&
      (path.size() < 2 || path.find('/', 1) != std::string_view::npos))
    sec.problem("webhook_url", in_quotes(out.webhook_url) +
                                   " names no ntfy topic; give the topic's URL, like "
                                   "\"https://ntfy.example/postbridge\"");
  if (out.webhook_format == WebhookFormat::gotify && !path.ends_with("/message"))
    sec.problem("webhook_url", in_quotes(out.webhook_url) +
                                   " is not Gotify's message URL; give the server's URL with /message, like "
                                   "\"https://gotify.example/message\"");
  const bool loopback = url.host.starts_with("127.") || url.host == "::1";
  if (!url.tls && !loopback && !out.webhook_token.empty())
    sec.problem("webhook_url", in_quotes(out.webhook_url) +
                                   " is plain http, and the webhook token would travel in clear text; use https");
}

}  // namespace

void load_alerts(const Section& sec, const std::filesystem::path& base, const std::string& postmaster, Alerts& out) {
  load_recipients(sec, postmaster, out);
  load_webhook(sec, base, out);
  sec.get_duration("remind_every", out.remind_every, std::chrono::minutes(1));
  sec.get_duration("after", out.after, std::chrono::minutes(1));
  sec.get_duration("resolve_after", out.resolve_after, std::chrono::seconds(1));
  load_daily_report(sec, out);
  sec.get_enum("language", out.language, kLanguageChoices);
}

}  // namespace pb::config::detail
