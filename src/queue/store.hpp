// The durable state: SQLite (WAL, synchronous=FULL) in STATE_DIR/postbridge.db plus spool files.
// One queue for every message, with a route ("local" = the office server). The no-loss rule:
// a row is committed only after its spool file is durable; a UIDL is offered for DELE only when
// its message was delivered (or failed permanently, with the spool file kept).
// Times are Unix seconds passed in by the caller (tests use a fake clock).
//
// Store owns the one connection and exposes its parts: ledger() (UIDLs, duplicate check),
// queue() (messages and admin actions), events() (the log) and accounts() (poll health). The
// forwarding calls below keep the service's call sites as they were; new code uses the parts.
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

  // A consistent copy of the database in `file` (which must not exist), taken in one read
  // transaction while others may write (VACUUM INTO); fsync'd. For `postbridge backup`.
  void snapshot_to(const std::filesystem::path& file);
  // Changes when ANOTHER connection (the CLI) committed: PRAGMA data_version.
  std::int64_t data_version();

  // --- forwarding to the parts (documented there) ----------------------------------------
  std::unordered_set<std::string> known_uidls(const std::string& account) { return ledger_->known_uidls(account); }
  bool record_too_large(const std::string& account, const std::string& uidl, std::uint64_t size, UnixTime now) {
    return ledger_->record_too_large(account, uidl, size, now);
  }
  std::vector<std::string> uidls_to_delete(const std::string& account, bool keep, int keep_days, UnixTime now) {
    return ledger_->uidls_to_delete(account, keep, keep_days, now);
  }
  void mark_deleted(const std::string& account, const std::vector<std::string>& uidls) {
    ledger_->mark_deleted(account, uidls);
  }
  void forget_vanished(const std::string& account, const std::unordered_set<std::string>& on_server) {
    ledger_->forget_vanished(account, on_server);
  }
  std::optional<MessageId> find_duplicate(const std::string& message_id, const std::string& body_digest,
                                          const std::string& address, UnixTime since) {
    return ledger_->find_duplicate(message_id, body_digest, address, since);
  }
  void prune_duplicates(UnixTime before) { ledger_->prune_duplicates(before); }

  MessageId enqueue(const NewMessage& m, UnixTime now) { return queue_->enqueue(m, now); }
  std::vector<MessageId> enqueue_batch(const std::vector<std::pair<NewMessage, Event>>& items, UnixTime now) {
    return queue_->enqueue_batch(items, now);
  }
  std::vector<MessageId> due_fetched(const std::string& account, UnixTime now) {
    return queue_->due_fetched(account, now);
  }
  std::unordered_set<std::string> spool_names_in_use() { return queue_->spool_names_in_use(); }
  std::vector<QueuedMessage> due(const std::string& route, UnixTime now, int limit) {
    return queue_->due(route, now, limit);
  }
  std::optional<UnixTime> next_due(const std::string& route) { return queue_->next_due(route); }
  void record_attempt(MessageId id, UnixTime retry_at) { queue_->record_attempt(id, retry_at); }
  int recover_interrupted(UnixTime now) { return queue_->recover_interrupted(now); }
  void record_attempts(const std::vector<std::pair<MessageId, UnixTime>>& attempts) {
    queue_->record_attempts(attempts);
  }
  void release_attempts(const std::vector<MessageId>& ids, UnixTime now) { queue_->release_attempts(ids, now); }
  MsgState record_results(MessageId id, const std::vector<DeliveryResult>& results, const std::string& last_reply,
                          UnixTime next_attempt_if_pending, const Event* event = nullptr,
                          const NewMessage* spawn = nullptr, MessageId* spawned = nullptr) {
    return queue_->record_results(id, results, last_reply, next_attempt_if_pending, event, spawn, spawned);
  }
  std::optional<QueuedMessage> get(MessageId id) { return queue_->get(id); }
  std::vector<QueuedMessage> list(int limit) { return queue_->list(limit); }
  int count(MsgState s) { return queue_->count(s); }
  int count_queued_for_account(const std::string& account) { return queue_->count_queued_for_account(account); }
  std::vector<std::pair<std::string, std::pair<std::string, int>>> counts_by_route() {
    return queue_->counts_by_route();
  }
  std::vector<QueuedMessage> undelivered(const std::string& state, const std::string& route, int limit) {
    return queue_->undelivered(state, route, limit);
  }
  int count_undelivered(const std::string& state, const std::string& route) {
    return queue_->count_undelivered(state, route);
  }
  bool retry_now(MessageId id, UnixTime now) { return queue_->retry_now(id, now); }
  int retry_all(UnixTime now) { return queue_->retry_all(now); }
  bool set_held(MessageId id, bool held) { return queue_->set_held(id, held); }
  std::optional<std::string> remove(MessageId id) { return queue_->remove(id); }
  void mark_delay_notified(MessageId id) { queue_->mark_delay_notified(id); }

  void add_event(const Event& e) { events_->add(e); }
  std::vector<UnixTime> send_times(const std::string& route, UnixTime since) {
    return events_->send_times(route, since);
  }
  std::vector<StoredEvent> find_events(const EventFilter& f) { return events_->find(f); }
  std::vector<StoredEvent> events_after(std::int64_t after_id, int limit) { return events_->after(after_id, limit); }
  std::int64_t last_event_id() { return events_->last_id(); }
  std::vector<EventTally> tally_events(UnixTime since, int bucket_seconds = 0) {
    return events_->tally(since, bucket_seconds);
  }

  void save_account_state(const AccountState& s) { accounts_->save(s); }
  std::optional<AccountState> account_state(const std::string& name) { return accounts_->find(name); }

 private:
  std::filesystem::path state_dir_, spool_dir_;
  std::unique_ptr<db::Database> db_;  // declared first: the parts below refer to it
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<QueueTable> queue_;
  std::unique_ptr<AccountStates> accounts_;
};

}  // namespace pb::queue
