// The alerts table (see alert_table.hpp).
#include "queue/alert_table.hpp"

#include "queue/database.hpp"

namespace pb::queue {

std::vector<AlertRow> AlertTable::all() {
  std::vector<AlertRow> out;
  db_.each(
      "SELECT condition, object, since, raised_at, last_sent, absent_since, words, fix FROM alerts "
      "ORDER BY condition, object",
      [&](const SQLite::Statement& s) {
        AlertRow r;
        r.condition = s.getColumn(0).getString();
        r.object = s.getColumn(1).getString();
        r.since = s.getColumn(2).getInt64();
        r.raised_at = s.getColumn(3).getInt64();
        r.last_sent = s.getColumn(4).getInt64();
        r.absent_since = s.getColumn(5).getInt64();
        r.words = s.getColumn(6).getString();
        r.fix = s.getColumn(7).getString();
        out.push_back(std::move(r));
      });
  return out;
}

void AlertTable::replace_all(const std::vector<AlertRow>& rows) {
  auto tx = db_.write_tx();
  db_.exec("DELETE FROM alerts");
  for (const auto& r : rows) {
    db_.exec(
        "INSERT INTO alerts (condition, object, since, raised_at, last_sent, absent_since, words, fix) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        r.condition, r.object, r.since, r.raised_at, r.last_sent, r.absent_since, r.words, r.fix);
  }
  tx.commit();
}

}  // namespace pb::queue
