// Opening the database: WAL, synchronous=FULL, foreign keys, and the schema steps of schema.cpp
// (with a copy of the old file kept before an upgrade).
#include "queue/database.hpp"

#include "queue/schema.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <stdexcept>

namespace pb::queue::db {

namespace {
constexpr int kBusyTimeoutMs = 5000;  // the CLI may hold the write lock briefly while we run
}  // namespace

std::string quote_sql(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

Database::Database(const std::filesystem::path& file)
    : db_(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOFOLLOW, kBusyTimeoutMs) {
  configure();
  migrate();
}

SQLite::Statement& Database::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<SQLite::Statement>(db_, sql)).first;
  return *it->second;
}

void Database::configure() {
  // WAL lets the CLI read while the service writes; synchronous=FULL makes each commit durable
  // (NORMAL in WAL mode can lose the last commits on power loss, breaking the no-loss rule).
  const std::string mode = db_.execAndGet("PRAGMA journal_mode = WAL").getString();
  if (text::to_lower(mode) != "wal")
    throw std::runtime_error("cannot switch the database to WAL mode (got '" + mode + "')");
  db_.exec("PRAGMA synchronous = FULL");
  db_.exec("PRAGMA foreign_keys = ON");
  db_.setBusyTimeout(kBusyTimeoutMs);
}

void Database::migrate() {
  const auto steps = migrations();
  const int latest = steps.back().version;
  auto version = [&] { return db_.execAndGet("PRAGMA user_version").getInt(); };
  if (version() == latest) return;  // the common case takes no write lock
  // An existing database about to be changed by a newer postbridge: keep a copy of it first, so
  // that going back to the older version stays possible (it refuses the newer schema).
  if (const int before = version(); before > 0 && before < latest) {
    const auto copy = std::filesystem::path(db_.getFilename()).replace_extension(
        ".db.schema-" + std::to_string(before) + ".bak");
    fs::check_no_link(copy, "file");  // VACUUM INTO would create a dangling link's target
    if (!std::filesystem::exists(copy)) {
      db_.exec("VACUUM INTO " + quote_sql(copy.string()));
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
  for (const auto& m : steps) {
    if (m.version <= current) continue;
    db_.exec(m.sql);
    db_.exec("PRAGMA user_version = " + std::to_string(m.version));
  }
  tx.commit();
}

}  // namespace pb::queue::db
