// The events table: inserts, the page's filtered and live reads, and tallies.
// Promise: kind and result are written as their words (event.hpp) and read back word for word.
#include "queue/event_log.hpp"

#include "queue/database.hpp"
#include "util/log.hpp"

namespace pb::queue {

using db::from_db;
using db::sql_limit;
using db::to_db;

namespace {

// Columns of a StoredEvent, in read_stored_event()'s order.
#define PB_EVENT_COLUMNS \
  "id, time, kind, account, route, msg_id, sender, recipients, subject, size, count, result, text"

StoredEvent read_stored_event(const SQLite::Statement& s) {
  StoredEvent out;
  out.id = s.getColumn(0).getInt64();
  Event& e = out.event;
  e.time = s.getColumn(1).getInt64();
  e.kind = KindWord::parse(s.getColumn(2).getString());
  e.account = s.getColumn(3).getString();
  e.route = s.getColumn(4).getString();
  e.message_id = s.getColumn(5).getInt64();  // NULL reads as 0
  e.sender = s.getColumn(6).getString();
  e.recipients = s.getColumn(7).getString();
  e.subject = s.getColumn(8).getString();
  e.size = from_db(s.getColumn(9).getInt64());
  e.count = s.getColumn(10).getInt();
  e.result = ResultWord::parse(s.getColumn(11).getString());
  e.text = s.getColumn(12).getString();
  return out;
}

// ",fetch,send," for the instr() test in find(): one cached statement serves every filter.
std::string kind_list(const std::vector<EventKind>& kinds) {
  if (kinds.empty()) return "";
  std::string out = ",";
  for (auto k : kinds) out += std::string(to_string(k)) + ",";
  return out;
}

}  // namespace

void EventLog::insert(const Event& e) {
  const auto insert_row = [&](auto msg_id) {
    db_.exec(
        "INSERT INTO events (time, kind, account, route, msg_id, sender, recipients, subject, size, "
        "count, result, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        e.time, e.kind.str(), e.account, e.route, msg_id, e.sender, e.recipients, e.subject, to_db(e.size),
        e.count, e.result.str(), e.text);
  };
  if (e.message_id != 0)
    insert_row(e.message_id);
  else
    insert_row(nullptr);  // not about one message
}

void EventLog::add(const Event& e) {
  // The event log is a record, not the mail: when it cannot be written (a full disk), the caller
  // is in the middle of handling something that matters more, so this never throws.
  try {
    auto tx = db_.write_tx();
    insert(e);
    tx.commit();
  } catch (const std::exception& ex) {
    log::error(std::string("could not write to the event log: ") + ex.what() + " (event: " + std::string(e.kind.str()) +
               " " + std::string(e.result.str()) + ")");
  }
}

std::vector<StoredEvent> EventLog::find(const EventFilter& f) {
  std::vector<StoredEvent> out;
  // Numbered parameters: each filter is off when its value is '' or 0. The rowid range keeps
  // paging cheap however long the log is.
  db_.each(
      "SELECT " PB_EVENT_COLUMNS " FROM events "
      "WHERE (?1 = 0 OR id < ?1) "
      "AND (?2 = '' OR instr(?2, ',' || kind || ',') > 0) "
      "AND (?3 = 0 OR kind = ?8 OR result NOT IN (?9, ?10)) "
      "AND (?4 = '' OR account = ?4) "
      "AND (?5 = '' OR route = ?5) "
      "AND (?6 = '' OR instr(lower(sender || char(10) || recipients || char(10) || subject || char(10) || "
      "text || char(10) || account || char(10) || route), lower(?6)) > 0) "
      "ORDER BY id DESC LIMIT ?7",
      [&](const SQLite::Statement& s) { out.push_back(read_stored_event(s)); }, f.before_id > 0 ? f.before_id : 0,
      kind_list(f.kinds), f.problems_only ? 1 : 0, f.account, f.route, f.text, sql_limit(f.limit),
      to_string(EventKind::error), to_string(EventResult::ok), to_string(EventResult::queued));
  return out;
}

std::vector<StoredEvent> EventLog::after(std::int64_t after_id, int limit) {
  std::vector<StoredEvent> out;
  db_.each("SELECT " PB_EVENT_COLUMNS " FROM events WHERE id > ? ORDER BY id LIMIT ?",
           [&](const SQLite::Statement& s) { out.push_back(read_stored_event(s)); }, after_id, sql_limit(limit));
  return out;
}

std::int64_t EventLog::last_id() { return db_.scalar("SELECT MAX(id) FROM events").value_or(0); }

std::vector<EventTally> EventLog::tally(UnixTime since, int bucket_seconds) {
  std::vector<EventTally> out;
  db_.each(
      "SELECT CASE WHEN ?2 > 0 THEN (time / ?2) * ?2 ELSE 0 END AS bucket, kind, account, route, result, "
      "COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(size), 0) "
      "FROM events WHERE time >= ?1 GROUP BY bucket, kind, account, route, result ORDER BY bucket",
      [&](const SQLite::Statement& s) {
        out.push_back({s.getColumn(0).getInt64(), KindWord::parse(s.getColumn(1).getString()),
                       s.getColumn(2).getString(), s.getColumn(3).getString(),
                       ResultWord::parse(s.getColumn(4).getString()), s.getColumn(5).getInt64(),
                       s.getColumn(6).getInt64(), s.getColumn(7).getInt64()});
      },
      since, bucket_seconds > 0 ? bucket_seconds : 0);
  return out;
}

std::vector<UnixTime> EventLog::send_times(const std::string& route, UnixTime since) {
  std::vector<UnixTime> out;
  db_.each("SELECT time FROM events WHERE kind = ? AND route = ? AND count > 0 AND time >= ? ORDER BY time",
           [&](const SQLite::Statement& s) { out.push_back(s.getColumn(0).getInt64()); }, to_string(EventKind::send),
           route, since);
  return out;
}

#undef PB_EVENT_COLUMNS

}  // namespace pb::queue
