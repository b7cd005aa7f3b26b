// The parts the doctor's probes share: what one probe targets, the Tap transport that notes when
// each protocol phase began, and the steps every session has (DNS, TCP, TLS, greeting, failure).
// Internal to doctor/: the probes' entry points are in doctor/probe.hpp.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "doctor/advice.hpp"
#include "doctor/probe.hpp"
#include "doctor/report.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "words/provider_replies.hpp"
#include "net/transport.hpp"
#include "imap/client.hpp"
#include "pop3/client.hpp"
#include "smtp/client.hpp"
#include "util/units.hpp"

namespace pb::doctor {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds since(Clock::time_point t0);
// Steps are built outside the coroutines: g++ 12 miscompiles braced aggregates with string
// members inside a coroutine body ("array used as initializer").
Step make_step(std::string name, std::string title, Verdict v = Verdict::ok, milliseconds took = milliseconds(0));
milliseconds between(Clock::time_point a, Clock::time_point b);
std::string join(const std::vector<std::string>& v, const char* sep = " ");

// Everything one probe needs, from an [[account]], a [[smarthost]] or [local].
struct Target {
  std::string kind, name;
  Protocol protocol = Protocol::smtp;
  std::string host;
  std::uint16_t port = 0;
  config::TlsMode tls = config::TlsMode::implicit;
  bool verify = true;
  std::string ca_file;
  milliseconds timeout{0};  // already capped by Options::max_step
  pop3::ClientOptions pop3;
  imap::ClientOptions imap;
  smtp::ClientOptions smtp;
  bool has_login = false;
  std::string username;
  const config::Account* account = nullptr;     // kind account
  const config::Account* pop_before = nullptr;  // smarthost with pop-before-smtp
  std::optional<ByteSize> max_message_size;     // configured limit (smarthost)
  std::string sender;                           // --send-to envelope sender
  std::optional<config::OAuth2> oauth2;         // an OAuth login: its token is the first step
  endpoint::OAuthLogin oauth_who;
  std::filesystem::path token_dir;
};

// "pop.example.net:995, POP3, implicit TLS"
std::string endpoint_of(const Target& t);

// --- the Tap: when did each protocol phase begin? ---------------------------------------------

enum class Phase { tls_first, greeting, hello, starttls, login, done };

class Tap final : public net::Transport {
 public:
  Tap(std::unique_ptr<net::Transport> inner, bool implicit)
      : inner_(std::move(inner)), phase_(implicit ? Phase::tls_first : Phase::greeting), t0_(Clock::now()) {}

  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    std::size_t n = co_await inner_->read_some(buf);
    if (!greeting_at_) greeting_at_ = Clock::now();
    co_return n;
  }
  asio::awaitable<void> write_all(asio::const_buffer buf) override {
    note_command(std::string_view(static_cast<const char*>(buf.data()), std::min<std::size_t>(buf.size(), 16)));
    co_await inner_->write_all(buf);
  }
  asio::awaitable<void> start_tls() override {
    if (!tls_begin_) tls_begin_ = Clock::now();
    if (phase_ != Phase::tls_first) phase_ = Phase::starttls;
    try {
      co_await inner_->start_tls();
    } catch (...) {
      tls_end_ = Clock::now();
      throw;
    }
    tls_end_ = Clock::now();
    phase_ = greeting_at_ ? Phase::hello : Phase::greeting;
  }
  bool is_tls() const override { return inner_->is_tls(); }
  std::string tls_description() const override { return inner_->tls_description(); }
  std::optional<net::TlsPeerInfo> tls_peer() const override { return inner_->tls_peer(); }
  void set_timeout(milliseconds t) override { inner_->set_timeout(t); }
  void close() override { inner_->close(); }
  std::string peer() const override { return inner_->peer(); }

  Phase phase() const { return phase_; }
  void finish() {
    done_at_ = Clock::now();
    phase_ = Phase::done;
  }
  milliseconds greeting_took() const {
    Clock::time_point start = tls_end_ && phase_began_tls_first_ ? *tls_end_ : t0_;
    return greeting_at_ ? between(start, *greeting_at_) : since(start);
  }
  milliseconds hello_took() const {
    if (!hello_at_) return milliseconds(0);
    auto end = tls_begin_ && *tls_begin_ > *hello_at_ ? *tls_begin_ : login_at_ ? *login_at_ : done_at_.value_or(Clock::now());
    return between(*hello_at_, end);
  }
  milliseconds tls_took() const {
    if (!tls_begin_) return milliseconds(0);
    return between(*tls_begin_, tls_end_.value_or(Clock::now()));
  }
  milliseconds login_took() const {
    return login_at_ ? between(*login_at_, done_at_.value_or(Clock::now())) : milliseconds(0);
  }
  void mark_implicit() { phase_began_tls_first_ = true; }
  bool tls_done() const { return tls_end_.has_value() && inner_->is_tls(); }

 private:
  // Only the command verb is looked at, and only to note the phase; arguments (user names,
  // passwords, AUTH responses) are neither kept nor shown.
  void note_command(std::string_view head) {
    // IMAP commands start with their tag ("A0001 LOGIN"): the verb follows it.
    if (auto sp = head.find(' '); sp != std::string_view::npos && sp > 1 && head[0] == 'A' &&
                                  std::all_of(head.begin() + 1, head.begin() + static_cast<std::ptrdiff_t>(sp),
                                              [](char c) { return c >= '0' && c <= '9'; }))
      head.remove_prefix(sp + 1);
    auto is = [&](std::string_view verb) {
      if (head.size() < verb.size()) return false;
      for (std::size_t i = 0; i < verb.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(head[i])) != verb[i]) return false;
      return true;
    };
    auto now = Clock::now();
    if (is("EHLO") || is("LHLO") || is("HELO") || is("CAPA") || is("CAPABILITY")) {
      if (!hello_at_) hello_at_ = now;
      if (phase_ == Phase::greeting) phase_ = Phase::hello;
    } else if (is("STARTTLS") || is("STLS")) {
      tls_begin_ = now;
      phase_ = Phase::starttls;
    } else if (is("AUTH") || is("USER") || is("APOP") || is("LOGIN")) {
      if (!login_at_) login_at_ = now;
      phase_ = Phase::login;
    }
  }

  std::unique_ptr<net::Transport> inner_;
  Phase phase_;
  Clock::time_point t0_;
  bool phase_began_tls_first_ = false;
  std::optional<Clock::time_point> greeting_at_, hello_at_, tls_begin_, tls_end_, login_at_, done_at_;
};

// --- the steps of every session (doctor/session.cpp) ----------------------------------------------

// DNS step; the addresses found (empty: the report says why).
boost::asio::awaitable<std::vector<boost::asio::ip::tcp::endpoint>> resolve(const Target& t, Report& r);
// A TCP step per address (at most four); the first that accepted, if any.
boost::asio::awaitable<std::optional<boost::asio::ip::tcp::endpoint>> connect_each(
    const Target& t, const std::vector<boost::asio::ip::tcp::endpoint>& eps, Report& r);
boost::asio::awaitable<std::unique_ptr<Tap>> open_transport(const Target& t, const boost::asio::ip::tcp::endpoint& ep);

// The TLS step from what the transport kept; true when a failed handshake was diagnosed by its
// versions and ciphers, so the TLS mode is not what is wrong.
bool tls_step(const Target& t, Tap& tap, Report& r, bool failed_here, const std::string& error = {},
              const std::string& seen = {});
void greeting_step(Tap& tap, const std::string& greeting, Report& r);
void no_tls_step(const Target& t, Report& r);

// A session that failed: the steps that completed before, then the one that failed, in plain words.
struct Failure {
  std::string what;
  bool tls = false;   // STARTTLS missing, handshake or certificate refused
  bool auth = false;  // the login was refused, or no usable login method is offered
  std::string seen;   // what the diagnostic handshake got, after a refused handshake
  // A refused login whose reply the doctor recognises (words/provider_replies.hpp): what it means
  // and what to change, instead of the general login advice.
  std::optional<words::Explanation> explained = std::nullopt;
};
// The steps that completed before the failure (`capabilities` adds that step where the session
// got so far), then the failed one, in plain words.
void session_failure(const Target& t, Tap& tap, Report& r, const std::string& greeting,
                     const std::function<void()>& capabilities, const Failure& f);
void handshake_failed(const Target& t, Tap& tap, Report& r, const std::string& error, const std::string& seen);

// Greeting, capabilities and STLS/STARTTLS on `tr` in TLS mode `mode`, without a login, then QUIT.
// Returns the TLS session ("TLSv1.3 TLS_AES_256_GCM_SHA384") and, for SMTP, the login methods.
struct Unauthenticated {
  std::string session;
  std::vector<std::string> logins;
};
boost::asio::awaitable<Unauthenticated> open_without_login(const Target& t, net::Transport& tr, config::TlsMode mode);
// A second handshake that allows every version and cipher, after a refused one: names what the
// server speaks ("" when it fails too).
boost::asio::awaitable<std::string> diagnostic_handshake(const Target& t, Tap& tap,
                                                          const boost::asio::ip::tcp::endpoint& ep);
// Implicit TLS: the handshake is its own first step. False when it failed (the report says why).
boost::asio::awaitable<bool> implicit_handshake(const Target& t, Tap& tap, const boost::asio::ip::tcp::endpoint& ep,
                                                Report& r);

// A mailbox session (a POP3 or IMAP client) opened on `tap`: on success the greeting step is
// added; on failure a diagnostic handshake runs and `failed(error, seen)` reports it (false).
template <class Client, class Error, class Failed>
boost::asio::awaitable<bool> open_mailbox(const Target& t, Tap& tap, const boost::asio::ip::tcp::endpoint& ep,
                                          Client& client, Report& r, Failed failed) {
  std::optional<Error> error;
  try {
    co_await client.open();
  } catch (const Error& e) {
    error = e;
  }
  if (error) {
    std::string seen = co_await diagnostic_handshake(t, tap, ep);
    failed(*error, seen);
    co_return false;
  }
  tap.finish();
  greeting_step(tap, client.greeting(), r);
  co_return true;
}
// After a mailbox session's capabilities: its STARTTLS (or missing TLS) and, when it logged in,
// the login step.
void login_steps(const Target& t, Tap& tap, const std::string& method, bool logged_in, Report& r);

// --- the sessions (doctor/pop3_probe.cpp, doctor/imap_probe.cpp, doctor/smtp_probe.cpp) and --ports (doctor/ports.cpp) ----
boost::asio::awaitable<void> pop3_session(const Target& t, const boost::asio::ip::tcp::endpoint& ep, Report& r);
boost::asio::awaitable<void> imap_session(const Target& t, const boost::asio::ip::tcp::endpoint& ep, Report& r);
boost::asio::awaitable<void> pop_before_smtp(const Target& t, Report& r);
boost::asio::awaitable<void> smtp_session(const Target& t, const boost::asio::ip::tcp::endpoint& ep,
                                          const Options& opt, Report& r);
boost::asio::awaitable<void> scan_ports(const Target& t, Report& r);

}  // namespace pb::doctor
