// The daily report: yesterday's numbers per mailbox and route, the open problems and the oldest
// queued message, in plain words like the Small Business Server's daily mail admins know. A pure
// function of its input (no clock, no I/O, no time zone), so both languages are tested with fixed data.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alerts/tracker.hpp"

namespace pb::alerts {

enum class Language { en, de };

struct ReportLine {
  std::string name;  // "info" (a mailbox) or "local", "smarthost:gmx" (a route)
  std::int64_t fetched = 0, sent = 0, bounced = 0;
};

struct OldestQueued {
  std::string route;
  std::int64_t created_at = 0;
  std::string last_reply;  // plain words, may be empty
};

struct ReportInput {
  std::string hostname;
  std::string day;    // "2026-12-06": the local day the numbers count
  std::string until;  // "": the whole day; "21:45": today so far (a report asked for by hand)
  std::int64_t now = 0;
  std::vector<ReportLine> mailboxes, routes;
  std::vector<Open> open;         // as stored; the ones not yet told are left out
  std::optional<OldestQueued> oldest;
  std::int64_t queued = 0;        // messages waiting on every route
  std::string config_file;
};

struct ReportMail {
  std::string subject, body;
};

ReportMail daily_report(const ReportInput& in, Language lang);

}  // namespace pb::alerts
