// What the numbers on the page and in /metrics mean, defined once: the event log's tallies sorted
// into fetched / delivered / sent / relayed / deferred / failed / bounced, per account, route or hour.
#pragma once
#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "http/model.hpp"
#include "queue/store.hpp"

namespace pb::http {

struct Counts {
  std::int64_t fetched = 0;        // messages fetched by POP3 (fetch events, result ok)
  std::int64_t fetched_bytes = 0;  // their size
  std::int64_t delivered = 0;      // accepted by the office server (deliver events with count)
  std::int64_t sent = 0;           // accepted by a smarthost (send events with count)
  std::int64_t relayed = 0;        // accepted from office clients for relaying (receive events)
  std::int64_t deferred = 0;       // delivery attempts deferred (deliver/send, result deferred)
  std::int64_t failed = 0;         // deliveries failed for good or expired
  std::int64_t bounced = 0;        // failure DSNs generated (bounce events, result failed)

  void add(const queue::EventTally& t);
};

// Start of the local calendar day that contains `now` (the server's time zone), Unix seconds.
std::int64_t local_day_start(std::int64_t now);

// Fills fetched_today / bytes_today of the accounts and sent_today / sent_last_hour of the routes
// (matched by name and route) from the event log. For app::Service's ServiceView implementation.
void fill_counts(queue::Store& store, std::int64_t now, std::vector<AccountStatus>& accounts,
                 std::vector<RouteStatus>& routes);

// GET /api/chart: 24 hourly buckets ending with the current hour (see api.md).
boost::json::object chart_json(queue::Store& store, std::int64_t now);

// GET /metrics: Prometheus text exposition format 0.0.4.
std::string metrics_text(ServiceView& view);

}  // namespace pb::http
