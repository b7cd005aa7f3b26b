// What the POP3 and the IMAP poll share: the sink that streams each message into the spool and
// commits it (fsync + row) before anything else happens to it, the wait for its delivery, the
// too-large notice, the OAuth token and its one retry, and how a failed poll is put in words.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "app/context.hpp"
#include "app/deliverer.hpp"
#include "mail/headers.hpp"
#include "net/transport.hpp"
#include "queue/backoff.hpp"
#include "queue/event.hpp"
#include "queue/message.hpp"
#include "queue/spool.hpp"

namespace pb::app {

// Thrown from a sink when the service stops mid-session: the poll ends like a lost connection.
class ServiceStopping : public std::runtime_error {
 public:
  ServiceStopping() : std::runtime_error("service is stopping") {}
};

// SHA-256, hex: the multidrop duplicate check (body) and the IMAP ledger (whole message).
class Digest {
 public:
  Digest();
  void update(std::string_view s);
  std::string hex();

 private:
  struct State;
  struct Free {
    void operator()(State* s) const;
  };
  std::unique_ptr<State, Free> state_;
};

// Streams messages, line by line (each with its line end), into spool files and commits them in
// small batches. The protocol sessions name each message by its ledger key and a label for people.
class SpoolingSink {
 public:
  // protocol: the Received: header's "with" word (POP3, POP3S, IMAP, IMAPS).
  SpoolingSink(Context& ctx, Deliverer& deliverer, const config::Account& account, std::string peer,
               std::string protocol);

  // label: "message 3", "UID 17 in folder INBOX"; tag: the same, short, for the multidrop routing
  // log ("POP3 #3", "INBOX UID 17"); announced: the size the server listed.
  void begin(const std::string& key, const std::string& label, const std::string& tag, std::uint64_t announced);
  void line(std::string_view line);
  void end();
  // Group commit: one syncfs for the batch's spool files, then one transaction for their rows.
  void flush();

  // IMAP: hash each message whole, so the ledger can tell it again after a UIDVALIDITY change.
  bool identify = false;
  // Asked at end() of each message when set: true means it was delivered before under another
  // key (the caller has moved the ledger row), so it is dropped rather than stored again.
  std::function<bool(const queue::NewMessage&)> fetched_before;

  int stored = 0;                     // messages committed (including held loops and duplicates)
  int recognised = 0;                 // messages fetched_before said were delivered already
  std::vector<queue::MessageId> ids;  // queued for delivery: the poll waits for these
  std::vector<std::string> keys;      // ledger keys of the committed messages
  std::uint64_t bytes = 0;

 private:
  std::string route(queue::NewMessage& m, queue::EventResult& result);
  void drop_spool();

  Context& ctx_;
  Deliverer& deliverer_;
  const config::Account& account_;
  std::string peer_, protocol_;
  std::string key_, label_, tag_;
  std::uint64_t received_ = 0;  // octets of the current message so far
  std::optional<queue::SpoolFile> spool_;
  mail::HeaderCollector headers_;
  // A batch is committed at 16 messages or 200 ms, whichever comes first: big enough to share
  // the fsync cost, small enough that delivery starts at once.
  static constexpr std::size_t kBatchMessages = 16;
  static constexpr auto kBatchAge = std::chrono::milliseconds(200);
  std::vector<std::pair<queue::NewMessage, queue::Event>> batch_;
  std::unordered_set<std::string> batch_keys_;  // Message-ID + digest of the multidrop messages in batch_
  std::chrono::steady_clock::time_point batch_started_;
  std::optional<Digest> digest_;   // multidrop accounts only: the body
  std::optional<Digest> content_;  // identify: the whole message as the provider sent it
};

// Runs a protocol's fetch into `sink` and commits what arrived whole, also when the fetch broke
// off (those messages are complete); returns the failure, if any, for the caller to rethrow once
// it has counted what was committed.
boost::asio::awaitable<std::exception_ptr> fetch_and_commit(SpoolingSink& sink, boost::asio::awaitable<void> fetch);

// A message over max_message_size: logged, recorded in the ledger under `key` and the postmaster
// told once. `which`: "message 3", "UID 17 in folder INBOX". `announced`: the size is the server's
// listing; else the server listed less and sent this much before postbridge stopped keeping it.
void handle_too_large(Context& ctx, const config::Account& a, const std::string& key, const std::string& which,
                      std::uint64_t size, bool announced = true);

// Waits until the deliverer tried every message of this poll (and the account's earlier ones due
// now), the route paused, or nothing moved for idle_limit; then forgets them in the deliverer.
boost::asio::awaitable<void> wait_for_delivery(Context& ctx, Deliverer& d, const config::Account& a,
                                               const std::vector<queue::MessageId>& ids);

// The duplicate check's entries older than the longest window of any multidrop account go.
void prune_duplicate_checks(Context& ctx);

// A connection to the account's provider: implicit TLS as configured (STARTTLS is the client's).
boost::asio::awaitable<std::unique_ptr<net::Transport>> dial_provider(Context& ctx, const config::Account& a);
// The debug line after a login: where, how, and over which TLS.
void log_logged_in(const config::Account& a, const net::Transport& t, const std::string& method);

// An OAuth account's access token (fresh: asked anew from the provider); empty without OAuth.
boost::asio::awaitable<std::string> access_token(Context& ctx, const config::Account& a, bool fresh);

// Runs session(fresh_token = false); when an OAuth login's token was refused (expired early,
// revoked), once more with a token fresh from the provider. A second refusal is a real failure.
boost::asio::awaitable<void> with_token_retry(const config::Account& a,
                                              const std::function<boost::asio::awaitable<void>(bool)>& session);

// How a poll that threw ended, and the words for the log and the page: the one place that maps
// what the session, the token source, the network or the store threw onto a PollEnd.
struct PollFailure {
  queue::PollEnd end;
  std::string error;
  bool explained = false;
};
PollFailure classify_poll_failure(const std::exception& e, const std::string& host);

extern const char* const kFetchPaused;

}  // namespace pb::app
