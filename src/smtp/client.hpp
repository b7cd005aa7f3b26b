// SMTP/LMTP client session (RFC 5321, RFC 2033) over a net::Transport: greeting, EHLO/LHLO, STARTTLS
// (required when asked: never a fallback to plain text), AUTH, then any number of transactions on
// one connection (RSET between), with PIPELINING when offered, DSN requests (RFC 3461) passed on
// only when offered, and per-recipient outcomes.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "net/transport.hpp"
#include "smtp/reply.hpp"
#include "smtp/stuffer.hpp"

namespace pb::smtp {

enum class Security { none, starttls, implicit };  // implicit: the transport is already TLS

struct ClientOptions {
  std::string helo_name;           // our hostname
  bool lmtp = false;               // LHLO and one reply per accepted recipient after DATA
  Security security = Security::none;
  std::string username;            // empty: no AUTH
  std::string mechanism;           // "" = best offered (PLAIN, LOGIN, CRAM-MD5); or force one of them
  std::string password;            // never logged
  // OAuth 2.0 instead of the password: "XOAUTH2" or "OAUTHBEARER" (RFC 7628) with bearer_token
  // as the access token (user name = username). Only that mechanism is tried, and only when the
  // server announces it. Empty: password login as above.
  std::string oauth_mechanism;
  std::string bearer_token;        // never logged
  bool allow_plaintext_auth = false;  // AUTH over a connection without TLS
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds data_timeout{std::chrono::minutes(10)};  // RFC 5321 4.5.3.2.6
};

// What went wrong for a whole session, so the caller can decide scope and permanence.
enum class FailureKind {
  connection,      // connect/read/write failed or timed out
  protocol,        // garbage from the server
  greeting,        // 4xx/5xx banner or EHLO/LHLO refused
  tls,             // STARTTLS missing or handshake/verification failed
  auth,            // AUTH rejected (535 etc.) or not possible safely; see token_rejected()
};

class SessionError : public std::runtime_error {
 public:
  SessionError(FailureKind kind, bool permanent, const std::string& what, Reply reply = {})
      : std::runtime_error(what), kind_(kind), permanent_(permanent), reply_(std::move(reply)) {}
  FailureKind kind() const { return kind_; }
  bool permanent() const { return permanent_; }
  const Reply& reply() const { return reply_; }
  // kind() == auth after an OAuth login whose error challenge (RFC 7628 3.2.2) said the access
  // token is invalid or expired: a fresh token may succeed, so the caller refreshes and tries once
  // more. A flag rather than a FailureKind of its own, so every existing "auth" decision holds.
  bool token_rejected() const { return token_rejected_; }
  SessionError& set_token_rejected(bool v) {
    token_rejected_ = v;
    return *this;
  }

 private:
  FailureKind kind_;
  bool permanent_;
  Reply reply_;
  bool token_rejected_ = false;
};

struct Envelope {
  std::string sender;                   // "" = null reverse-path <>
  std::vector<std::string> recipients;  // addr-specs without brackets
  bool eight_bit = false;               // BODY=8BITMIME when offered
  bool smtputf8 = false;                // SMTPUTF8 (RFC 6531) when needed
  // DSN requests (RFC 3461 4), sent only to a server that offers DSN and left out otherwise: what
  // that means for the sender (a "relayed" notice, RFC 3461 5.2.2) is the caller's to decide.
  // Values as smtp::parse_mail / parse_rcpt store them: RET "FULL" or "HDRS", ENVID decoded;
  // notify ("NEVER" or a list of SUCCESS, FAILURE, DELAY) and orcpt ("type;address", the address
  // decoded) are aligned with recipients, a missing or empty entry meaning "not given". The client
  // xtext-encodes ENVID and ORCPT, and leaves out a value it cannot send as the RFC allows.
  std::string ret, envid;
  std::vector<std::string> notify, orcpt;
};

enum class Outcome { accepted, transient, permanent };

// Why send() refused a message itself, before the server saw any of it: the reply in the result
// is then made up here, and the words for the sender must say so (not "the server refused").
enum class LocalRefusal {
  none,            // the server's replies decided
  control_chars,   // an envelope address holds CR, LF or another control character
  smtputf8,        // the message needs SMTPUTF8, which the server does not offer (RFC 6531 3.4)
  size,            // larger than the server's announced SIZE limit (RFC 1870 6)
};

struct RecipientResult {
  std::string address;
  Outcome outcome = Outcome::transient;
  Reply reply;  // RCPT reply if refused there; else the DATA reply (LMTP: that recipient's reply)
  bool at_rcpt = false;  // refused at RCPT: about this recipient alone, not the message
};

struct SendResult {
  // Message-level outcome: accepted if at least one recipient was accepted after DATA.
  Outcome message = Outcome::transient;
  Reply reply;  // the deciding reply (MAIL, DATA or end-of-data), for logs
  std::vector<RecipientResult> recipients;
  // What had to change for the message to fit SMTP (long lines, bare CR/LF); none when the body
  // was not sent.
  BodyChanges body_changes;
  LocalRefusal refused_here = LocalRefusal::none;  // set: nothing was sent, `reply` is our own
};

// Supplies message bytes (CRLF lines, not dot-stuffed); returns 0 at the end.
using BodyReader = std::function<std::size_t(char* buf, std::size_t len)>;

class Client {
 public:
  Client(net::Transport& transport, ClientOptions options);
  // Greeting, EHLO/LHLO (SMTP falls back to HELO on 5xx EHLO), STARTTLS (required when
  // security == starttls: missing -> SessionError tls), EHLO again, AUTH (PLAIN or LOGIN, or the
  // OAuth mechanism when set; refused with SessionError auth if the connection is not encrypted
  // and !allow_plaintext_auth).
  boost::asio::awaitable<void> open();
  // One transaction. Throws SessionError when the connection becomes unusable; message- and
  // recipient-level refusals are returned, not thrown. Checks SIZE before sending.
  boost::asio::awaitable<SendResult> send(const Envelope& env, std::uint64_t size, BodyReader body);
  boost::asio::awaitable<void> reset();  // RSET (between transactions after a failure)
  // QUIT; errors ignored. Sends nothing once the connection broke (421, I/O error, garbage), so it
  // is always safe to call before dropping the transport.
  boost::asio::awaitable<void> quit();
  const Extensions& extensions() const { return ext_; }
  const std::string& greeting() const { return greeting_; }

 private:
  struct Transaction;  // the replies to MAIL, RCPT..., DATA of one send() (client.cpp)

  boost::asio::awaitable<void> hello();
  boost::asio::awaitable<void> start_tls();
  boost::asio::awaitable<void> authenticate();
  boost::asio::awaitable<void> authenticate_or_quit();
  boost::asio::awaitable<void> auth_plain();
  boost::asio::awaitable<void> auth_login();
  boost::asio::awaitable<void> auth_cram_md5();
  boost::asio::awaitable<void> auth_bearer();
  boost::asio::awaitable<void> envelope_pipelined(const Envelope& env, std::uint64_t size, Transaction& tx);
  boost::asio::awaitable<void> envelope_stepwise(const Envelope& env, std::uint64_t size, Transaction& tx);
  boost::asio::awaitable<BodyChanges> send_body(BodyReader& body);
  boost::asio::awaitable<void> final_replies(SendResult& res, const std::vector<std::size_t>& accepted);
  boost::asio::awaitable<void> abort_data();
  boost::asio::awaitable<Reply> command(std::string_view line, std::string_view shown = {});
  boost::asio::awaitable<void> write(std::string_view bytes);
  boost::asio::awaitable<Reply> read_reply();
  std::string mail_command(const Envelope& env, std::uint64_t size) const;
  std::string rcpt_command(const Envelope& env, std::size_t i) const;
  std::optional<SendResult> refuse_locally(const Envelope& env, std::uint64_t size) const;
  // Marks the connection unusable (later send() throws, quit() sends nothing) and builds the error.
  SessionError broken(FailureKind kind, const std::string& what, Reply reply = {});

  net::Transport& t_;
  net::LineReader reader_;
  ClientOptions opt_;
  Extensions ext_;
  std::string greeting_;
  std::string step_ = "greeting";  // what we are waiting for, for error messages
  bool needs_reset_ = false;       // a transaction was left open: RSET before the next MAIL
  std::string unusable_;           // why the connection cannot be used any more; empty while it can
};

}  // namespace pb::smtp
