// The uidls and seen_messages tables (see ledger.hpp).
#include "queue/ledger.hpp"

#include "queue/database.hpp"
#include "util/text.hpp"

#include <limits>

namespace pb::queue {

using db::to_db;

namespace {
constexpr std::int64_t kSecondsPerDay = 86400;
}  // namespace

std::unordered_set<std::string> Ledger::known_uidls(const std::string& account) {
  std::unordered_set<std::string> out;
  db_.each(
      "SELECT uidl FROM uidls WHERE account = ?",
      [&](const SQLite::Statement& s) { out.insert(s.getColumn(0).getString()); }, account);
  return out;
}

bool Ledger::record_too_large(const std::string& account, const std::string& uidl, std::uint64_t size,
                              UnixTime now) {
  auto tx = db_.write_tx();
  const int added = db_.exec(
      "INSERT INTO uidls (account, uidl, state, msg_id, size, first_seen) "
      "VALUES (?, ?, 'too_large', NULL, ?, ?) ON CONFLICT (account, uidl) DO NOTHING",
      account, uidl, to_db(size), now);
  tx.commit();
  return added > 0;
}

std::vector<std::string> Ledger::uidls_to_delete(const std::string& account, bool keep, int keep_days,
                                                 UnixTime now) {
  std::vector<std::string> out;
  if (keep && keep_days <= 0) return out;  // keep forever
  // Without keep every finished message qualifies: first_seen <= INT64_MAX always holds.
  const std::int64_t cutoff = keep ? now - static_cast<std::int64_t>(keep_days) * kSecondsPerDay
                                   : std::numeric_limits<std::int64_t>::max();
  // Only 'stored' UIDLs whose message is finished. 'too_large' ones stay for the admin.
  db_.each(
      "SELECT u.uidl FROM uidls u JOIN messages m ON m.id = u.msg_id "
      "WHERE u.account = ? AND u.state = 'stored' AND m.state IN ('delivered', 'failed') "
      "AND u.first_seen <= ? ORDER BY u.first_seen, u.uidl",
      [&](const SQLite::Statement& s) { out.push_back(s.getColumn(0).getString()); }, account, cutoff);
  return out;
}

void Ledger::mark_deleted(const std::string& account, const std::vector<std::string>& uidls) {
  if (uidls.empty()) return;
  auto tx = db_.write_tx();
  for (const auto& u : uidls) db_.exec("UPDATE uidls SET state = 'deleted' WHERE account = ? AND uidl = ?", account, u);
  tx.commit();
}

void Ledger::forget_vanished(const std::string& account, const std::unordered_set<std::string>& on_server,
                             const std::function<bool(std::string_view)>& in_scope) {
  auto tx = db_.write_tx();
  std::vector<std::string> gone;
  // 'stored' rows are never forgotten: their message may still be queued, and the row is what
  // stops a second fetch if the provider lists the UIDL again.
  db_.each(
      "SELECT uidl FROM uidls WHERE account = ? AND state IN ('deleted', 'too_large')",
      [&](const SQLite::Statement& s) {
        auto u = s.getColumn(0).getString();
        if (!on_server.contains(u) && (!in_scope || in_scope(u))) gone.push_back(std::move(u));
      },
      account);
  for (const auto& u : gone)
    db_.exec("DELETE FROM uidls WHERE account = ? AND uidl = ? AND state IN ('deleted', 'too_large')", account, u);
  tx.commit();
}

std::optional<std::string> Ledger::find_fetched(const std::string& account,
                                                const std::function<bool(std::string_view)>& in_scope,
                                                const std::string& message_id, std::uint64_t provider_size,
                                                const std::string& content_digest) {
  std::optional<std::string> out;
  if (content_digest.empty()) return out;
  db_.each(
      "SELECT uidl FROM uidls WHERE account = ? AND message_id = ? AND provider_size = ? AND content_digest = ?",
      [&](const SQLite::Statement& s) {
        auto u = s.getColumn(0).getString();
        if (!out && in_scope(u)) out = std::move(u);
      },
      account, message_id, to_db(provider_size), content_digest);
  return out;
}

void Ledger::rekey(const std::string& account, const std::string& from, const std::string& to) {
  auto tx = db_.write_tx();
  db_.exec("UPDATE uidls SET uidl = ? WHERE account = ? AND uidl = ?", to, account, from);
  tx.commit();
}

std::optional<MessageId> Ledger::find_duplicate(const std::string& message_id, const std::string& body_digest,
                                                const std::string& address, UnixTime since) {
  if (message_id.empty() || body_digest.empty()) return std::nullopt;
  return db_.scalar(
      "SELECT msg_id FROM seen_messages WHERE message_id = ? AND body_digest = ? AND address = ? AND time >= ?",
      message_id, body_digest, text::to_lower(address), since);
}

void Ledger::prune_duplicates(UnixTime before) {
  auto tx = db_.write_tx();
  db_.exec("DELETE FROM seen_messages WHERE time < ?", before);
  tx.commit();
}

bool Ledger::has_uidl(const std::string& account, const std::string& uidl) {
  return db_.scalar("SELECT 1 FROM uidls WHERE account = ? AND uidl = ?", account, uidl).has_value();
}

void Ledger::record_stored(const NewMessage& m, MessageId id, UnixTime now) {
  if (m.uidl.empty()) return;
  db_.exec(
      "INSERT INTO uidls (account, uidl, state, msg_id, size, first_seen, message_id, provider_size, content_digest) "
      "VALUES (?, ?, 'stored', ?, ?, ?, ?, ?, ?)",
      m.account, m.uidl, id, to_db(m.size), now, m.message_id, to_db(m.provider_size), m.content_digest);
}

void Ledger::remember_recipients(const NewMessage& m, const std::vector<std::string>& rcpts, MessageId id,
                                 UnixTime now) {
  if (m.body_digest.empty() || m.message_id.empty()) return;
  for (const auto& r : rcpts)
    db_.exec("INSERT INTO seen_messages (message_id, body_digest, address, msg_id, time) VALUES (?, ?, ?, ?, ?) "
             "ON CONFLICT (message_id, body_digest, address) DO UPDATE SET msg_id = excluded.msg_id, time = excluded.time",
             m.message_id, m.body_digest, text::to_lower(r), id, now);
}

}  // namespace pb::queue
