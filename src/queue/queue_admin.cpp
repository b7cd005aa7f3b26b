// The admin's actions on queued messages (postbridge queue, the status page): retry, hold,
// release, remove. They work while the service runs: it notices data_version changes.
#include "queue/database.hpp"
#include "queue/queue_table.hpp"

namespace pb::queue {

using db::wall_now;

bool QueueTable::retry_now(MessageId id, UnixTime now) {
  auto tx = db_.write_tx();
  // A failed message gets its failed recipients back: the admin fixed the cause.
  int n = db_.exec(
      "UPDATE messages SET state = 'queued', next_attempt = ?, updated_at = ? "
      "WHERE id = ? AND state IN ('queued', 'failed', 'held')",
      now, wall_now(), id);
  if (n > 0) db_.exec("UPDATE recipients SET state = 'pending' WHERE msg_id = ? AND state = 'failed'", id);
  tx.commit();
  return n > 0;
}

int QueueTable::retry_all(UnixTime now) {
  auto tx = db_.write_tx();
  int n = db_.exec("UPDATE messages SET next_attempt = ?, updated_at = ? WHERE state = 'queued'", now, wall_now());
  tx.commit();
  return n;
}

bool QueueTable::set_held(MessageId id, bool held) {
  auto tx = db_.write_tx();
  int n = held ? db_.exec("UPDATE messages SET state = 'held', updated_at = ? WHERE id = ? AND state = 'queued'",
                          wall_now(), id)
               // Released mail is due at once: the admin decided it should go now.
               : db_.exec(
                     "UPDATE messages SET state = 'queued', next_attempt = ?, updated_at = ? "
                     "WHERE id = ? AND state = 'held'",
                     wall_now(), wall_now(), id);
  tx.commit();
  return n > 0;
}

std::optional<std::string> QueueTable::remove(MessageId id) {
  auto tx = db_.write_tx();
  std::optional<std::string> spool;
  db_.each(
      "SELECT spool_name FROM messages WHERE id = ?",
      [&](const SQLite::Statement& s) { spool = s.getColumn(0).getString(); }, id);
  if (spool) db_.exec("DELETE FROM messages WHERE id = ?", id);
  tx.commit();
  return spool;
}

void QueueTable::mark_delay_notified(MessageId id) {
  auto tx = db_.write_tx();
  db_.exec("UPDATE messages SET delay_notified = 1 WHERE id = ?", id);
  tx.commit();
}

}  // namespace pb::queue
