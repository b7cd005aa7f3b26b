// The queue's message records: what is enqueued (NewMessage), what is stored (QueuedMessage), and
// each recipient's outcome. Plain values; the tables that hold them are in queue/queue_table.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pb::queue {

using UnixTime = std::int64_t;
using MessageId = std::int64_t;

enum class MsgState { queued, delivered, failed, held };
// redirected: refused by the office server, a copy went to the multidrop default_recipient;
// duplicate: the same message (Message-ID and body) already reached this recipient. Both are done
// without a failure, like delivered.
enum class RcptState { pending, delivered, failed, redirected, duplicate };
const char* to_string(MsgState s);
const char* to_string(RcptState s);

struct Recipient {
  std::string address;
  RcptState state = RcptState::pending;
  std::string reply;   // last reply from the server for this recipient
  std::string notify;  // DSN NOTIFY= (RFC 3461 4.1), "" if not given
  std::string orcpt;   // DSN ORCPT= (RFC 3461 4.2)
};

struct NewMessage {
  std::string route = "local";
  std::string account;  // fetching account; empty for relayed mail and notices
  std::string uidl;     // ledger key: POP3 UIDL or IMAP folder/UIDVALIDITY/UID; empty: not fetched
  std::string sender;   // envelope sender; empty = null sender <>
  std::vector<std::string> recipients;
  std::string spool_name;  // from SpoolFile::commit()
  std::uint64_t size = 0;
  std::string subject;     // decoded, for the log and the page
  std::string message_id;  // Message-ID header, for the log
  // Relayed mail: DSN parameters (RFC 3461) kept for the bounce, aligned with recipients.
  std::string envid, ret;
  std::vector<std::string> notify, orcpt;
  bool is_bounce = false;  // a DSN or notice: its failure goes nowhere further (no loops)
  std::string auth_user;   // relay client that authenticated
  // Multidrop:
  std::string hold_reason;                // non-empty: stored as held (a mail loop), not delivered
  std::vector<Recipient> done_recipients;  // recorded already finished (state duplicate + reply)
  std::string body_digest;  // with message_id: each pending recipient is remembered for the
                            // duplicate check (find_duplicate) in the same transaction
  // IMAP: the message as the provider holds it (its octets and their SHA-256), kept in the ledger
  // so that a renumbered folder (new UIDVALIDITY) is recognised rather than delivered again.
  std::uint64_t provider_size = 0;
  std::string content_digest;
};

struct QueuedMessage {
  MessageId id = 0;
  std::string route, account, uidl, sender, spool_name, subject, message_id;
  std::uint64_t size = 0;
  MsgState state = MsgState::queued;
  int attempts = 0;
  UnixTime created_at = 0, next_attempt = 0;
  std::string last_reply;
  std::string envid, ret, auth_user;
  bool is_bounce = false, delay_notified = false;
  std::vector<Recipient> recipients;  // all of them, with their states
};

struct DeliveryResult {
  std::string address;
  RcptState state;  // pending = deferred (4xx), delivered, failed (5xx)
  std::string reply;
};

}  // namespace pb::queue
