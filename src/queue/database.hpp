// The one SQLite connection every part of the Store shares (WAL, synchronous=FULL), with its cache
// of prepared statements and the small helpers the parts build their queries from.
// Promise: a write transaction takes the lock up front; a cached statement is reset after each use.
#pragma once
#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pb::queue::db {

// SQLite stores signed 64-bit integers; sizes never come near 2^63.
inline std::int64_t to_db(std::uint64_t v) { return static_cast<std::int64_t>(v); }
inline std::uint64_t from_db(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

// LIMIT -1 means "no limit" to SQLite; callers pass <= 0 for "all".
inline int sql_limit(int limit) { return limit > 0 ? limit : -1; }

// updated_at is for display only; the calls that set it outside enqueue take no clock argument.
inline std::int64_t wall_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// A string as an SQL literal ('it''s'): VACUUM INTO takes an expression, and a file name is data.
std::string quote_sql(const std::string& s);

inline void bind_one(SQLite::Statement& s, int i, const std::string& v) { s.bind(i, v); }
inline void bind_one(SQLite::Statement& s, int i, std::string_view v) { s.bind(i, std::string(v)); }
inline void bind_one(SQLite::Statement& s, int i, const char* v) { s.bind(i, v); }
inline void bind_one(SQLite::Statement& s, int i, std::int64_t v) { s.bind(i, v); }
inline void bind_one(SQLite::Statement& s, int i, int v) { s.bind(i, v); }
inline void bind_one(SQLite::Statement& s, int i, std::nullptr_t) { s.bind(i); }  // NULL

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

class Database {
 public:
  // Opens (or creates) the file, switches to WAL and runs the schema migrations.
  explicit Database(const std::filesystem::path& file);

  // Prepared once per connection, keyed by the SQL literal (static storage, so the view stays valid).
  SQLite::Statement& prepare(const char* sql);

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

  // Write transactions take the lock up front (BEGIN IMMEDIATE): a deferred transaction that
  // upgrades to writing can fail with SQLITE_BUSY at once, bypassing busy_timeout.
  SQLite::Transaction write_tx() { return SQLite::Transaction(db_, SQLite::TransactionBehavior::IMMEDIATE); }
  // Reads of several tables see one snapshot, even while the CLI changes the queue.
  SQLite::Transaction read_tx() { return SQLite::Transaction(db_, SQLite::TransactionBehavior::DEFERRED); }

  std::int64_t last_insert_rowid() { return db_.getLastInsertRowid(); }
  SQLite::Database& connection() { return db_; }

 private:
  void configure();
  void migrate();

  SQLite::Database db_;
  // Declared after db_: statements are finalized before the connection closes.
  std::unordered_map<std::string_view, std::unique_ptr<SQLite::Statement>> cache_;
};

}  // namespace pb::queue::db
