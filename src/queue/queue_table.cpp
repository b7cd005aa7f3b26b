// The messages and recipients tables: enqueueing, delivery bookkeeping and the queue's reads.
// Promise: every public call is one transaction; once it returns, its change survives kill -9.
#include "queue/queue_table.hpp"

#include "queue/database.hpp"
#include "queue/event_log.hpp"
#include "queue/ledger.hpp"
#include "queue/message_rows.hpp"

#include <algorithm>
#include <stdexcept>

namespace pb::queue {

using db::sql_limit;
using db::to_db;
using db::wall_now;
using rows::msg_state_from;
using rows::normalize_address;
using rows::rcpt_state_from;
using rows::read_message;
using rows::unique_recipients;

namespace {

void validate_new(const NewMessage& m, const std::vector<std::string>& rcpts) {
  if (rcpts.empty() && m.done_recipients.empty()) throw std::invalid_argument("enqueue: message without recipients");
  if (m.spool_name.empty()) throw std::invalid_argument("enqueue: message without a spool file");
  if (m.route.empty()) throw std::invalid_argument("enqueue: message without a route");
}
}  // namespace

// Messages from a SELECT of PB_MESSAGE_COLUMNS, each with its recipients.
template <class... A>
std::vector<QueuedMessage> QueueTable::messages(const char* sql, const A&... args) {
  std::vector<QueuedMessage> out;
  db_.each(
      sql, [&](const SQLite::Statement& s) { out.push_back(read_message(s)); }, args...);
  for (auto& m : out) m.recipients = recipients(m.id);
  return out;
}

std::vector<Recipient> QueueTable::recipients(MessageId id) {
  std::vector<Recipient> out;
  db_.each(
      "SELECT address, state, reply, notify, orcpt FROM recipients WHERE msg_id = ? ORDER BY rowid",
      [&](const SQLite::Statement& s) {
        out.push_back({s.getColumn(0).getString(), rcpt_state_from(s.getColumn(1).getString()),
                       s.getColumn(2).getString(), s.getColumn(3).getString(), s.getColumn(4).getString()});
      },
      id);
  return out;
}

MessageId QueueTable::insert_message(const NewMessage& m, UnixTime now) {
  const auto rcpts = unique_recipients(m.recipients);
  validate_new(m, rcpts);
  if (!m.uidl.empty() && ledger_.has_uidl(m.account, m.uidl))
    throw std::logic_error("enqueue: UIDL '" + m.uidl + "' of account '" + m.account +
                           "' is already recorded (a message must never be fetched twice)");

  // Held (a loop) waits for the admin; nothing pending (every recipient a duplicate) is done now.
  const char* state = !m.hold_reason.empty() ? "held" : rcpts.empty() ? "delivered" : "queued";
  const std::string& reply = !m.hold_reason.empty() ? m.hold_reason
                             : rcpts.empty()        ? m.done_recipients.front().reply
                                                    : std::string();
  db_.exec(
      "INSERT INTO messages (route, account, uidl, sender, spool_name, size, subject, message_id, "
      "state, attempts, created_at, next_attempt, last_reply, updated_at, envid, ret, is_bounce, auth_user) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
      m.route, m.account, m.uidl, m.sender, m.spool_name, to_db(m.size), m.subject, m.message_id, state, now, now,
      reply, now, m.envid, m.ret, m.is_bounce ? 1 : 0, m.auth_user);
  const MessageId id = db_.last_insert_rowid();
  // DSN parameters travel with the first occurrence of each recipient.
  for (const auto& r : rcpts) {
    std::string notify, orcpt;
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
      if (normalize_address(m.recipients[i]) != r) continue;
      if (i < m.notify.size()) notify = m.notify[i];
      if (i < m.orcpt.size()) orcpt = m.orcpt[i];
      break;
    }
    db_.exec("INSERT INTO recipients (msg_id, address, state, notify, orcpt) VALUES (?, ?, 'pending', ?, ?)", id, r,
             notify, orcpt);
  }

  for (const auto& r : m.done_recipients) {
    if (std::find(rcpts.begin(), rcpts.end(), normalize_address(r.address)) != rcpts.end()) continue;
    db_.exec(
        "INSERT INTO recipients (msg_id, address, state, reply) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (msg_id, address) DO NOTHING",
        id, normalize_address(r.address), to_string(r.state), r.reply);
  }
  ledger_.remember_recipients(m, rcpts, id, now);
  ledger_.record_stored(m, id, now);
  return id;
}

MessageId QueueTable::enqueue(const NewMessage& m, UnixTime now) {
  auto tx = db_.write_tx();
  const MessageId id = insert_message(m, now);
  tx.commit();
  return id;
}

std::vector<MessageId> QueueTable::enqueue_batch(const std::vector<std::pair<NewMessage, Event>>& items, UnixTime now) {
  std::vector<MessageId> ids;
  if (items.empty()) return ids;
  auto tx = db_.write_tx();
  for (const auto& [m, e] : items) {
    ids.push_back(insert_message(m, now));
    Event logged = e;
    logged.message_id = ids.back();
    events_.insert(logged);
  }
  tx.commit();
  return ids;
}

std::vector<MessageId> QueueTable::due_fetched(const std::string& account, UnixTime now) {
  std::vector<MessageId> out;
  db_.each(
      "SELECT id FROM messages WHERE state = 'queued' AND account = ? AND uidl != '' AND next_attempt <= ? "
      "ORDER BY id",
      [&](const SQLite::Statement& s) { out.push_back(s.getColumn(0).getInt64()); }, account, now);
  return out;
}

std::unordered_set<std::string> QueueTable::spool_names_in_use() {
  std::unordered_set<std::string> out;
  db_.each("SELECT spool_name FROM messages WHERE state <> 'delivered'",
           [&](const SQLite::Statement& s) { out.insert(s.getColumn(0).getString()); });
  return out;
}

std::vector<QueuedMessage> QueueTable::due(const std::string& route, UnixTime now, int limit) {
  auto tx = db_.read_tx();
  auto out = messages("SELECT " PB_MESSAGE_COLUMNS
                      " FROM messages "
                      "WHERE state = 'queued' AND route = ? AND next_attempt <= ? "
                      "ORDER BY next_attempt, id LIMIT ?",
                      route, now, sql_limit(limit));
  tx.commit();
  return out;
}

std::optional<UnixTime> QueueTable::next_due(const std::string& route) {
  return db_.scalar("SELECT MIN(next_attempt) FROM messages WHERE state = 'queued' AND route = ?", route);
}

void QueueTable::record_attempts(const std::vector<std::pair<MessageId, UnixTime>>& attempts) {
  auto tx = db_.write_tx();
  for (const auto& [id, retry_at] : attempts)
    db_.exec(
        "UPDATE messages SET attempts = attempts + 1, next_attempt = ?, attempt_open = 1, updated_at = ? "
        "WHERE id = ?",
        retry_at, wall_now(), id);
  tx.commit();
}

void QueueTable::release_attempts(const std::vector<MessageId>& ids, UnixTime now) {
  if (ids.empty()) return;
  auto tx = db_.write_tx();
  for (auto id : ids)
    db_.exec(
        "UPDATE messages SET attempts = MAX(attempts - 1, 0), next_attempt = ?, attempt_open = 0 "
        "WHERE id = ? AND attempt_open = 1",
        now, id);
  tx.commit();
}

int QueueTable::recover_interrupted(UnixTime now) {
  auto tx = db_.write_tx();
  int n = db_.exec("UPDATE messages SET next_attempt = ?, attempt_open = 0 WHERE attempt_open = 1 AND state = 'queued'",
                   now);
  db_.exec("UPDATE messages SET attempt_open = 0 WHERE attempt_open = 1");
  tx.commit();
  return n;
}

void QueueTable::record_attempt(MessageId id, UnixTime retry_at) {
  auto tx = db_.write_tx();
  const int n = db_.exec(
      "UPDATE messages SET attempts = attempts + 1, next_attempt = ?, attempt_open = 1, updated_at = ? WHERE id = ?",
      retry_at, wall_now(), id);
  if (n == 0) throw std::out_of_range("record_attempt: no message " + std::to_string(id));
  tx.commit();
}

MsgState QueueTable::record_results(MessageId id, const std::vector<DeliveryResult>& results,
                                    const std::string& last_reply, UnixTime next_attempt_if_pending, const Event* event,
                                    const NewMessage* spawn, MessageId* spawned) {
  auto tx = db_.write_tx();
  std::optional<MsgState> current;
  db_.each(
      "SELECT state FROM messages WHERE id = ?",
      [&](const SQLite::Statement& s) { current = msg_state_from(s.getColumn(0).getString()); }, id);
  if (!current) throw std::out_of_range("record_results: no message " + std::to_string(id));
  const bool held = *current == MsgState::held;

  // Only pending recipients change: a delivered recipient must never become pending again (a
  // second copy) and a failed one was already reported to the sender.
  for (const auto& r : results)
    db_.exec(
        "UPDATE recipients SET state = ?, reply = ? "
        "WHERE msg_id = ? AND address = ? AND state = 'pending'",
        to_string(r.state), r.reply, id, normalize_address(r.address));

  std::int64_t pending = 0, failed = 0;
  db_.each(
      "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'failed'), 0) "
      "FROM recipients WHERE msg_id = ?",
      [&](const SQLite::Statement& s) {
        pending = s.getColumn(0).getInt64();
        failed = s.getColumn(1).getInt64();
      },
      id);

  MsgState next;
  if (pending > 0) {
    next = held ? MsgState::held : MsgState::queued;  // an admin's hold outlasts the attempt
    db_.exec(
        "UPDATE messages SET state = ?, next_attempt = ?, last_reply = ?, attempt_open = 0, updated_at = ? "
        "WHERE id = ?",
        to_string(next), next_attempt_if_pending, last_reply, wall_now(), id);
  } else {
    next = failed > 0 ? MsgState::failed : MsgState::delivered;
    db_.exec("UPDATE messages SET state = ?, last_reply = ?, attempt_open = 0, updated_at = ? WHERE id = ?",
             to_string(next), last_reply, wall_now(), id);
  }
  if (spawn) {
    MessageId copy = insert_message(*spawn, wall_now());
    if (spawned) *spawned = copy;
  }
  if (event) events_.insert(*event);
  tx.commit();
  return next;
}

std::optional<QueuedMessage> QueueTable::get(MessageId id) {
  auto tx = db_.read_tx();
  auto found = messages("SELECT " PB_MESSAGE_COLUMNS " FROM messages WHERE id = ?", id);
  tx.commit();
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::vector<QueuedMessage> QueueTable::list(int limit) {
  auto tx = db_.read_tx();
  auto out = messages("SELECT " PB_MESSAGE_COLUMNS " FROM messages ORDER BY id DESC LIMIT ?", sql_limit(limit));
  tx.commit();
  return out;
}

int QueueTable::count(MsgState s) {
  return static_cast<int>(db_.scalar("SELECT COUNT(*) FROM messages WHERE state = ?", to_string(s)).value_or(0));
}

int QueueTable::count_queued_for_account(const std::string& account) {
  return static_cast<int>(
      db_.scalar("SELECT COUNT(*) FROM messages WHERE account = ? AND state = 'queued'", account).value_or(0));
}

std::vector<std::pair<std::string, std::pair<std::string, int>>> QueueTable::counts_by_route() {
  std::vector<std::pair<std::string, std::pair<std::string, int>>> out;
  db_.each("SELECT route, state, COUNT(*) FROM messages WHERE state != 'delivered' GROUP BY route, state",
           [&](const SQLite::Statement& s) {
             out.push_back({s.getColumn(0).getString(), {s.getColumn(1).getString(), s.getColumn(2).getInt()}});
           });
  return out;
}

std::vector<QueuedMessage> QueueTable::undelivered(const std::string& state, const std::string& route, int limit) {
  auto tx = db_.read_tx();
  auto out =
      messages("SELECT " PB_MESSAGE_COLUMNS
               " FROM messages "
               "WHERE state IN ('queued', 'held', 'failed') AND (?1 = '' OR state = ?1) AND (?2 = '' OR route = ?2) "
               "ORDER BY id LIMIT ?3",
               state, route, sql_limit(limit));
  tx.commit();
  return out;
}

int QueueTable::count_undelivered(const std::string& state, const std::string& route) {
  return static_cast<int>(db_.scalar("SELECT COUNT(*) FROM messages "
                                     "WHERE state IN ('queued', 'held', 'failed') AND (?1 = '' OR state = ?1) "
                                     "AND (?2 = '' OR route = ?2)",
                                     state, route)
                              .value_or(0));
}

}  // namespace pb::queue
