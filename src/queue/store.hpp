// The durable state: SQLite (WAL, synchronous=FULL) in STATE_DIR/postbridge.db plus spool files.
// One queue for every message, with a route ("local" = the office server). The no-loss rule:
// a row is committed only after its spool file is durable; a UIDL is offered for DELE only when
// its message was delivered (or failed permanently, with the spool file kept).
// Times are Unix seconds passed in by the caller (tests use a fake clock).
//
// Store owns the one connection and exposes its parts: ledger() (UIDLs, duplicate check),
// queue() (messages and admin actions), events() (the log), accounts() (poll health) and alerts()
// (what the admin was told); callers use the part they mean, so each part's header says
// everything about it.
#pragma once
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "queue/account_state.hpp"
#include "queue/alert_table.hpp"
#include "queue/event.hpp"
#include "queue/event_log.hpp"
#include "queue/ledger.hpp"
#include "queue/message.hpp"
#include "queue/queue_table.hpp"

namespace pb::queue {

namespace db {
class Database;
}

// True when `e` says the disk (or the quota) is full: ENOSPC/EDQUOT from a spool write, or
// SQLITE_FULL from the database. Such a failure is the disk's, not the message's.
bool is_storage_full(const std::exception& e);

class Store {
 public:
  // Opens or creates STATE_DIR/postbridge.db and STATE_DIR/spool/ (mode 0750), runs migrations.
  // A symbolic link in place of spool/ or a database file is fs::LinkRefused, never followed.
  explicit Store(const std::filesystem::path& state_dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& spool_dir() const { return spool_dir_; }

  Ledger& ledger() { return *ledger_; }
  QueueTable& queue() { return *queue_; }
  EventLog& events() { return *events_; }
  AccountStates& accounts() { return *accounts_; }
  AlertTable& alerts() { return *alerts_; }

  // A consistent copy of the database in `file` (which must not exist), taken in one read
  // transaction while others may write (VACUUM INTO); fsync'd. For `postbridge backup`.
  void snapshot_to(const std::filesystem::path& file);
  // Changes when ANOTHER connection (the CLI) committed: PRAGMA data_version.
  std::int64_t data_version();

 private:
  std::filesystem::path state_dir_, spool_dir_;
  std::unique_ptr<db::Database> db_;  // declared first: the parts below refer to it
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<QueueTable> queue_;
  std::unique_ptr<AccountStates> accounts_;
  std::unique_ptr<AlertTable> alerts_;
};

}  // namespace pb::queue
