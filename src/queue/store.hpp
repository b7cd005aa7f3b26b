// The durable state: SQLite (WAL, synchronous=FULL) in STATE_DIR/postbridge.db plus spool files.
// One queue for every message, with a route ("local" = the office server). The no-loss rule:
// a row is committed only after its spool file is durable; a UIDL is offered for DELE only when
// its message was delivered (or failed permanently, with the spool file kept).
// Times are Unix seconds passed in by the caller (tests use a fake clock).
#pragma once
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "queue/event.hpp"
#include "queue/message.hpp"

namespace pb::queue {

// An event as stored, with its row id: ids grow with every insert, so "newer than id N" is how
// the status page pages through the log and follows it live.
struct StoredEvent {
  std::int64_t id = 0;
  Event event;
};

// Which events find_events() returns. Empty strings and zeros mean "any".
struct EventFilter {
  std::vector<EventKind> kinds;    // empty: every kind
  bool problems_only = false;      // kind "error" or a result other than "ok" / "queued"
  std::string account, route;      // exact match
  std::string text;                // case-insensitive (ASCII) substring of sender, recipients,
                                   // subject, text, account or route
  std::int64_t before_id = 0;      // > 0: only events with id < before_id
  int limit = 100;                 // <= 0: all
};

// Events grouped by (bucket, kind, account, route, result): the numbers behind metrics, "today"
// counters and the hourly chart.
struct EventTally {
  UnixTime bucket = 0;        // start of the time bucket; 0 without bucketing
  KindWord kind;
  std::string account, route;
  ResultWord result;
  std::int64_t events = 0;    // rows
  std::int64_t count = 0;     // sum of Event::count
  std::int64_t bytes = 0;     // sum of Event::size
};

struct AccountState {
  std::string name;
  std::string state = "ok";  // ok | auth-failed | error | disabled
  UnixTime last_poll = 0, last_success = 0, next_poll = 0;
  std::string last_error;
  int failures = 0;  // consecutive failed polls
};


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

  // --- inbound bookkeeping -------------------------------------------------------------
  // UIDLs this account has seen in any state (stored, deleted, too large): never fetched again.
  std::unordered_set<std::string> known_uidls(const std::string& account);
  // One transaction: the message row, its recipients, and (if uidl set) the UIDL as stored.
  MessageId enqueue(const NewMessage& m, UnixTime now);
  // Group commit: many messages (spool files already synced) in ONE transaction, each with the
  // event that logs it (its message_id is filled in). Returns the ids in order.
  std::vector<MessageId> enqueue_batch(const std::vector<std::pair<NewMessage, Event>>& items, UnixTime now);
  // The message this Message-ID + body digest was already queued for to `address` (compared
  // case-insensitively) since `since`, if any: the provider kept one copy per recipient.
  std::optional<MessageId> find_duplicate(const std::string& message_id, const std::string& body_digest,
                                          const std::string& address, UnixTime since);
  void prune_duplicates(UnixTime before);  // forget duplicate-check entries older than this
  // Fetched messages of this account (with a UIDL) queued and due by `now`: a poll waits for them
  // too, so that they are deleted at the provider in the same session.
  std::vector<MessageId> due_fetched(const std::string& account, UnixTime now);
  // Spool files still needed: those of messages not delivered (start-up orphan sweep). A delivered
  // message's file is removed after its outcome is committed; a crash in between leaves it behind.
  std::unordered_set<std::string> spool_names_in_use();
  // A consistent copy of the database in `file` (which must not exist), taken in one read
  // transaction while others may write (VACUUM INTO); fsync'd. For `postbridge backup`.
  void snapshot_to(const std::filesystem::path& file);
  // Records a message skipped for size; returns true the first time (tell the postmaster once).
  bool record_too_large(const std::string& account, const std::string& uidl, std::uint64_t size, UnixTime now);
  // UIDLs whose message is done (delivered, or failed with its spool kept) and may be deleted at
  // the provider: all of them without keep; with keep only those older than keep_days (>0).
  std::vector<std::string> uidls_to_delete(const std::string& account, bool keep, int keep_days, UnixTime now);
  // After QUIT was answered +OK: these are gone from the provider.
  void mark_deleted(const std::string& account, const std::vector<std::string>& uidls);
  // Forget 'deleted' / 'too large' UIDLs no longer listed by the server (keeps the table small).
  void forget_vanished(const std::string& account, const std::unordered_set<std::string>& on_server);

  // --- delivery ------------------------------------------------------------------------
  // Queued messages of the route whose next_attempt <= now, oldest first.
  std::vector<QueuedMessage> due(const std::string& route, UnixTime now, int limit);
  std::optional<UnixTime> next_due(const std::string& route);  // earliest next_attempt of queued
  // Before dialing: attempts+1 and next_attempt = retry_at, so a crash never causes a burst.
  void record_attempt(MessageId id, UnixTime retry_at);
  // Start-up: messages whose attempt was recorded but whose outcome never was (the process died
  // while sending) are due again now — one retry per crash, never a burst. Returns how many.
  int recover_interrupted(UnixTime now);
  // The same for several messages about to be sent on one connection, in one transaction.
  void record_attempts(const std::vector<std::pair<MessageId, UnixTime>>& attempts);
  // Takes back the recorded attempts of messages that were never sent (their connection broke
  // or their route paused first): due again at `now`, their try count as it was.
  void release_attempts(const std::vector<MessageId>& ids, UnixTime now);
  // After the attempt. Recipients not named keep their state. When none is pending any more the
  // message becomes delivered (all delivered) or failed (some failed). Returns the new state.
  // With `event`, the log entry is written in the same transaction (one fsync, not two).
  // With `spawn` (a redirected copy whose spool file is durable), that message is enqueued in the
  // same transaction and its id stored in *spawned: the copy exists exactly when the original's
  // recipients say "redirected".
  MsgState record_results(MessageId id, const std::vector<DeliveryResult>& results,
                          const std::string& last_reply, UnixTime next_attempt_if_pending,
                          const Event* event = nullptr, const NewMessage* spawn = nullptr,
                          MessageId* spawned = nullptr);
  std::optional<QueuedMessage> get(MessageId id);
  std::vector<QueuedMessage> list(int limit);  // newest first, for `postbridge queue`
  int count(MsgState s);
  int count_queued_for_account(const std::string& account);

  // --- admin actions (work while the service runs: it notices data_version changes) --------
  bool retry_now(MessageId id, UnixTime now);  // queued/held/failed -> queued, due now
  int retry_all(UnixTime now);                  // every queued message due now
  bool set_held(MessageId id, bool held);       // queued <-> held
  std::optional<std::string> remove(MessageId id);  // deletes the row; returns its spool name
  void mark_delay_notified(MessageId id);
  // Times of accepted sends on a route since `since` (sliding rate windows survive restarts).
  std::vector<UnixTime> send_times(const std::string& route, UnixTime since);
  // Changes when ANOTHER connection (the CLI) committed: PRAGMA data_version.
  std::int64_t data_version();
  // (route, (state, count)) for messages not delivered.
  std::vector<std::pair<std::string, std::pair<std::string, int>>> counts_by_route();

  // --- log and account health ------------------------------------------------------------
  void add_event(const Event& e);
  std::vector<Event> events(int limit);  // newest first
  // --- status page queries (read-only; issue 5) -----------------------------------------
  std::vector<StoredEvent> find_events(const EventFilter& f);  // newest first
  // Events with id > after_id, oldest first (the live stream polls this).
  std::vector<StoredEvent> events_after(std::int64_t after_id, int limit);
  std::int64_t last_event_id();  // 0 when the log is empty
  // Events with time >= since, grouped; bucket_seconds > 0 also groups by time / bucket_seconds
  // (buckets aligned to multiples of bucket_seconds since the epoch). Ordered by bucket.
  std::vector<EventTally> tally_events(UnixTime since, int bucket_seconds = 0);
  // Messages not delivered (queued, held, failed), oldest first; state / route "" = any.
  std::vector<QueuedMessage> undelivered(const std::string& state, const std::string& route, int limit);
  int count_undelivered(const std::string& state, const std::string& route);

  void save_account_state(const AccountState& s);
  std::optional<AccountState> account_state(const std::string& name);

 private:
  MessageId insert_message(const NewMessage& m, UnixTime now);
  void insert_event(const Event& e);
  std::filesystem::path state_dir_, spool_dir_;
  struct Impl;  // the SQLite connection and its cached prepared statements (store.cpp)
  std::unique_ptr<Impl> impl_;
};

}  // namespace pb::queue
