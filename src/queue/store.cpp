// Store: opens the state folder's database and spool, and hands out the parts that share the
// connection. Promise: every public call of a part is one transaction; once it returns, its change
// survives kill -9 and power loss.
#include "queue/store.hpp"

#include "queue/database.hpp"
#include "util/fs.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace pb::queue {

Store::Store(const std::filesystem::path& state_dir) : state_dir_(state_dir), spool_dir_(state_dir / "spool") {
  // Only new folders get 0750: an admin's own choice of mode on existing ones is kept. The state
  // folder may be an admin's link; spool and the database files are ours, never links.
  if (!std::filesystem::exists(state_dir_)) fs::ensure_dir(state_dir_, 0750);
  fs::ensure_dir(spool_dir_, 0750);
  const auto file = state_dir_ / "postbridge.db";
  // SQLite's OPEN_NOFOLLOW covers the database file only; its journals are opened by name.
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::check_no_link(file.string() + suffix, "file");
  try {
    db_ = std::make_unique<db::Database>(file);
  } catch (const std::runtime_error& e) {  // SQLite errors and ours: name the file for the admin
    throw std::runtime_error("database " + file.string() + ": " + e.what());
  }
  ledger_ = std::make_unique<Ledger>(*db_);
  events_ = std::make_unique<EventLog>(*db_);
  queue_ = std::make_unique<QueueTable>(*db_, *ledger_, *events_);
  accounts_ = std::make_unique<AccountStates>(*db_);
  alerts_ = std::make_unique<AlertTable>(*db_);
}

Store::~Store() = default;

void Store::snapshot_to(const std::filesystem::path& file) {
  if (std::filesystem::exists(file)) throw std::runtime_error(file.string() + " exists already");
  db_->connection().exec("VACUUM INTO " + db::quote_sql(file.string()));
  fs::fsync_path(file);
  fs::fsync_parent(file);
}

std::int64_t Store::data_version() { return db_->connection().execAndGet("PRAGMA data_version").getInt64(); }

bool is_storage_full(const std::exception& e) {
  if (const auto* se = dynamic_cast<const std::system_error*>(&e))
    return se->code() == std::errc::no_space_on_device || se->code().value() == EDQUOT;
  if (const auto* qe = dynamic_cast<const SQLite::Exception*>(&e)) return (qe->getErrorCode() & 0xff) == SQLITE_FULL;
  return false;
}

}  // namespace pb::queue
