// The inbound ledger: which POP3 UIDLs (and IMAP folder/UIDVALIDITY/UID keys) each account has seen (never fetched twice, deleted at the
// provider only once their message is done), and which messages each multidrop recipient got.
// Promise: a 'stored' UIDL is never forgotten while the provider still lists it.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "queue/message.hpp"

namespace pb::queue {

namespace db {
class Database;
}

class Ledger {
 public:
  explicit Ledger(db::Database& db) : db_(db) {}

  // UIDLs this account has seen in any state (stored, deleted, too large): never fetched again.
  std::unordered_set<std::string> known_uidls(const std::string& account);
  // Records a message skipped for size; returns true the first time (tell the postmaster once).
  bool record_too_large(const std::string& account, const std::string& uidl, std::uint64_t size, UnixTime now);
  // UIDLs whose message is done (delivered, or failed with its spool kept) and may be deleted at
  // the provider: all of them without keep; with keep only those older than keep_days (>0).
  std::vector<std::string> uidls_to_delete(const std::string& account, bool keep, int keep_days, UnixTime now);
  // After QUIT was answered +OK: these are gone from the provider.
  void mark_deleted(const std::string& account, const std::vector<std::string>& uidls);
  // Forget 'deleted' / 'too large' UIDLs no longer listed by the server (keeps the table small).
  // in_scope: only keys it accepts (one IMAP folder's); none: all of the account's.
  void forget_vanished(const std::string& account, const std::unordered_set<std::string>& on_server,
                       const std::function<bool(std::string_view)>& in_scope = {});
  // IMAP after a UIDVALIDITY change: the key among those in_scope accepts under which a message
  // with this Message-ID, provider size and content digest was recorded, if any.
  std::optional<std::string> find_fetched(const std::string& account, const std::function<bool(std::string_view)>& in_scope,
                                          const std::string& message_id, std::uint64_t provider_size,
                                          const std::string& content_digest);
  // The message recorded under `from` is now known under `to` (its new UID): one row, moved.
  void rekey(const std::string& account, const std::string& from, const std::string& to);

  // The message this Message-ID + body digest was already queued for to `address` (compared
  // case-insensitively) since `since`, if any: the provider kept one copy per recipient.
  std::optional<MessageId> find_duplicate(const std::string& message_id, const std::string& body_digest,
                                          const std::string& address, UnixTime since);
  void prune_duplicates(UnixTime before);  // forget duplicate-check entries older than this

  // Inside the queue's open write transaction, as it stores message `id`:
  bool has_uidl(const std::string& account, const std::string& uidl);
  void record_stored(const NewMessage& m, MessageId id, UnixTime now);  // its UIDL, if any
  // Each pending recipient (normalized addresses) remembered for find_duplicate.
  void remember_recipients(const NewMessage& m, const std::vector<std::string>& rcpts, MessageId id, UnixTime now);

 private:
  db::Database& db_;
};

}  // namespace pb::queue
