// The queue: one row per message with its route and recipients, from enqueue to delivered or
// failed, and the admin's actions on it. Promise: every call is one transaction; an attempt is
// recorded before dialing, its outcome (and its log entry) together after.
#pragma once
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "queue/event.hpp"
#include "queue/message.hpp"

namespace pb::queue {

namespace db {
class Database;
}
class EventLog;
class Ledger;

class QueueTable {
 public:
  QueueTable(db::Database& db, Ledger& ledger, EventLog& events) : db_(db), ledger_(ledger), events_(events) {}

  // --- inbound -------------------------------------------------------------------------
  // One transaction: the message row, its recipients, and (if uidl set) the UIDL as stored.
  MessageId enqueue(const NewMessage& m, UnixTime now);
  // Group commit: many messages (spool files already synced) in ONE transaction, each with the
  // event that logs it (its message_id is filled in). Returns the ids in order.
  std::vector<MessageId> enqueue_batch(const std::vector<std::pair<NewMessage, Event>>& items, UnixTime now);
  // Fetched messages of this account (with a UIDL) queued and due by `now`: a poll waits for them
  // too, so that they are deleted at the provider in the same session.
  std::vector<MessageId> due_fetched(const std::string& account, UnixTime now);
  // Spool files still needed: those of messages not delivered (start-up orphan sweep). A delivered
  // message's file is removed after its outcome is committed; a crash in between leaves it behind.
  std::unordered_set<std::string> spool_names_in_use();

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

  // --- reading -------------------------------------------------------------------------
  std::optional<QueuedMessage> get(MessageId id);
  std::vector<QueuedMessage> list(int limit);  // newest first, for `postbridge queue`
  int count(MsgState s);
  int count_queued_for_account(const std::string& account);
  // (route, (state, count)) for messages not delivered.
  std::vector<std::pair<std::string, std::pair<std::string, int>>> counts_by_route();
  // Messages not delivered (queued, held, failed), oldest first; state / route "" = any.
  std::vector<QueuedMessage> undelivered(const std::string& state, const std::string& route, int limit);
  int count_undelivered(const std::string& state, const std::string& route);

  // --- admin actions (work while the service runs: it notices data_version changes) --------
  bool retry_now(MessageId id, UnixTime now);  // queued/held/failed -> queued, due now
  int retry_all(UnixTime now);                  // every queued message due now
  bool set_held(MessageId id, bool held);       // queued <-> held
  std::optional<std::string> remove(MessageId id);  // deletes the row; returns its spool name
  void mark_delay_notified(MessageId id);

 private:
  MessageId insert_message(const NewMessage& m, UnixTime now);  // inside an open write transaction
  std::vector<Recipient> recipients(MessageId id);
  template <class... A>
  std::vector<QueuedMessage> messages(const char* sql, const A&... args);

  db::Database& db_;
  Ledger& ledger_;
  EventLog& events_;
};

}  // namespace pb::queue
