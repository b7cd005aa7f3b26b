// Event-log tallies -> counters for the page (today, last hour, 24-hour chart) and Prometheus.
// Promise: the page and /metrics count the same things the same way (Counts::add is the one rule).
#include "http/tally.hpp"

#include <ctime>
#include <map>

#include "queue/alert_table.hpp"
#include "queue/route_id.hpp"

namespace pb::http {

namespace json = boost::json;

namespace {

constexpr std::int64_t kHour = 3600;
constexpr int kChartHours = 24;

using queue::EventKind;
using queue::EventResult;

bool is_delivery(const queue::KindWord& kind) { return kind == EventKind::deliver || kind == EventKind::send; }

// Prometheus label values: backslash, double quote and newline escaped (exposition format 0.0.4).
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
  out += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::int64_t value) {
  out += std::string(name);
  if (!labels.empty()) out += "{" + std::string(labels) + "}";
  out += " " + std::to_string(value) + "\n";
}


// Per-label counters over the whole log, with every configured account and route present (0 if
// nothing happened yet), so dashboards see the series from the start.
struct LogTotals {
  std::map<std::string, Counts> by_account, by_route;
  Counts all;
};

LogTotals log_totals(ServiceView& view) {
  LogTotals t;
  for (const auto& a : view.accounts()) t.by_account[a.name];
  for (const auto& r : view.routes()) t.by_route[r.route];
  for (const auto& row : view.store().events().tally(0)) {
    t.all.add(row);
    if (!row.account.empty()) t.by_account[row.account].add(row);
    if (!row.route.empty()) t.by_route[row.route].add(row);
  }
  return t;
}

void write_counters(std::string& out, const LogTotals& t) {
  family(out, "postbridge_fetched_total", "counter", "Messages fetched from POP3 mailboxes.");
  for (const auto& [account, c] : t.by_account)
    sample(out, "postbridge_fetched_total", "account=\"" + label(account) + "\"", c.fetched);
  family(out, "postbridge_delivered_total", "counter",
         "Messages accepted by the next hop (office server or smarthost).");
  for (const auto& [route, c] : t.by_route)
    sample(out, "postbridge_delivered_total", "route=\"" + label(route) + "\"", c.delivered + c.sent);
  family(out, "postbridge_relayed_total", "counter",
         "Messages accepted from office clients for relaying via a smarthost.");
  for (const auto& [route, c] : t.by_route)
    if (auto id = queue::RouteId::parse(route); id && !id->is_local())
      sample(out, "postbridge_relayed_total", "smarthost=\"" + label(id->name()) + "\"", c.relayed);
  family(out, "postbridge_bounced_total", "counter", "Failure notices (DSNs) generated.");
  sample(out, "postbridge_bounced_total", "", t.all.bounced);
  family(out, "postbridge_deferred_total", "counter", "Delivery attempts deferred for a later retry.");
  for (const auto& [route, c] : t.by_route)
    sample(out, "postbridge_deferred_total", "route=\"" + label(route) + "\"", c.deferred);
}

void write_gauges(std::string& out, ServiceView& view) {
  std::map<std::pair<std::string, std::string>, std::int64_t> queue;
  for (const auto& r : view.routes())
    for (const char* state : {"queued", "held", "failed"}) queue[{r.route, state}] = 0;
  for (const auto& [route, sc] : view.store().queue().counts_by_route()) queue[{route, sc.first}] = sc.second;
  family(out, "postbridge_queue_messages", "gauge", "Messages waiting in the queue, by route and state.");
  for (const auto& [key, n] : queue)
    sample(out, "postbridge_queue_messages", "route=\"" + label(key.first) + "\",state=\"" + label(key.second) + "\"",
           n);
  family(out, "postbridge_last_successful_poll_timestamp_seconds", "gauge",
         "Unix time of the last successful POP3 poll, 0 if none.");
  for (const auto& a : view.accounts())
    sample(out, "postbridge_last_successful_poll_timestamp_seconds", "account=\"" + label(a.name) + "\"",
           a.last_success);
}

// The open problems the admin was told about (alerts table, raised_at set), one series each, so a
// Prometheus rule fires on the same problems the alert mail names; a problem still within its grace
// time is not shown yet, like it is not mailed yet. Rows carry words, never a secret: only the
// condition and object become labels.
void write_alerts(std::string& out, ServiceView& view) {
  std::int64_t open = 0;
  family(out, "postbridge_alert_open", "gauge", "1 for each open problem postbridge has alerted about.");
  for (const auto& row : view.store().alerts().all()) {
    if (row.raised_at == 0) continue;
    ++open;
    sample(out, "postbridge_alert_open",
           "condition=\"" + label(row.condition) + "\",object=\"" + label(row.object) + "\"", 1);
  }
  family(out, "postbridge_alerts_open", "gauge", "Open problems postbridge has alerted about.");
  sample(out, "postbridge_alerts_open", "", open);
  std::map<std::string, std::int64_t> sent{{"raised", 0}, {"reminded", 0}, {"resolved", 0}};
  for (const auto& t : view.store().events().tally(0))
    if (t.kind == EventKind::alert) sent[std::string(t.result.str())] += t.events;
  family(out, "postbridge_alerts_sent_total", "counter",
         "Alerts told by mail, by kind: raised (test alerts too), reminded, resolved.");
  for (const auto& [kind, n] : sent) sample(out, "postbridge_alerts_sent_total", "kind=\"" + label(kind) + "\"", n);
}

}  // namespace

void Counts::add(const queue::EventTally& t) {
  if (t.kind == EventKind::fetch && t.result == EventResult::ok) {
    fetched += t.count;
    fetched_bytes += t.bytes;
  } else if (t.kind == EventKind::deliver) {
    delivered += t.count;  // count is 1 when the server accepted some recipient
  } else if (t.kind == EventKind::send) {
    sent += t.count;
  } else if (t.kind == EventKind::receive) {
    relayed += t.count;
  } else if (t.kind == EventKind::bounce && t.result == EventResult::failed) {
    bounced += t.events;
  }
  if (is_delivery(t.kind) && t.result == EventResult::deferred) deferred += t.events;
  if (is_delivery(t.kind) && (t.result == EventResult::failed || t.result == EventResult::expired)) failed += t.events;
}

std::int64_t local_day_start(std::int64_t now) {
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  if (!::localtime_r(&t, &tm)) return now - now % 86400;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;  // let mktime decide: a DST change day has 23 or 25 hours
  return static_cast<std::int64_t>(std::mktime(&tm));
}

void fill_counts(queue::Store& store, std::int64_t now, std::vector<AccountStatus>& accounts,
                 std::vector<RouteStatus>& routes) {
  std::map<std::string, Counts> day_account, day_route, hour_route;
  for (const auto& t : store.events().tally(local_day_start(now))) {
    if (!t.account.empty()) day_account[t.account].add(t);
    if (!t.route.empty()) day_route[t.route].add(t);
  }
  for (const auto& t : store.events().tally(now - kHour))
    if (!t.route.empty()) hour_route[t.route].add(t);
  for (auto& a : accounts) {
    const Counts& c = day_account[a.name];
    a.fetched_today = static_cast<int>(c.fetched);
    a.bytes_today = static_cast<std::uint64_t>(c.fetched_bytes);
  }
  for (auto& r : routes) {
    r.sent_today = static_cast<int>(day_route[r.route].delivered + day_route[r.route].sent);
    r.sent_last_hour = static_cast<int>(hour_route[r.route].delivered + hour_route[r.route].sent);
  }
}

json::object chart_json(queue::Store& store, std::int64_t now) {
  const std::int64_t first = (now - now % kHour) - (kChartHours - 1) * kHour;
  std::vector<Counts> hours(kChartHours);
  for (const auto& t : store.events().tally(first, static_cast<int>(kHour))) {
    const std::int64_t i = (t.bucket - first) / kHour;
    if (i >= 0 && i < kChartHours) hours[static_cast<std::size_t>(i)].add(t);  // clock jumps: ignore the future
  }
  json::array out;
  for (int i = 0; i < kChartHours; ++i) {
    const Counts& c = hours[static_cast<std::size_t>(i)];
    out.push_back(json::object{{"time", first + i * kHour},
                               {"fetched", c.fetched},
                               {"delivered", c.delivered},
                               {"sent", c.sent},
                               {"failed", c.failed}});
  }
  return {{"bucket_seconds", kHour}, {"hours", std::move(out)}};
}

std::string metrics_text(ServiceView& view) {
  std::string out;
  family(out, "postbridge_up", "gauge", "1 while the postbridge service runs.");
  sample(out, "postbridge_up", "", 1);
  write_counters(out, log_totals(view));
  write_gauges(out, view);
  write_alerts(out, view);
  return out;
}

}  // namespace pb::http
