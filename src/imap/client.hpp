// IMAP client session (RFC 9051 / RFC 3501; RFC 2177 IDLE, RFC 4315 UIDPLUS, RFC 6851 MOVE,
// RFC 4959 SASL-IR, RFC 7628 OAuth) over a net::Transport. STARTTLS is required when asked (never a
// fallback to plain text); messages are streamed to a sink, never held whole; nothing is expunged
// but the UIDs named (UID EXPUNGE), and secrets never reach logs or exception texts.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "imap/response.hpp"
#include "net/transport.hpp"

namespace pb::imap {

enum class Security { none, starttls, implicit };
enum class AuthMethod { automatic, login, sasl_plain };

struct ClientOptions {
  Security security = Security::implicit;
  AuthMethod auth = AuthMethod::automatic;
  std::string username;
  std::string password;  // never logged
  // OAuth 2.0 instead of the password: "XOAUTH2" or "OAUTHBEARER" (RFC 7628) with bearer_token as
  // the access token, sent with AUTHENTICATE when the server announces AUTH=<mechanism>.
  std::string oauth_mechanism;
  std::string bearer_token;  // never logged
  bool allow_plaintext = false;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::size_t fetch_batch = 16;  // UIDs per UID FETCH command
  int pipeline_window = 4;       // UID FETCH commands in flight
  bool login = true;             // false: open() stops after the greeting, CAPABILITY and STARTTLS
};

enum class FailureKind {
  connection,   // network failure, timeout, or the server said BYE and closed
  protocol,     // garbage or unexpected responses, a refused command
  tls,          // STARTTLS missing or refused, TLS failure, or a login that would go out in clear
  auth,         // login rejected; see ImapError::token_rejected()
  temporary,    // [UNAVAILABLE], a BYE greeting, [INUSE] or another transient refusal
  unsupported,  // the server lacks something needed (UIDPLUS for UID EXPUNGE, MOVE, IDLE ...)
};

class ImapError : public std::runtime_error {
 public:
  ImapError(FailureKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  FailureKind kind() const { return kind_; }
  // kind() == auth after an OAuth login whose error challenge (RFC 7628 3.2.2) said the access
  // token is invalid or expired: the caller refreshes the token and tries once more.
  bool token_rejected() const { return token_rejected_; }
  ImapError& set_token_rejected(bool v) {
    token_rejected_ = v;
    return *this;
  }

 private:
  FailureKind kind_;
  bool token_rejected_ = false;
};

// RFC 9051 3: the session's states; each command is only sent in the states that allow it.
enum class State { not_authenticated, authenticated, selected, logout };
const char* state_name(State s);

struct MailboxInfo {
  std::uint32_t uidvalidity = 0;
  std::optional<std::uint32_t> uidnext;
  std::uint32_t exists = 0;
  bool read_only = false;
};

struct UidSize {
  std::uint32_t uid = 0;
  std::uint64_t size = 0;
};

// Receives fetched messages: the bytes exactly as the server sent them (no line-end changes).
class FetchSink {
 public:
  virtual ~FetchSink() = default;
  virtual void begin(std::uint32_t uid, std::uint64_t size) = 0;
  virtual void data(std::string_view bytes) = 0;
  // The message arrived whole (its FETCH response is complete). May throw to abort the session.
  virtual void end(std::uint32_t uid) = 0;
  // Not fetched: gone from the mailbox meanwhile, or its command refused (why: the server's words).
  virtual void missing(std::uint32_t uid, const std::string& why) = 0;
};

enum class Flag { deleted, seen };

struct IdleResult {
  bool new_mail = false;     // EXISTS grew; false: the renewal time passed
  std::uint32_t exists = 0;  // messages in the mailbox now
};

struct IdleWait;  // the shared state of IDLE's reader and renewer (client.cpp)

class Client {
 public:
  Client(net::Transport& transport, ClientOptions options);
  // Greeting, CAPABILITY, STARTTLS (+ CAPABILITY again), login. Throws ImapError.
  boost::asio::awaitable<void> open();
  // SELECT (read_only: EXAMINE) a mailbox: its UIDVALIDITY, UIDNEXT and message count.
  boost::asio::awaitable<MailboxInfo> select(const std::string& mailbox, bool read_only = false);
  // Every message's UID and size (UID FETCH 1:* (UID RFC822.SIZE)), in UID order.
  boost::asio::awaitable<std::vector<UidSize>> list_uids();
  // UID FETCH (BODY.PEEK[] RFC822.SIZE) in pipelined batches; \Seen is not set.
  boost::asio::awaitable<void> fetch(const std::vector<std::uint32_t>& uids, FetchSink& sink);
  // UID STORE set +FLAGS.SILENT (flag).
  boost::asio::awaitable<void> add_flag(const std::vector<std::uint32_t>& uids, Flag flag);
  // UID EXPUNGE of exactly these UIDs (RFC 4315 2.1); unsupported without UIDPLUS, and never a
  // plain EXPUNGE, which would also remove messages other clients marked \Deleted.
  boost::asio::awaitable<void> expunge(const std::vector<std::uint32_t>& uids);
  // UID MOVE to another folder (RFC 6851); unsupported without MOVE.
  boost::asio::awaitable<void> move(const std::vector<std::uint32_t>& uids, const std::string& folder);
  // IDLE (RFC 2177) until new mail (EXISTS grows) or renew_after passed, then DONE.
  boost::asio::awaitable<IdleResult> idle(std::chrono::milliseconds renew_after);
  // LOGOUT: true when the server confirmed it. Never throws.
  boost::asio::awaitable<bool> logout();

  State state() const { return state_; }
  const Capabilities& capabilities() const { return caps_; }
  // What the server offered right before the login (its AUTH= mechanisms, LOGINDISABLED): many
  // servers name them only then. Before a login, the same as capabilities().
  const Capabilities& login_capabilities() const { return login_caps_ ? *login_caps_ : caps_; }
  const std::string& login_method() const { return login_method_; }
  const std::string& greeting() const { return greeting_; }
  std::uint32_t exists() const { return exists_; }

 private:
  class BodySink;
  boost::asio::awaitable<Response> read_response();
  boost::asio::awaitable<void> send(const std::string& wire, const std::string& shown);
  boost::asio::awaitable<Response> command(const std::string& line, const std::string& shown = {});
  boost::asio::awaitable<Response> wait_tagged(const std::string& tag, const std::string& shown);
  boost::asio::awaitable<void> ask_capabilities();
  boost::asio::awaitable<void> starttls();
  boost::asio::awaitable<void> login();
  boost::asio::awaitable<void> login_password();
  boost::asio::awaitable<void> authenticate(const std::string& mechanism, const std::string& initial_response,
                                            bool oauth);
  boost::asio::awaitable<void> idle_reader(const std::string& tag, IdleWait& w);
  boost::asio::awaitable<void> idle_renewer(std::chrono::milliseconds after, IdleWait& w);
  void untagged(const Response& r);
  void set_state(State s);
  void require(State s, const char* what) const;
  std::string next_tag();
  [[noreturn]] void fail_login(const Response& r, const std::string& step);
  [[noreturn]] void refused(const Response& r, const std::string& what);

  net::Transport& t_;
  ClientOptions opt_;
  Parser parser_;
  std::string buf_;
  std::size_t buf_begin_ = 0, buf_end_ = 0;
  State state_ = State::not_authenticated;
  Capabilities caps_;
  bool caps_known_ = false;
  std::optional<Capabilities> login_caps_;
  std::string greeting_;
  std::string login_method_;
  std::string bye_;  // the text of an untagged BYE, for the error when the connection then ends
  std::uint32_t exists_ = 0;
  std::optional<std::uint32_t> uidvalidity_, uidnext_;
  bool read_only_ = false;
  unsigned tag_counter_ = 0;
  BodySink* body_ = nullptr;  // set during fetch(): where FETCH bodies go
};

}  // namespace pb::imap
