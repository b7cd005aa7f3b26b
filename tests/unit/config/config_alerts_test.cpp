// [alerts]: defaults that work without the section, and errors that name file, line and key.
// Promise: recipients default to the postmaster; an empty list or a bad duration is refused.
#include <catch2/catch.hpp>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using namespace pb::config;
using namespace pb::config::test;

namespace {

std::string problems_of(const TempDir& dir, const std::string& text) {
  try {
    load(dir.write("postbridge.toml", text));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config alerts: defaults go to the postmaster once a day", "[config][alerts]") {
  TempDir dir;
  Config cfg = load(dir.write("postbridge.toml", "[service]\npostmaster = \"admin@firma.local\"\n"));
  REQUIRE(cfg.alerts.recipients == std::vector<std::string>{"admin@firma.local"});
  CHECK(cfg.alerts.remind_every == std::chrono::hours(24));
  CHECK(cfg.alerts.after == std::chrono::hours(1));
  CHECK(cfg.alerts.resolve_after == std::chrono::minutes(10));
  CHECK_THAT(render_masked(cfg), Contains("[alerts]\nrecipients = [\"admin@firma.local\"]"));
}

TEST_CASE("config alerts: recipients and durations as given", "[config][alerts]") {
  TempDir dir;
  Config cfg = load(dir.write("postbridge.toml",
                              "[alerts]\nrecipients = [\"a@firma.local\", \"b@firma.local\"]\n"
                              "remind_every = \"12h\"\nafter = \"30m\"\n"));
  CHECK(cfg.alerts.recipients == std::vector<std::string>{"a@firma.local", "b@firma.local"});
  CHECK(cfg.alerts.remind_every == std::chrono::hours(12));
  CHECK(cfg.alerts.after == std::chrono::minutes(30));
}

TEST_CASE("config alerts: errors name file, line and key", "[config][alerts]") {
  TempDir dir;
  auto p = problems_of(dir, "[alerts]\nrecipients = []\n");
  CHECK_THAT(p, Contains("postbridge.toml:2:") && Contains("alerts.recipients") && Contains("is empty"));
  p = problems_of(dir, "[alerts]\nrecipients = [\"not an address\"]\n");
  CHECK_THAT(p, Contains(":2:") && Contains("alerts.recipients[0]") && Contains("not a valid mail address"));
  p = problems_of(dir, "[alerts]\n\nremind_every = \"soon\"\n");
  CHECK_THAT(p, Contains(":3:") && Contains("alerts.remind_every"));
  p = problems_of(dir, "[alerts]\nafter = \"5s\"\n");
  CHECK_THAT(p, Contains("alerts.after") && Contains("too short"));
}

TEST_CASE("config alerts: the daily report is off unless a time is given, in English unless de", "[config][alerts]") {
  TempDir dir;
  Config off = load(dir.write("postbridge.toml", "[alerts]\n"));
  CHECK_FALSE(off.alerts.daily_report);
  CHECK(off.alerts.language == Alerts::Language::en);
  CHECK_THAT(render_masked(off), !Contains("daily_report"));
  Config on = load(dir.write("postbridge.toml", "[alerts]\ndaily_report = \"07:05\"\nlanguage = \"de\"\n"));
  REQUIRE(on.alerts.daily_report);
  CHECK(*on.alerts.daily_report == 7 * 60 + 5);
  CHECK(on.alerts.language == Alerts::Language::de);
  CHECK_THAT(render_masked(on), Contains("daily_report = \"07:05\"\nlanguage = \"de\""));
  Config late = load(dir.write("postbridge.toml", "[alerts]\ndaily_report = \"23:59\"\n"));
  CHECK(*late.alerts.daily_report == 23 * 60 + 59);
}

TEST_CASE("config alerts: a daily report time that is no HH:MM names file, line and key", "[config][alerts]") {
  TempDir dir;
  for (const char* bad : {"7:00", "24:00", "07:60", "7pm", "07:00:00", ""}) {
    INFO(bad);
    auto p = problems_of(dir, std::string("[alerts]\n\ndaily_report = \"") + bad + "\"\n");
    CHECK_THAT(p, Contains("postbridge.toml:3:") && Contains("alerts.daily_report") &&
                      Contains("is not a time of day") && Contains("HH:MM"));
  }
  auto p = problems_of(dir, "[alerts]\ndaily_report = 7\n");
  CHECK_THAT(p, Contains(":2:") && Contains("alerts.daily_report"));
  p = problems_of(dir, "[alerts]\nlanguage = \"fr\"\n");
  CHECK_THAT(p, Contains(":2:") && Contains("alerts.language") && Contains("\"en\" or \"de\""));
}

TEST_CASE("config alerts: a webhook with its format, token file and CA", "[config][alerts]") {
  TempDir dir;
  auto token = dir.write("ntfy.secret", "tk_abc\n");
  std::filesystem::permissions(token, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  Config cfg = load(dir.write("postbridge.toml", "[alerts]\nwebhook_url = \"https://ntfy.firma.test/postbridge\"\n"
                                                 "webhook_format = \"ntfy\"\nwebhook_token_file = \"" +
                                                     token.string() + "\"\nwebhook_ca_file = \"" + ca.string() + "\"\n"));
  CHECK(cfg.alerts.webhook_url == "https://ntfy.firma.test/postbridge");
  CHECK(cfg.alerts.webhook_format == WebhookFormat::ntfy);
  CHECK(cfg.alerts.webhook_token.value == "tk_abc");
  CHECK(cfg.alerts.webhook_ca_file == ca.string());
  const std::string shown = render_masked(cfg);
  CHECK_THAT(shown, Contains("webhook_format = \"ntfy\""));
  CHECK_THAT(shown, Contains("webhook_token = \"****\""));
  CHECK(shown.find("tk_abc") == std::string::npos);
  // Without the section's webhook_url nothing else is sent anywhere.
  Config none = load(dir.write("postbridge.toml", "[alerts]\n"));
  CHECK(none.alerts.webhook_url.empty());
  CHECK(none.alerts.webhook_format == WebhookFormat::json);
}

TEST_CASE("config alerts: webhook errors say what to write", "[config][alerts]") {
  TempDir dir;
  auto p = problems_of(dir, "[alerts]\nwebhook_url = \"ftp://x.test/\"\n");
  CHECK_THAT(p, Contains("alerts.webhook_url") && Contains("is not an https:// URL"));
  p = problems_of(dir, "[alerts]\nwebhook_url = \"https://ntfy.test/\"\nwebhook_format = \"ntfy\"\n");
  CHECK_THAT(p, Contains("names no ntfy topic"));
  p = problems_of(dir, "[alerts]\nwebhook_url = \"https://gotify.test/\"\nwebhook_format = \"gotify\"\n");
  CHECK_THAT(p, Contains("/message"));
  p = problems_of(dir, "[alerts]\nwebhook_url = \"https://x.test/\"\nwebhook_format = \"slack\"\n");
  CHECK_THAT(p, Contains("alerts.webhook_format"));
  p = problems_of(dir, "[alerts]\nwebhook_format = \"ntfy\"\n");
  CHECK_THAT(p, Contains("webhook_url is not"));
  p = problems_of(dir, "[alerts]\nwebhook_url = \"http://push.firma.test/x\"\nwebhook_token = \"abc\"\n");
  CHECK_THAT(p, Contains("clear text"));
}
