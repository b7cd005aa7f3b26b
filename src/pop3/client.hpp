// POP3 client session (RFC 1939, RFC 2449 CAPA/PIPELINING/resp-codes, RFC 2595 STLS, RFC 5034 SASL)
// over a net::Transport. STLS is required when asked (never a fallback to plain text); messages
// are streamed line by line to a sink, never held whole; DELE is committed only by QUIT.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/transport.hpp"
#include "pop3/reply.hpp"

namespace pb::pop3 {

enum class Security { none, stls, implicit };
enum class AuthMethod { automatic, sasl_plain, apop, user_pass };

struct ClientOptions {
  Security security = Security::implicit;
  AuthMethod auth = AuthMethod::automatic;
  std::string username;
  std::string password;  // never logged
  // OAuth 2.0 instead of the password: "XOAUTH2" or "OAUTHBEARER" (RFC 7628) with bearer_token
  // as the access token, sent with AUTH (RFC 5034) when CAPA's SASL line announces the mechanism.
  // When set, `auth` is not used. Empty: password login.
  std::string oauth_mechanism;
  std::string bearer_token;  // never logged
  bool allow_plaintext = false;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  int pipeline_window = 64;  // RETR/DELE commands in flight when the server offers PIPELINING
  bool login = true;         // false: open() stops after the greeting, CAPA and STLS (the doctor's port scan)
};

enum class FailureKind {
  connection,   // network failure or timeout
  protocol,     // garbage or unexpected replies
  tls,          // STLS missing or TLS failure
  auth,         // login rejected ([AUTH] or plain -ERR to PASS/AUTH); see Pop3Error::token_rejected()
  in_use,       // [IN-USE]: another client holds the maildrop
  login_delay,  // [LOGIN-DELAY]: polled too often
  temporary,    // [SYS/TEMP] or other transient refusal
  unsupported,  // the server lacks something we need (e.g. UIDL with keep = true)
};

class Pop3Error : public std::runtime_error {
 public:
  Pop3Error(FailureKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  FailureKind kind() const { return kind_; }
  // kind() == auth after an OAuth login whose error challenge (RFC 7628 3.2.2) said the access
  // token is invalid or expired: the caller refreshes the token and tries once more. A flag, not
  // a FailureKind of its own, so every existing "auth" decision still holds.
  bool token_rejected() const { return token_rejected_; }
  Pop3Error& set_token_rejected(bool v) {
    token_rejected_ = v;
    return *this;
  }

 private:
  FailureKind kind_;
  bool token_rejected_ = false;
};

// Receives retrieved messages. Lines are decoded (dot-unstuffed) and end with CRLF.
class RetrSink {
 public:
  virtual ~RetrSink() = default;
  virtual void begin(std::uint32_t number) = 0;
  virtual void data(std::string_view decoded_line_with_crlf) = 0;
  // The terminating "." arrived: the message is complete. May throw to abort the session.
  virtual void end(std::uint32_t number) = 0;
  // The server refused this RETR (-ERR); the session goes on.
  virtual void refused(std::uint32_t number, const std::string& reply) = 0;
};

// What the server sent that is not plain CRLF text, over all messages of the session (Unstuffer).
struct SessionStats {
  std::uint64_t bare_lf_lines = 0;  // stored with CRLF
  std::uint64_t dropped_crs = 0;    // CRs before a line end, dropped
  std::uint64_t inner_crs = 0;      // CRs inside lines, stored as sent
  std::uint64_t nul_bytes = 0;      // stored as sent
};

class Client {
 public:
  Client(net::Transport& transport, ClientOptions options);
  // Greeting, CAPA, STLS (+ CAPA again), login. Throws Pop3Error.
  boost::asio::awaitable<void> open();
  // nullopt when the server does not implement UIDL.
  boost::asio::awaitable<std::optional<std::vector<UidlEntry>>> uidl();
  boost::asio::awaitable<std::vector<ListEntry>> list();
  boost::asio::awaitable<void> retrieve(const std::vector<std::uint32_t>& numbers, RetrSink& sink);
  // Marks messages deleted (pipelined). Returns the numbers the server accepted.
  boost::asio::awaitable<std::vector<std::uint32_t>> dele(const std::vector<std::uint32_t>& numbers);
  // QUIT: true when the server answered +OK (deletions are then committed, RFC 1939 6).
  boost::asio::awaitable<bool> quit();
  const Capabilities& capabilities() const { return caps_; }
  // False when the server answered CAPA with -ERR (RFC 2449 is optional): capabilities() is then
  // empty, and what the server can do shows only when it is used.
  bool capa_answered() const { return capa_ok_; }
  const std::string& login_method() const { return login_method_; }
  const std::string& greeting() const { return greeting_; }
  const SessionStats& stats() const { return stats_; }

 private:
  boost::asio::awaitable<StatusLine> command(const std::string& line, const char* redacted = nullptr);
  boost::asio::awaitable<StatusLine> read_status(const char* what);
  boost::asio::awaitable<std::vector<std::string>> read_multiline();
  boost::asio::awaitable<void> read_capa();
  boost::asio::awaitable<void> login();
  boost::asio::awaitable<void> login_bearer();
  boost::asio::awaitable<std::string> read_auth_line(const char* what);
  boost::asio::awaitable<void> retrieve_one_reply(std::uint32_t number, RetrSink& sink);
  [[noreturn]] void fail_login(const StatusLine& st, const char* step);

  net::Transport& t_;
  net::LineReader reader_;
  ClientOptions opt_;
  Capabilities caps_;
  bool capa_ok_ = false;
  std::string greeting_;
  std::string login_method_;
  SessionStats stats_;
};

}  // namespace pb::pop3
