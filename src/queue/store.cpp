// The queue, UIDL bookkeeping, event log and account health in one SQLite file (WAL, synchronous=FULL).
// Promise: every public call is one transaction; once it returns, its change survives kill -9 and power loss.
#include "queue/store.hpp"

#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <cerrno>
#include <system_error>

#include <algorithm>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace pb::queue {

namespace {

// A string as an SQL literal ('it''s'): VACUUM INTO takes an expression, and a file name is data.
std::string quote_sql(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// --- schema ----------------------------------------------------------------------------------
// PRAGMA user_version holds the last applied step. Later issues append steps; a step never changes
// once released. Steps run inside one write transaction (SQLite DDL is transactional).
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a queue id names one message forever
  route        TEXT    NOT NULL,
  account      TEXT    NOT NULL DEFAULT '',
  uidl         TEXT    NOT NULL DEFAULT '',
  sender       TEXT    NOT NULL DEFAULT '',
  spool_name   TEXT    NOT NULL UNIQUE,   -- one row per spool file: removing it can hurt no other row
  size         INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
  subject      TEXT    NOT NULL DEFAULT '',
  message_id   TEXT    NOT NULL DEFAULT '',  -- the Message-ID header; the queue id is `id`
  state        TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'delivered', 'failed', 'held')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  created_at   INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  last_reply   TEXT    NOT NULL DEFAULT '',
  updated_at   INTEGER NOT NULL,
  envid        TEXT    NOT NULL DEFAULT '',  -- DSN ENVID (RFC 3461 4.4), kept for the bounce
  ret          TEXT    NOT NULL DEFAULT '',  -- DSN RET=FULL|HDRS
  is_bounce    INTEGER NOT NULL DEFAULT 0,   -- a DSN/notice: its own failure never bounces again
  auth_user    TEXT    NOT NULL DEFAULT '',  -- relay client that logged in, for the log
  delay_notified INTEGER NOT NULL DEFAULT 0, -- a "delayed" DSN was sent
  attempt_open INTEGER NOT NULL DEFAULT 0    -- attempt recorded, outcome not yet: set while sending
);
CREATE INDEX messages_due ON messages (state, route, next_attempt);
CREATE INDEX messages_account ON messages (account, state);

CREATE TABLE recipients (
  msg_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  address TEXT    NOT NULL,  -- domain lower-cased (RFC 5321 2.4), local part as given
  state   TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  reply   TEXT    NOT NULL DEFAULT '',
  notify  TEXT    NOT NULL DEFAULT '',  -- DSN NOTIFY= as given (RFC 3461 4.1)
  orcpt   TEXT    NOT NULL DEFAULT '',  -- DSN ORCPT= (RFC 3461 4.2)
  PRIMARY KEY (msg_id, address)
);

CREATE TABLE uidls (
  account    TEXT    NOT NULL,
  uidl       TEXT    NOT NULL,
  state      TEXT    NOT NULL CHECK (state IN ('stored', 'deleted', 'too_large')),
  msg_id     INTEGER REFERENCES messages (id) ON DELETE SET NULL,
  size       INTEGER NOT NULL DEFAULT 0,
  first_seen INTEGER NOT NULL,
  PRIMARY KEY (account, uidl)
);
CREATE INDEX uidls_msg ON uidls (msg_id);  -- keeps ON DELETE SET NULL from scanning the table

CREATE TABLE events (
  id         INTEGER PRIMARY KEY,
  time       INTEGER NOT NULL,
  kind       TEXT    NOT NULL,
  account    TEXT    NOT NULL DEFAULT '',
  route      TEXT    NOT NULL DEFAULT '',
  msg_id     INTEGER,  -- no foreign key: the log outlives purged messages
  sender     TEXT    NOT NULL DEFAULT '',
  recipients TEXT    NOT NULL DEFAULT '',
  subject    TEXT    NOT NULL DEFAULT '',
  size       INTEGER NOT NULL DEFAULT 0,
  count      INTEGER NOT NULL DEFAULT 0,
  result     TEXT    NOT NULL DEFAULT '',
  text       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_kind_time ON events (kind, time);

CREATE TABLE account_state (
  name         TEXT    PRIMARY KEY,
  state        TEXT    NOT NULL DEFAULT 'ok',
  last_poll    INTEGER NOT NULL DEFAULT 0,
  last_success INTEGER NOT NULL DEFAULT 0,
  next_poll    INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT    NOT NULL DEFAULT '',
  failures     INTEGER NOT NULL DEFAULT 0
);
)sql"},
    // Issue 6 (multidrop): two more recipient outcomes, and what each recipient already received.
    // SQLite cannot change a CHECK constraint, so the recipients table is rebuilt.
    {2, R"sql(
CREATE TABLE recipients_v2 (
  msg_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  address TEXT    NOT NULL,
  state   TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'delivered', 'failed', 'redirected', 'duplicate')),
  reply   TEXT    NOT NULL DEFAULT '',
  notify  TEXT    NOT NULL DEFAULT '',
  orcpt   TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (msg_id, address)
);
INSERT INTO recipients_v2 (msg_id, address, state, reply, notify, orcpt)
  SELECT msg_id, address, state, reply, notify, orcpt FROM recipients;
DROP TABLE recipients;
ALTER TABLE recipients_v2 RENAME TO recipients;

-- Multidrop duplicate check: a provider that keeps one copy per recipient hands out the same
-- message (Message-ID and body) several times; each local recipient gets it once.
CREATE TABLE seen_messages (
  message_id  TEXT    NOT NULL,
  body_digest TEXT    NOT NULL,
  address     TEXT    NOT NULL,  -- lower-cased
  msg_id      INTEGER NOT NULL,  -- the queue id that carries it (no foreign key: outlives purges)
  time        INTEGER NOT NULL,
  PRIMARY KEY (message_id, body_digest, address)
);
CREATE INDEX seen_messages_time ON seen_messages (time);
)sql"},
};

constexpr int kBusyTimeoutMs = 5000;  // the CLI may hold the write lock briefly while we run
constexpr std::int64_t kSecondsPerDay = 86400;

// --- value conversions -----------------------------------------------------------------------

MsgState msg_state_from(const std::string& s) {
  if (s == "queued") return MsgState::queued;
  if (s == "delivered") return MsgState::delivered;
  if (s == "failed") return MsgState::failed;
  if (s == "held") return MsgState::held;
  throw std::runtime_error("unknown message state '" + s + "' in the database");
}

RcptState rcpt_state_from(const std::string& s) {
  if (s == "pending") return RcptState::pending;
  if (s == "delivered") return RcptState::delivered;
  if (s == "failed") return RcptState::failed;
  if (s == "redirected") return RcptState::redirected;
  if (s == "duplicate") return RcptState::duplicate;
  throw std::runtime_error("unknown recipient state '" + s + "' in the database");
}

// Recipients compare equal when they differ only in the domain's case: domains are
// case-insensitive, local parts are the receiving server's business (RFC 5321 2.4).
std::string normalize_address(const std::string& a) {
  const auto at = a.rfind('@');
  if (at == std::string::npos) return a;
  return a.substr(0, at + 1) + text::to_lower(std::string_view(a).substr(at + 1));
}

std::vector<std::string> unique_recipients(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  out.reserve(in.size());
  for (const auto& r : in) {
    auto n = normalize_address(r);
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
  }
  return out;
}

// SQLite stores signed 64-bit integers; sizes never come near 2^63.
std::int64_t to_db(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t from_db(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

// LIMIT -1 means "no limit" to SQLite; callers pass <= 0 for "all".
int sql_limit(int limit) { return limit > 0 ? limit : -1; }

// updated_at is for display only; the calls that set it outside enqueue take no clock argument.
UnixTime wall_now() { return static_cast<UnixTime>(std::time(nullptr)); }

void bind_one(SQLite::Statement& s, int i, const std::string& v) { s.bind(i, v); }
void bind_one(SQLite::Statement& s, int i, const char* v) { s.bind(i, v); }
void bind_one(SQLite::Statement& s, int i, std::int64_t v) { s.bind(i, v); }
void bind_one(SQLite::Statement& s, int i, int v) { s.bind(i, v); }
void bind_one(SQLite::Statement& s, int i, std::nullptr_t) { s.bind(i); }  // NULL

template <class... A>
void bind_all([[maybe_unused]] SQLite::Statement& s, const A&... args) {
  int i = 0;
  (bind_one(s, ++i, args), ...);
  (void)i;
}

// A cached statement must be reset after use, or it keeps a read snapshot open and blocks
// checkpoints (and, mid-transaction, the next use of the same statement).
struct ResetOnExit {
  SQLite::Statement& s;
  ~ResetOnExit() { s.tryReset(); }
};

// The columns read_message() expects, in its order; pasted into the SELECTs at compile time so
// each statement stays a literal (the statement cache keys on it).
#define PB_MESSAGE_COLUMNS                                                                     \
  "id, route, account, uidl, sender, spool_name, subject, message_id, size, state, attempts, " \
  "created_at, next_attempt, last_reply, envid, ret, is_bounce, auth_user, delay_notified"

QueuedMessage read_message(const SQLite::Statement& s) {
  QueuedMessage m;
  m.id = s.getColumn(0).getInt64();
  m.route = s.getColumn(1).getString();
  m.account = s.getColumn(2).getString();
  m.uidl = s.getColumn(3).getString();
  m.sender = s.getColumn(4).getString();
  m.spool_name = s.getColumn(5).getString();
  m.subject = s.getColumn(6).getString();
  m.message_id = s.getColumn(7).getString();
  m.size = from_db(s.getColumn(8).getInt64());
  m.state = msg_state_from(s.getColumn(9).getString());
  m.attempts = s.getColumn(10).getInt();
  m.created_at = s.getColumn(11).getInt64();
  m.next_attempt = s.getColumn(12).getInt64();
  m.last_reply = s.getColumn(13).getString();
  m.envid = s.getColumn(14).getString();
  m.ret = s.getColumn(15).getString();
  m.is_bounce = s.getColumn(16).getInt() != 0;
  m.auth_user = s.getColumn(17).getString();
  m.delay_notified = s.getColumn(18).getInt() != 0;
  return m;
}

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

// ",fetch,send," for the instr() test in find_events: one cached statement serves every filter.
std::string kind_list(const std::vector<EventKind>& kinds) {
  if (kinds.empty()) return "";
  std::string out = ",";
  for (auto k : kinds) out += std::string(to_string(k)) + ",";
  return out;
}

}  // namespace

const char* to_string(MsgState s) {
  switch (s) {
    case MsgState::queued: return "queued";
    case MsgState::delivered: return "delivered";
    case MsgState::failed: return "failed";
    case MsgState::held: return "held";
  }
  return "unknown";
}

const char* to_string(RcptState s) {
  switch (s) {
    case RcptState::pending: return "pending";
    case RcptState::delivered: return "delivered";
    case RcptState::failed: return "failed";
    case RcptState::redirected: return "redirected";
    case RcptState::duplicate: return "duplicate";
  }
  return "unknown";
}

// --- connection and statement cache ----------------------------------------------------------

struct Store::Impl {
  explicit Impl(const std::filesystem::path& file)
      : db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOFOLLOW, kBusyTimeoutMs) {}

  // Prepared once per connection, keyed by the SQL literal (static storage, so the view stays valid).
  SQLite::Statement& prepare(const char* sql) {
    auto it = cache.find(sql);
    if (it == cache.end()) it = cache.emplace(sql, std::make_unique<SQLite::Statement>(db, sql)).first;
    return *it->second;
  }

  // Runs a statement that returns no rows; returns the number of rows changed.
  template <class... A>
  int exec(const char* sql, const A&... args) {
    auto& s = prepare(sql);
    ResetOnExit reset{s};
    bind_all(s, args...);
    return s.exec();
  }

  // Calls row(statement) for every result row.
  template <class F, class... A>
  void each(const char* sql, F&& row, const A&... args) {
    auto& s = prepare(sql);
    ResetOnExit reset{s};
    bind_all(s, args...);
    while (s.executeStep()) row(static_cast<const SQLite::Statement&>(s));
  }

  // First column of the first row, or nullopt when there is no row or it is NULL.
  template <class... A>
  std::optional<std::int64_t> scalar(const char* sql, const A&... args) {
    auto& s = prepare(sql);
    ResetOnExit reset{s};
    bind_all(s, args...);
    if (!s.executeStep() || s.isColumnNull(0)) return std::nullopt;
    return s.getColumn(0).getInt64();
  }

  std::vector<Recipient> recipients(MessageId id) {
    std::vector<Recipient> out;
    each(
        "SELECT address, state, reply, notify, orcpt FROM recipients WHERE msg_id = ? ORDER BY rowid",
        [&](const SQLite::Statement& s) {
          out.push_back({s.getColumn(0).getString(), rcpt_state_from(s.getColumn(1).getString()),
                         s.getColumn(2).getString(), s.getColumn(3).getString(), s.getColumn(4).getString()});
        },
        id);
    return out;
  }

  // Messages from a SELECT of PB_MESSAGE_COLUMNS, each with its recipients.
  template <class... A>
  std::vector<QueuedMessage> messages(const char* sql, const A&... args) {
    std::vector<QueuedMessage> out;
    each(sql, [&](const SQLite::Statement& s) { out.push_back(read_message(s)); }, args...);
    for (auto& m : out) m.recipients = recipients(m.id);
    return out;
  }

  // Write transactions take the lock up front (BEGIN IMMEDIATE): a deferred transaction that
  // upgrades to writing can fail with SQLITE_BUSY at once, bypassing busy_timeout.
  SQLite::Transaction write_tx() { return SQLite::Transaction(db, SQLite::TransactionBehavior::IMMEDIATE); }
  // Reads of several tables see one snapshot, even while the CLI changes the queue.
  SQLite::Transaction read_tx() { return SQLite::Transaction(db, SQLite::TransactionBehavior::DEFERRED); }

  void configure();
  void migrate();

  SQLite::Database db;
  // Declared after db: statements are finalized before the connection closes.
  std::unordered_map<std::string_view, std::unique_ptr<SQLite::Statement>> cache;
};

void Store::Impl::configure() {
  // WAL lets the CLI read while the service writes; synchronous=FULL makes each commit durable
  // (NORMAL in WAL mode can lose the last commits on power loss, breaking the no-loss rule).
  const std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
  if (text::to_lower(mode) != "wal")
    throw std::runtime_error("cannot switch the database to WAL mode (got '" + mode + "')");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA foreign_keys = ON");
  db.setBusyTimeout(kBusyTimeoutMs);
}

void Store::Impl::migrate() {
  const int latest = std::end(kMigrations)[-1].version;
  auto version = [&] { return db.execAndGet("PRAGMA user_version").getInt(); };
  if (version() == latest) return;  // the common case takes no write lock
  // An existing database about to be changed by a newer postbridge: keep a copy of it first, so
  // that going back to the older version stays possible (it refuses the newer schema).
  if (const int before = version(); before > 0 && before < latest) {
    const auto copy = std::filesystem::path(db.getFilename()).replace_extension(
        ".db.schema-" + std::to_string(before) + ".bak");
    fs::check_no_link(copy, "file");  // VACUUM INTO would create a dangling link's target
    if (!std::filesystem::exists(copy)) {
      db.exec("VACUUM INTO " + quote_sql(copy.string()));
      fs::fsync_path(copy);
      log::notice("database schema " + std::to_string(before) + " is upgraded to " + std::to_string(latest) +
                  "; the old database is kept as " + copy.string());
    }
  }

  auto tx = write_tx();
  const int current = version();  // re-read under the lock: another process may have migrated
  if (current > latest)
    throw std::runtime_error("the database has schema version " + std::to_string(current) +
                             " but this postbridge knows only up to " + std::to_string(latest) +
                             "; use the newer postbridge or restore a backup");
  for (const auto& m : kMigrations) {
    if (m.version <= current) continue;
    db.exec(m.sql);
    db.exec("PRAGMA user_version = " + std::to_string(m.version));
  }
  tx.commit();
}

// --- Store ---------------------------------------------------------------------------------

Store::Store(const std::filesystem::path& state_dir)
    : state_dir_(state_dir), spool_dir_(state_dir / "spool") {
  // Only new folders get 0750: an admin's own choice of mode on existing ones is kept. The state
  // folder may be an admin's link; spool and the database files are ours, never links.
  if (!std::filesystem::exists(state_dir_)) fs::ensure_dir(state_dir_, 0750);
  fs::ensure_dir(spool_dir_, 0750);
  const auto file = state_dir_ / "postbridge.db";
  // SQLite's OPEN_NOFOLLOW covers the database file only; its journals are opened by name.
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::check_no_link(file.string() + suffix, "file");
  try {
    impl_ = std::make_unique<Impl>(file);
    impl_->configure();
    impl_->migrate();
  } catch (const std::runtime_error& e) {  // SQLite errors and ours: name the file for the admin
    throw std::runtime_error("database " + file.string() + ": " + e.what());
  }
}

Store::~Store() = default;

// --- inbound bookkeeping -------------------------------------------------------------------

std::unordered_set<std::string> Store::known_uidls(const std::string& account) {
  std::unordered_set<std::string> out;
  impl_->each(
      "SELECT uidl FROM uidls WHERE account = ?",
      [&](const SQLite::Statement& s) { out.insert(s.getColumn(0).getString()); }, account);
  return out;
}

namespace {
void validate_new(const NewMessage& m, const std::vector<std::string>& rcpts) {
  if (rcpts.empty() && m.done_recipients.empty()) throw std::invalid_argument("enqueue: message without recipients");
  if (m.spool_name.empty()) throw std::invalid_argument("enqueue: message without a spool file");
  if (m.route.empty()) throw std::invalid_argument("enqueue: message without a route");
}
}  // namespace

// Inside an open write transaction.
MessageId Store::insert_message(const NewMessage& m, UnixTime now) {
  const auto rcpts = unique_recipients(m.recipients);
  validate_new(m, rcpts);
  auto& db = *impl_;
  if (!m.uidl.empty() &&
      db.scalar("SELECT 1 FROM uidls WHERE account = ? AND uidl = ?", m.account, m.uidl))
    throw std::logic_error("enqueue: UIDL '" + m.uidl + "' of account '" + m.account +
                           "' is already recorded (a message must never be fetched twice)");

  // Held (a loop) waits for the admin; nothing pending (every recipient a duplicate) is done now.
  const char* state = !m.hold_reason.empty() ? "held" : rcpts.empty() ? "delivered" : "queued";
  const std::string& reply = !m.hold_reason.empty() ? m.hold_reason
                             : rcpts.empty()         ? m.done_recipients.front().reply
                                                     : std::string();
  db.exec(
      "INSERT INTO messages (route, account, uidl, sender, spool_name, size, subject, message_id, "
      "state, attempts, created_at, next_attempt, last_reply, updated_at, envid, ret, is_bounce, auth_user) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
      m.route, m.account, m.uidl, m.sender, m.spool_name, to_db(m.size), m.subject, m.message_id, state,
      now, now, reply, now, m.envid, m.ret, m.is_bounce ? 1 : 0, m.auth_user);
  const MessageId id = db.db.getLastInsertRowid();
  // DSN parameters travel with the first occurrence of each recipient.
  for (const auto& r : rcpts) {
    std::string notify, orcpt;
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
      if (normalize_address(m.recipients[i]) != r) continue;
      if (i < m.notify.size()) notify = m.notify[i];
      if (i < m.orcpt.size()) orcpt = m.orcpt[i];
      break;
    }
    db.exec("INSERT INTO recipients (msg_id, address, state, notify, orcpt) VALUES (?, ?, 'pending', ?, ?)", id, r,
            notify, orcpt);
  }

  for (const auto& r : m.done_recipients) {
    if (std::find(rcpts.begin(), rcpts.end(), normalize_address(r.address)) != rcpts.end()) continue;
    db.exec("INSERT INTO recipients (msg_id, address, state, reply) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (msg_id, address) DO NOTHING",
            id, normalize_address(r.address), to_string(r.state), r.reply);
  }
  if (!m.body_digest.empty() && !m.message_id.empty())
    for (const auto& r : rcpts)
      db.exec("INSERT INTO seen_messages (message_id, body_digest, address, msg_id, time) VALUES (?, ?, ?, ?, ?) "
              "ON CONFLICT (message_id, body_digest, address) DO UPDATE SET msg_id = excluded.msg_id, time = excluded.time",
              m.message_id, m.body_digest, text::to_lower(r), id, now);

  if (!m.uidl.empty())
    db.exec(
        "INSERT INTO uidls (account, uidl, state, msg_id, size, first_seen) "
        "VALUES (?, ?, 'stored', ?, ?, ?)",
        m.account, m.uidl, id, to_db(m.size), now);
  return id;
}

MessageId Store::enqueue(const NewMessage& m, UnixTime now) {
  auto tx = impl_->write_tx();
  const MessageId id = insert_message(m, now);
  tx.commit();
  return id;
}

std::vector<MessageId> Store::enqueue_batch(const std::vector<std::pair<NewMessage, Event>>& items, UnixTime now) {
  std::vector<MessageId> ids;
  if (items.empty()) return ids;
  auto tx = impl_->write_tx();
  for (const auto& [m, e] : items) {
    ids.push_back(insert_message(m, now));
    Event logged = e;
    logged.message_id = ids.back();
    insert_event(logged);
  }
  tx.commit();
  return ids;
}

std::optional<MessageId> Store::find_duplicate(const std::string& message_id, const std::string& body_digest,
                                               const std::string& address, UnixTime since) {
  if (message_id.empty() || body_digest.empty()) return std::nullopt;
  return impl_->scalar(
      "SELECT msg_id FROM seen_messages WHERE message_id = ? AND body_digest = ? AND address = ? AND time >= ?",
      message_id, body_digest, text::to_lower(address), since);
}

void Store::prune_duplicates(UnixTime before) {
  auto tx = impl_->write_tx();
  impl_->exec("DELETE FROM seen_messages WHERE time < ?", before);
  tx.commit();
}

std::vector<MessageId> Store::due_fetched(const std::string& account, UnixTime now) {
  std::vector<MessageId> out;
  impl_->each("SELECT id FROM messages WHERE state = 'queued' AND account = ? AND uidl != '' AND next_attempt <= ? "
              "ORDER BY id",
              [&](const SQLite::Statement& s) { out.push_back(s.getColumn(0).getInt64()); }, account, now);
  return out;
}

void Store::snapshot_to(const std::filesystem::path& file) {
  if (std::filesystem::exists(file)) throw std::runtime_error(file.string() + " exists already");
  impl_->db.exec("VACUUM INTO " + quote_sql(file.string()));
  fs::fsync_path(file);
  fs::fsync_parent(file);
}

std::unordered_set<std::string> Store::spool_names_in_use() {
  std::unordered_set<std::string> out;
  impl_->each("SELECT spool_name FROM messages WHERE state <> 'delivered'",
              [&](const SQLite::Statement& s) { out.insert(s.getColumn(0).getString()); });
  return out;
}

bool Store::record_too_large(const std::string& account, const std::string& uidl, std::uint64_t size,
                             UnixTime now) {
  auto tx = impl_->write_tx();
  const int added = impl_->exec(
      "INSERT INTO uidls (account, uidl, state, msg_id, size, first_seen) "
      "VALUES (?, ?, 'too_large', NULL, ?, ?) ON CONFLICT (account, uidl) DO NOTHING",
      account, uidl, to_db(size), now);
  tx.commit();
  return added > 0;
}

std::vector<std::string> Store::uidls_to_delete(const std::string& account, bool keep, int keep_days,
                                                UnixTime now) {
  std::vector<std::string> out;
  if (keep && keep_days <= 0) return out;  // keep forever
  // Without keep every finished message qualifies: first_seen <= INT64_MAX always holds.
  const std::int64_t cutoff = keep ? now - static_cast<std::int64_t>(keep_days) * kSecondsPerDay
                                   : std::numeric_limits<std::int64_t>::max();
  // Only 'stored' UIDLs whose message is finished. 'too_large' ones stay for the admin.
  impl_->each(
      "SELECT u.uidl FROM uidls u JOIN messages m ON m.id = u.msg_id "
      "WHERE u.account = ? AND u.state = 'stored' AND m.state IN ('delivered', 'failed') "
      "AND u.first_seen <= ? ORDER BY u.first_seen, u.uidl",
      [&](const SQLite::Statement& s) { out.push_back(s.getColumn(0).getString()); }, account, cutoff);
  return out;
}

void Store::mark_deleted(const std::string& account, const std::vector<std::string>& uidls) {
  if (uidls.empty()) return;
  auto tx = impl_->write_tx();
  for (const auto& u : uidls)
    impl_->exec("UPDATE uidls SET state = 'deleted' WHERE account = ? AND uidl = ?", account, u);
  tx.commit();
}

void Store::forget_vanished(const std::string& account, const std::unordered_set<std::string>& on_server) {
  auto tx = impl_->write_tx();
  std::vector<std::string> gone;
  // 'stored' rows are never forgotten: their message may still be queued, and the row is what
  // stops a second fetch if the provider lists the UIDL again.
  impl_->each(
      "SELECT uidl FROM uidls WHERE account = ? AND state IN ('deleted', 'too_large')",
      [&](const SQLite::Statement& s) {
        auto u = s.getColumn(0).getString();
        if (!on_server.contains(u)) gone.push_back(std::move(u));
      },
      account);
  for (const auto& u : gone)
    impl_->exec("DELETE FROM uidls WHERE account = ? AND uidl = ? AND state IN ('deleted', 'too_large')",
                account, u);
  tx.commit();
}

// --- delivery ------------------------------------------------------------------------------

std::vector<QueuedMessage> Store::due(const std::string& route, UnixTime now, int limit) {
  auto tx = impl_->read_tx();
  auto out = impl_->messages(
      "SELECT " PB_MESSAGE_COLUMNS " FROM messages "
      "WHERE state = 'queued' AND route = ? AND next_attempt <= ? "
      "ORDER BY next_attempt, id LIMIT ?",
      route, now, sql_limit(limit));
  tx.commit();
  return out;
}

std::optional<UnixTime> Store::next_due(const std::string& route) {
  return impl_->scalar("SELECT MIN(next_attempt) FROM messages WHERE state = 'queued' AND route = ?", route);
}

void Store::record_attempts(const std::vector<std::pair<MessageId, UnixTime>>& attempts) {
  auto tx = impl_->write_tx();
  for (const auto& [id, retry_at] : attempts)
    impl_->exec("UPDATE messages SET attempts = attempts + 1, next_attempt = ?, attempt_open = 1, updated_at = ? "
                "WHERE id = ?",
                retry_at, wall_now(), id);
  tx.commit();
}

void Store::release_attempts(const std::vector<MessageId>& ids, UnixTime now) {
  if (ids.empty()) return;
  auto tx = impl_->write_tx();
  for (auto id : ids)
    impl_->exec("UPDATE messages SET attempts = MAX(attempts - 1, 0), next_attempt = ?, attempt_open = 0 "
                "WHERE id = ? AND attempt_open = 1",
                now, id);
  tx.commit();
}

int Store::recover_interrupted(UnixTime now) {
  auto tx = impl_->write_tx();
  int n = impl_->exec("UPDATE messages SET next_attempt = ?, attempt_open = 0 WHERE attempt_open = 1 AND state = 'queued'",
                      now);
  impl_->exec("UPDATE messages SET attempt_open = 0 WHERE attempt_open = 1");
  tx.commit();
  return n;
}

void Store::record_attempt(MessageId id, UnixTime retry_at) {
  auto tx = impl_->write_tx();
  const int n = impl_->exec(
      "UPDATE messages SET attempts = attempts + 1, next_attempt = ?, attempt_open = 1, updated_at = ? WHERE id = ?",
      retry_at, wall_now(), id);
  if (n == 0) throw std::out_of_range("record_attempt: no message " + std::to_string(id));
  tx.commit();
}

MsgState Store::record_results(MessageId id, const std::vector<DeliveryResult>& results,
                               const std::string& last_reply, UnixTime next_attempt_if_pending,
                               const Event* event, const NewMessage* spawn, MessageId* spawned) {
  auto& db = *impl_;
  auto tx = db.write_tx();
  std::optional<MsgState> current;
  db.each("SELECT state FROM messages WHERE id = ?",
          [&](const SQLite::Statement& s) { current = msg_state_from(s.getColumn(0).getString()); }, id);
  if (!current) throw std::out_of_range("record_results: no message " + std::to_string(id));
  const bool held = *current == MsgState::held;

  // Only pending recipients change: a delivered recipient must never become pending again (a
  // second copy) and a failed one was already reported to the sender.
  for (const auto& r : results)
    db.exec(
        "UPDATE recipients SET state = ?, reply = ? "
        "WHERE msg_id = ? AND address = ? AND state = 'pending'",
        to_string(r.state), r.reply, id, normalize_address(r.address));

  std::int64_t pending = 0, failed = 0;
  db.each(
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
    db.exec("UPDATE messages SET state = ?, next_attempt = ?, last_reply = ?, attempt_open = 0, updated_at = ? "
            "WHERE id = ?",
            to_string(next), next_attempt_if_pending, last_reply, wall_now(), id);
  } else {
    next = failed > 0 ? MsgState::failed : MsgState::delivered;
    db.exec("UPDATE messages SET state = ?, last_reply = ?, attempt_open = 0, updated_at = ? WHERE id = ?",
            to_string(next), last_reply, wall_now(), id);
  }
  if (spawn) {
    MessageId copy = insert_message(*spawn, wall_now());
    if (spawned) *spawned = copy;
  }
  if (event) insert_event(*event);
  tx.commit();
  return next;
}

std::optional<QueuedMessage> Store::get(MessageId id) {
  auto tx = impl_->read_tx();
  auto found = impl_->messages(
      "SELECT " PB_MESSAGE_COLUMNS " FROM messages WHERE id = ?",
      id);
  tx.commit();
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::vector<QueuedMessage> Store::list(int limit) {
  auto tx = impl_->read_tx();
  auto out = impl_->messages(
      "SELECT " PB_MESSAGE_COLUMNS " FROM messages ORDER BY id DESC LIMIT ?",
      sql_limit(limit));
  tx.commit();
  return out;
}

int Store::count(MsgState s) {
  return static_cast<int>(
      impl_->scalar("SELECT COUNT(*) FROM messages WHERE state = ?", to_string(s)).value_or(0));
}

int Store::count_queued_for_account(const std::string& account) {
  return static_cast<int>(
      impl_->scalar("SELECT COUNT(*) FROM messages WHERE account = ? AND state = 'queued'", account)
          .value_or(0));
}

// --- admin actions (queue tools, status page) ------------------------------------------------

bool Store::retry_now(MessageId id, UnixTime now) {
  auto tx = impl_->write_tx();
  // A failed message gets its failed recipients back: the admin fixed the cause.
  int n = impl_->exec("UPDATE messages SET state = 'queued', next_attempt = ?, updated_at = ? "
                      "WHERE id = ? AND state IN ('queued', 'failed', 'held')",
                      now, wall_now(), id);
  if (n > 0)
    impl_->exec("UPDATE recipients SET state = 'pending' WHERE msg_id = ? AND state = 'failed'", id);
  tx.commit();
  return n > 0;
}

int Store::retry_all(UnixTime now) {
  auto tx = impl_->write_tx();
  int n = impl_->exec("UPDATE messages SET next_attempt = ?, updated_at = ? WHERE state = 'queued'", now, wall_now());
  tx.commit();
  return n;
}

bool Store::set_held(MessageId id, bool held) {
  auto tx = impl_->write_tx();
  int n = held ? impl_->exec("UPDATE messages SET state = 'held', updated_at = ? WHERE id = ? AND state = 'queued'",
                             wall_now(), id)
               // Released mail is due at once: the admin decided it should go now.
               : impl_->exec("UPDATE messages SET state = 'queued', next_attempt = ?, updated_at = ? "
                             "WHERE id = ? AND state = 'held'",
                             wall_now(), wall_now(), id);
  tx.commit();
  return n > 0;
}

std::optional<std::string> Store::remove(MessageId id) {
  auto tx = impl_->write_tx();
  std::optional<std::string> spool;
  impl_->each("SELECT spool_name FROM messages WHERE id = ?",
              [&](const SQLite::Statement& s) { spool = s.getColumn(0).getString(); }, id);
  if (spool) impl_->exec("DELETE FROM messages WHERE id = ?", id);
  tx.commit();
  return spool;
}

void Store::mark_delay_notified(MessageId id) {
  auto tx = impl_->write_tx();
  impl_->exec("UPDATE messages SET delay_notified = 1 WHERE id = ?", id);
  tx.commit();
}

std::vector<UnixTime> Store::send_times(const std::string& route, UnixTime since) {
  std::vector<UnixTime> out;
  impl_->each("SELECT time FROM events WHERE kind = ? AND route = ? "
              "AND count > 0 AND time >= ? ORDER BY time",
              [&](const SQLite::Statement& s) { out.push_back(s.getColumn(0).getInt64()); },
              std::string(to_string(EventKind::send)), route, since);
  return out;
}

std::int64_t Store::data_version() { return impl_->db.execAndGet("PRAGMA data_version").getInt64(); }

std::vector<std::pair<std::string, std::pair<std::string, int>>> Store::counts_by_route() {
  std::vector<std::pair<std::string, std::pair<std::string, int>>> out;
  impl_->each("SELECT route, state, COUNT(*) FROM messages WHERE state != 'delivered' GROUP BY route, state",
              [&](const SQLite::Statement& s) {
                out.push_back({s.getColumn(0).getString(), {s.getColumn(1).getString(), s.getColumn(2).getInt()}});
              });
  return out;
}

// --- log and account health ----------------------------------------------------------------

// Inside an open write transaction.
void Store::insert_event(const Event& e) {
  const auto insert = [&](auto msg_id) {
    impl_->exec(
        "INSERT INTO events (time, kind, account, route, msg_id, sender, recipients, subject, size, "
        "count, result, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        e.time, std::string(e.kind.str()), e.account, e.route, msg_id, e.sender, e.recipients, e.subject,
        to_db(e.size), e.count, std::string(e.result.str()), e.text);
  };
  if (e.message_id != 0)
    insert(e.message_id);
  else
    insert(nullptr);  // not about one message
}

void Store::add_event(const Event& e) {
  // The event log is a record, not the mail: when it cannot be written (a full disk), the caller
  // is in the middle of handling something that matters more, so this never throws.
  try {
    auto tx = impl_->write_tx();
    insert_event(e);
    tx.commit();
  } catch (const std::exception& ex) {
    log::error(std::string("could not write to the event log: ") + ex.what() + " (event: " + std::string(e.kind.str()) + " " +
               std::string(e.result.str()) + ")");
  }
}

bool is_storage_full(const std::exception& e) {
  if (const auto* se = dynamic_cast<const std::system_error*>(&e))
    return se->code() == std::errc::no_space_on_device || se->code().value() == EDQUOT;
  if (const auto* qe = dynamic_cast<const SQLite::Exception*>(&e)) return (qe->getErrorCode() & 0xff) == SQLITE_FULL;
  return false;
}

std::vector<Event> Store::events(int limit) {
  std::vector<Event> out;
  impl_->each(
      "SELECT time, kind, account, route, msg_id, sender, recipients, subject, size, count, result, text "
      "FROM events ORDER BY time DESC, id DESC LIMIT ?",
      [&](const SQLite::Statement& s) {
        Event e;
        e.time = s.getColumn(0).getInt64();
        e.kind = KindWord::parse(s.getColumn(1).getString());
        e.account = s.getColumn(2).getString();
        e.route = s.getColumn(3).getString();
        e.message_id = s.getColumn(4).getInt64();  // NULL reads as 0
        e.sender = s.getColumn(5).getString();
        e.recipients = s.getColumn(6).getString();
        e.subject = s.getColumn(7).getString();
        e.size = from_db(s.getColumn(8).getInt64());
        e.count = s.getColumn(9).getInt();
        e.result = ResultWord::parse(s.getColumn(10).getString());
        e.text = s.getColumn(11).getString();
        out.push_back(std::move(e));
      },
      sql_limit(limit));
  return out;
}

// --- status page queries ---------------------------------------------------------------------

std::vector<StoredEvent> Store::find_events(const EventFilter& f) {
  std::vector<StoredEvent> out;
  // Numbered parameters: each filter is off when its value is '' or 0. The rowid range keeps
  // paging cheap however long the log is.
  impl_->each(
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
      std::string(to_string(EventKind::error)), std::string(to_string(EventResult::ok)),
      std::string(to_string(EventResult::queued)));
  return out;
}

std::vector<StoredEvent> Store::events_after(std::int64_t after_id, int limit) {
  std::vector<StoredEvent> out;
  impl_->each("SELECT " PB_EVENT_COLUMNS " FROM events WHERE id > ? ORDER BY id LIMIT ?",
              [&](const SQLite::Statement& s) { out.push_back(read_stored_event(s)); }, after_id, sql_limit(limit));
  return out;
}

std::int64_t Store::last_event_id() { return impl_->scalar("SELECT MAX(id) FROM events").value_or(0); }

std::vector<EventTally> Store::tally_events(UnixTime since, int bucket_seconds) {
  std::vector<EventTally> out;
  impl_->each(
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

std::vector<QueuedMessage> Store::undelivered(const std::string& state, const std::string& route, int limit) {
  auto tx = impl_->read_tx();
  auto out = impl_->messages(
      "SELECT " PB_MESSAGE_COLUMNS " FROM messages "
      "WHERE state IN ('queued', 'held', 'failed') AND (?1 = '' OR state = ?1) AND (?2 = '' OR route = ?2) "
      "ORDER BY id LIMIT ?3",
      state, route, sql_limit(limit));
  tx.commit();
  return out;
}

int Store::count_undelivered(const std::string& state, const std::string& route) {
  return static_cast<int>(impl_->scalar("SELECT COUNT(*) FROM messages "
                                        "WHERE state IN ('queued', 'held', 'failed') AND (?1 = '' OR state = ?1) "
                                        "AND (?2 = '' OR route = ?2)",
                                        state, route)
                              .value_or(0));
}

void Store::save_account_state(const AccountState& a) {
  auto tx = impl_->write_tx();
  impl_->exec(
      "INSERT INTO account_state (name, state, last_poll, last_success, next_poll, last_error, failures) "
      "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET state = excluded.state, "
      "last_poll = excluded.last_poll, last_success = excluded.last_success, "
      "next_poll = excluded.next_poll, last_error = excluded.last_error, failures = excluded.failures",
      a.name, a.state, a.last_poll, a.last_success, a.next_poll, a.last_error, a.failures);
  tx.commit();
}

std::optional<AccountState> Store::account_state(const std::string& name) {
  std::optional<AccountState> out;
  impl_->each(
      "SELECT name, state, last_poll, last_success, next_poll, last_error, failures "
      "FROM account_state WHERE name = ?",
      [&](const SQLite::Statement& s) {
        AccountState a;
        a.name = s.getColumn(0).getString();
        a.state = s.getColumn(1).getString();
        a.last_poll = s.getColumn(2).getInt64();
        a.last_success = s.getColumn(3).getInt64();
        a.next_poll = s.getColumn(4).getInt64();
        a.last_error = s.getColumn(5).getString();
        a.failures = s.getColumn(6).getInt();
        out = std::move(a);
      },
      name);
  return out;
}

#undef PB_MESSAGE_COLUMNS
#undef PB_EVENT_COLUMNS

}  // namespace pb::queue
