// The daily report's words with fixed data, in English and German: counts per mailbox and route,
// totals in the subject, open problems (only the ones told), the oldest queued message.
#include "alerts/daily_report.hpp"
#include "alerts/tracker.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

using namespace pb::alerts;
using Catch::Matchers::Contains;

namespace {

constexpr std::int64_t kNow = 1'765'000'000;

ReportInput sample() {
  ReportInput in;
  in.hostname = "gw.firma.local";
  in.day = "2026-12-06";
  in.now = kNow;
  in.mailboxes = {{"info", 12, 0, 1}, {"sales", 3, 0, 0}};
  in.routes = {{"local", 0, 15, 1}, {"smarthost:gmx", 0, 7, 0}};
  Open login{Condition::mailbox_login, "account sales", kNow - 3 * 3600, kNow - 3600, kNow - 3600, 0,
             "the provider refused the login", "check the password"};
  Open waiting{Condition::smarthost_paused, "smarthost gmx", kNow - 60, 0, 0, 0, "paused", "wait"};  // not told yet
  in.open = {login, waiting};
  in.oldest = OldestQueued{"smarthost:gmx", kNow - 2 * 86400, "451 try later"};
  in.queued = 4;
  in.config_file = "/etc/postbridge/postbridge.toml";
  return in;
}

}  // namespace

TEST_CASE("daily report: English words, counts and totals", "[alerts][report]") {
  auto m = daily_report(sample(), Language::en);
  CHECK(m.subject ==
        "postbridge daily report gw.firma.local, 2026-12-06: 15 fetched, 22 sent, 1 bounced, 1 open problem");
  INFO(m.body);
  CHECK_THAT(m.body, Contains("Report for gw.firma.local, 2026-12-06\n"));
  CHECK_THAT(m.body, Contains("  info: 12 fetched, 1 bounced\n"));
  CHECK_THAT(m.body, Contains("  sales: 3 fetched, 0 bounced\n"));
  CHECK_THAT(m.body, Contains("  local: 15 sent, 1 bounced\n"));
  CHECK_THAT(m.body, Contains("  smarthost:gmx: 7 sent, 0 bounced\n"));
  CHECK_THAT(m.body, Contains("- mailbox login refused: account sales (for 3 hours)\n  the provider refused the login\n"
                              "  What to do: check the password\n"));
  CHECK_THAT(m.body, !Contains("smarthost paused"));  // within its grace time
  CHECK_THAT(m.body, Contains("  4 message(s) wait; the oldest, on route smarthost:gmx, for 2 days; last reply: "
                              "451 try later\n"));
  CHECK_THAT(m.body, Contains("[alerts] daily_report in /etc/postbridge/postbridge.toml"));
}

TEST_CASE("daily report: German words", "[alerts][report]") {
  auto m = daily_report(sample(), Language::de);
  CHECK(m.subject == "postbridge Tagesbericht gw.firma.local, 2026-12-06: 15 abgeholt, 22 gesendet, "
                     "1 unzustellbar, 1 offenes Problem");
  INFO(m.body);
  CHECK_THAT(m.body, Contains("Bericht für gw.firma.local, 2026-12-06\n"));
  CHECK_THAT(m.body, Contains("Postfächer (per POP3 abgeholt):\n  info: 12 abgeholt, 1 unzustellbar\n"));
  CHECK_THAT(m.body, Contains("  local: 15 gesendet, 1 unzustellbar\n"));
  CHECK_THAT(m.body, Contains("- Anmeldung am Postfach abgelehnt: account sales (seit 3 Stunden)\n"));
  CHECK_THAT(m.body, Contains("  Was zu tun ist: check the password\n"));
  CHECK_THAT(m.body, Contains("  4 Nachricht(en) warten; die älteste, auf Weg smarthost:gmx, seit 2 Tagen"));
}

TEST_CASE("daily report: a quiet day, and a report asked for during the day", "[alerts][report]") {
  ReportInput in;
  in.hostname = "gw";
  in.day = "2026-12-07";
  in.until = "21:45";
  in.now = kNow;
  in.routes = {{"local", 0, 0, 0}};
  in.config_file = "/etc/pb.toml";
  auto en = daily_report(in, Language::en);
  CHECK(en.subject == "postbridge daily report gw, 2026-12-07 (today until 21:45): 0 fetched, 0 sent, 0 bounced, "
                      "0 open problems");
  CHECK_THAT(en.body, Contains("  no mailboxes are configured\n"));
  CHECK_THAT(en.body, Contains("Open problems:\n  none\n"));
  CHECK_THAT(en.body, Contains("Queue:\n  empty: every message has left\n"));
  auto de = daily_report(in, Language::de);
  CHECK_THAT(de.subject, Contains("(heute bis 21:45)"));
  CHECK_THAT(de.subject, Contains("0 offene Probleme"));
  CHECK_THAT(de.body, Contains("Offene Probleme:\n  keine\n"));
  CHECK_THAT(de.body, Contains("Warteschlange:\n  leer"));
}

TEST_CASE("daily report and page: every alert condition has words in English and German", "[alerts][report]") {
  std::ifstream in(std::string(PB_TEST_DATA) + "/../web/assets/i18n.js");
  REQUIRE(in);
  std::ostringstream page;
  page << in.rdbuf();
  for (Condition c : kConditions) {
    const std::string key = "\"alerts.cond." + std::string(to_string(c)) + "\":";
    std::size_t n = 0;
    for (auto at = page.str().find(key); at != std::string::npos; at = page.str().find(key, at + 1)) ++n;
    INFO(key);
    CHECK(n == 2);
  }
}
