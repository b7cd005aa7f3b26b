// SMTP server session (RFC 5321) for the relay listener: ESMTP with SIZE, PIPELINING, 8BITMIME,
// ENHANCEDSTATUSCODES, CHUNKING/BDAT, SMTPUTF8, DSN parameters, STARTTLS or implicit TLS (RFC 8314)
// and AUTH PLAIN/LOGIN. Promises: only CRLF.CRLF ends DATA, and DATA and BDAT alike hand the sink
// CRLF lines (bare LFs normalised or the message refused: no SMTP smuggling); commands pipelined
// before STARTTLS are discarded; 250 is sent only after Hooks::commit() says the message is durable.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/transport.hpp"
#include "smtp/codes.hpp"
#include "smtp/command.hpp"

namespace pb::smtp {

struct ServerSettings {
  std::string hostname;                 // in the banner and EHLO reply
  std::uint64_t max_message_size = 50'000'000;  // octets (RFC 1870 counting); 0 = no limit
  int max_recipients = 100;
  std::chrono::milliseconds command_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds data_timeout{std::chrono::minutes(10)};
  bool tls_available = false;           // offer STARTTLS
  // RFC 8314 3.3: the TLS handshake comes first, then the greeting; no STARTTLS is offered.
  bool implicit_tls = false;
  BareLineEnds bare_line_ends = BareLineEnds::normalize;  // for DATA and BDAT alike
  bool auth_available = false;          // users are configured: offer AUTH PLAIN LOGIN
  bool peer_is_loopback = false;        // AUTH may be offered before TLS only on loopback
  std::string peer_ip;                  // for Received: and the hooks
  int max_errors = 10;                  // protocol errors and failed AUTHs before 421 and close
  std::chrono::milliseconds auth_failure_delay{std::chrono::seconds(1)};  // before each 535: slows guessing
};

// What the client asked for, parsed once (addresses without angle brackets; "" = null sender).
struct MailTransaction {
  std::string helo;                     // EHLO/HELO argument
  bool esmtp = false;
  std::string sender;
  std::vector<std::string> recipients;
  std::optional<std::uint64_t> declared_size;   // MAIL ... SIZE=
  std::string body;                     // "", "7BIT", "8BITMIME"
  bool smtputf8 = false;
  std::string ret;                      // DSN RET=FULL|HDRS (RFC 3461 4.3)
  std::string envid;                    // DSN ENVID=, xtext-decoded (RFC 3461 4.4)
  std::vector<std::string> notify;      // per recipient NOTIFY= (same order as recipients; "" if none),
                                        //   "NEVER" or upper-case "SUCCESS,FAILURE,DELAY" subsets
  std::vector<std::string> orcpt;       // per recipient ORCPT= as "rfc822;addr", addr xtext-decoded
  std::string auth_user;                // set after a successful AUTH
  bool tls = false;                     // session was encrypted at MAIL / when the message arrived
};

struct HookReply {
  int code = 250;
  std::string enhanced;  // "2.1.0"
  std::string text;

  HookReply() = default;
  HookReply(Code c, std::string t) : code(c.basic), enhanced(c.enhanced), text(std::move(t)) {}
  HookReply(int c, std::string e, std::string t) : code(c), enhanced(std::move(e)), text(std::move(t)) {}
};

// What Hooks::authenticate() decided about one login.
struct AuthResult {
  bool ok = false;
  std::string user;  // on success: the login name as configured (it may differ in case from the typed one)
  // Set when the password was not even checked because this client address failed too often:
  // the client may try again after this long (answered 454 4.7.0, without the failure delay).
  std::optional<std::chrono::seconds> retry_after;
};

// Receives the message as it streams in: dot-unstuffed (DATA) or as sent (BDAT), with CRLF line
// ends only (a bare CR inside a line may remain: see smtp::BareLineEnds).
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual void write(std::string_view bytes) = 0;
};

// The application side: relay policy, authentication and durable storage.
class Hooks {
 public:
  virtual ~Hooks() = default;
  // Checks a login (never with an empty user or password). Awaitable: a password hash takes tens
  // of milliseconds, which must not stall the other sessions. A throw answers 454 4.7.0
  // (temporary authentication failure).
  virtual boost::asio::awaitable<AuthResult> authenticate(const std::string& user, const std::string& password) = 0;
  // nullopt = accept (a reply below 400 also accepts, with its text). A throw answers 451 4.3.0.
  // Called for MAIL FROM (e.g. "no smarthost for this sender" -> 550 5.7.1).
  virtual std::optional<HookReply> check_sender(const MailTransaction& t) = 0;
  // Same contract. Relay permission: allow_networks or authenticated, else 554/550 5.7.1.
  // `rcpt` may be "Postmaster" without a domain (RFC 5321 4.5.1 requires accepting it).
  virtual std::optional<HookReply> check_recipient(const MailTransaction& t, const std::string& rcpt) = 0;
  // Starts spooling: at DATA before the 354 (a throw answers 452 4.3.1 instead, so no data is sent
  // for nothing) / at the first BDAT chunk. Writes may throw (disk full) -> 452 4.3.1 after the data.
  virtual std::unique_ptr<MessageSink> begin_message(const MailTransaction& t) = 0;
  // Makes the message durable (fsync + committed row, possibly group-committed with other
  // sessions) and returns the reply: 250 with the queue id, or a 4xx on failure. A throw answers
  // 451 4.3.0 (the sink was handed over: commit() cleans it up).
  virtual boost::asio::awaitable<HookReply> commit(std::unique_ptr<MessageSink> sink, const MailTransaction& t) = 0;
  // The message was refused or the session broke before commit: drop what was spooled.
  virtual void abandon(std::unique_ptr<MessageSink> sink) = 0;
};

// Runs one session to its end (QUIT, error, timeout, or stop) and closes the transport. Never
// throws for peer behaviour; logs through util/log with the peer named. The session enforces
// command_timeout/data_timeout itself (so a 421 can still be sent) and sets the transport's own
// timeout to them plus 10 s as a backstop; the adopt_server_socket() timeout is overridden.
boost::asio::awaitable<void> serve(net::Transport& transport, const ServerSettings& settings, Hooks& hooks);

}  // namespace pb::smtp
