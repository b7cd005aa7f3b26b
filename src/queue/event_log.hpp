// The event log: what happened to mail and accounts, for the status page, metrics and send-rate
// windows. Promise: writing an event never throws (the log is a record, not the mail).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "queue/event.hpp"

namespace pb::queue {

namespace db {
class Database;
}

// An event as stored, with its row id: ids grow with every insert, so "newer than id N" is how
// the status page pages through the log and follows it live.
struct StoredEvent {
  std::int64_t id = 0;
  Event event;
};

// Which events find() returns. Empty strings and zeros mean "any".
struct EventFilter {
  std::vector<EventKind> kinds;    // empty: every kind
  bool problems_only = false;      // kind error or a result other than ok / queued
  std::string account, route;      // exact match
  std::string text;                // case-insensitive (ASCII) substring of sender, recipients,
                                   // subject, text, account or route
  std::int64_t before_id = 0;      // > 0: only events with id < before_id
  int limit = 100;                 // <= 0: all
};

// Events grouped by (bucket, kind, account, route, result): the numbers behind metrics, "today"
// counters and the hourly chart.
struct EventTally {
  UnixTime bucket = 0;        // start of the time bucket; 0 without bucketing
  KindWord kind;
  std::string account, route;
  ResultWord result;
  std::int64_t events = 0;    // rows
  std::int64_t count = 0;     // sum of Event::count
  std::int64_t bytes = 0;     // sum of Event::size
};

class EventLog {
 public:
  explicit EventLog(db::Database& db) : db_(db) {}

  // One transaction of its own; a failure (a full disk) is logged, never thrown.
  void add(const Event& e);
  // Inside the caller's open write transaction (the queue logs with the change it records).
  void insert(const Event& e);

  std::vector<StoredEvent> find(const EventFilter& f);  // newest first
  // Events with id > after_id, oldest first (the live stream polls this).
  std::vector<StoredEvent> after(std::int64_t after_id, int limit);
  std::int64_t last_id();  // 0 when the log is empty
  // Events with time >= since, grouped; bucket_seconds > 0 also groups by time / bucket_seconds
  // (buckets aligned to multiples of bucket_seconds since the epoch). Ordered by bucket.
  std::vector<EventTally> tally(UnixTime since, int bucket_seconds = 0);
  // Times of accepted sends on a route since `since` (sliding rate windows survive restarts).
  std::vector<UnixTime> send_times(const std::string& route, UnixTime since);

 private:
  db::Database& db_;
};

}  // namespace pb::queue
