// The doctor's probes. The session steps run the production clients over a Tap transport that
// only notes when each protocol phase began (never what was sent), so timings and the failing
// step come from the real dialogue, secrets included in nothing.
#include "doctor/probe.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <algorithm>
#include <functional>
#include <ctime>
#include <optional>
#include <random>

#include "doctor/advice.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "endpoint/pop3.hpp"
#include "endpoint/route.hpp"
#include "mail/headers.hpp"
#include "pop3/client.hpp"
#include "smtp/client.hpp"
#include "util/display.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

namespace pb::doctor {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

milliseconds since(Clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
}
// Steps are built here, outside the coroutines: g++ 12 miscompiles braced aggregates with string
// members inside a coroutine body ("array used as initializer").
Step make_step(std::string name, std::string title, Verdict v = Verdict::ok, milliseconds took = milliseconds(0)) {
  Step s;
  s.name = std::move(name);
  s.title = std::move(title);
  s.verdict = v;
  s.took = took;
  return s;
}

milliseconds between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a);
}

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

const char* tls_words(config::TlsMode m) {
  switch (m) {
    case config::TlsMode::implicit: return "implicit TLS";
    case config::TlsMode::starttls: return "STARTTLS";
    case config::TlsMode::none: return "no TLS";
  }
  return "";
}

std::string endpoint_of(const Target& t) {
  return t.host + ":" + std::to_string(t.port) + ", " + to_string(t.protocol) + ", " + tls_words(t.tls);
}

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
    auto is = [&](std::string_view verb) {
      if (head.size() < verb.size()) return false;
      for (std::size_t i = 0; i < verb.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(head[i])) != verb[i]) return false;
      return true;
    };
    auto now = Clock::now();
    if (is("EHLO") || is("LHLO") || is("HELO") || is("CAPA")) {
      if (!hello_at_) hello_at_ = now;
      if (phase_ == Phase::greeting) phase_ = Phase::hello;
    } else if (is("STARTTLS") || is("STLS")) {
      tls_begin_ = now;
      phase_ = Phase::starttls;
    } else if (is("AUTH") || is("USER") || is("APOP")) {
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

// --- DNS and TCP --------------------------------------------------------------------------------

ConnectFailure classify(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) return ConnectFailure::timeout;
  if (ec == asio::error::connection_refused) return ConnectFailure::refused;
  if (ec == asio::error::network_unreachable || ec == asio::error::host_unreachable) return ConnectFailure::unreachable;
  return ConnectFailure::other;
}

std::string show_endpoint(const tcp::endpoint& ep) {
  std::string ip = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(ep.port());
}

// DNS step; the addresses found (empty: the report says why).
asio::awaitable<std::vector<tcp::endpoint>> resolve(const Target& t, Report& r) {
  Step s = make_step("dns", "DNS lookup of " + t.host);
  auto t0 = Clock::now();
  std::vector<tcp::endpoint> found;
  boost::system::error_code ec;
  asio::ip::make_address(t.host, ec);
  if (!ec) s.title = t.host + " is an IP address: no DNS lookup";
  tcp::resolver resolver(co_await asio::this_coro::executor);
  try {
    auto results = co_await resolver.async_resolve(t.host, std::to_string(t.port), asio::use_awaitable);
    for (const auto& e : results)
      if (std::find(found.begin(), found.end(), e.endpoint()) == found.end()) found.push_back(e.endpoint());
  } catch (const boost::system::system_error& e) {
    s.verdict = Verdict::failed;
    s.problem = dns_problem(t.host, e.code().message());
    r.advise(dns_advice(t.host));
  }
  s.took = since(t0);
  if (!found.empty() && ec) {  // a name: show what it resolved to
    std::string list;
    for (const auto& e : found) list += (list.empty() ? "" : ", ") + e.address().to_string();
    s.details.push_back(t.host + " -> " + list);
  }
  r.add(std::move(s));
  co_return found;
}

// A TCP step per address (at most four); the first that accepted, if any.
asio::awaitable<std::optional<tcp::endpoint>> connect_each(const Target& t, const std::vector<tcp::endpoint>& eps,
                                                           Report& r) {
  constexpr std::size_t kMaxTried = 4;
  std::optional<tcp::endpoint> first_ok;
  std::vector<ConnectFailure> failures;
  auto ex = co_await asio::this_coro::executor;
  for (std::size_t i = 0; i < eps.size() && i < kMaxTried; ++i) {
    Step s = make_step("tcp", "TCP to " + show_endpoint(eps[i]));
    auto t0 = Clock::now();
    beast::tcp_stream stream(ex);
    stream.expires_after(t.timeout);
    try {
      co_await stream.async_connect(eps[i], asio::use_awaitable);
      s.details.push_back("connected");
      if (!first_ok) first_ok = eps[i];
    } catch (const boost::system::system_error& e) {
      s.verdict = Verdict::failed;
      ConnectFailure f = classify(e.code());
      s.problem = tcp_problem(show_endpoint(eps[i]), f, t.timeout, e.code().message());
      failures.push_back(f);
    }
    s.took = since(t0);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    r.add(std::move(s));
  }
  // One address that works is enough: the others (often IPv6 without a route) are warnings.
  for (auto& s : r.steps) {
    if (s.name != "tcp" || s.verdict != Verdict::failed) continue;
    if (first_ok) s.verdict = Verdict::warning;
  }
  if (!first_ok)
    for (auto f : failures) r.advise(tcp_advice(t.port, t.protocol, f));
  co_return first_ok;
}

// --- the session -------------------------------------------------------------------------------

// The TLS step from what the transport kept. A handshake that failed before any certificate is
// about the versions and ciphers (assess_handshake, with what the diagnostic handshake `seen`), or
// else about `error`: never "no certificate". True when the failure was diagnosed that way, so the
// TLS mode is not what is wrong.
bool tls_step(const Target& t, Tap& tap, Report& r, bool failed_here, const std::string& error = {},
              const std::string& seen = {}) {
  Step s{"tls", std::string(t.tls == config::TlsMode::implicit ? "TLS handshake" : "STARTTLS and TLS handshake"),
         Verdict::ok, tap.tls_took(), {}, {}};
  auto info = tap.tls_peer();
  bool diagnosed = false;
  if (info && failed_here && !info->have_certificate) {
    HandshakeAssessment h = assess_handshake(info->failure, seen, t.host);
    diagnosed = !h.problem.empty();
    if (!seen.empty()) s.details.push_back("a second handshake, allowing every version and cipher, got " + seen);
    s.problem = diagnosed ? h.problem : error;
    r.advise(h.advice);
  } else if (info) {
    auto a = assess_certificate(*info, t.host, t.verify, static_cast<std::int64_t>(std::time(nullptr)));
    s.verdict = a.verdict;
    s.details = std::move(a.details);
    s.problem = a.problem;
    r.advise(a.advice);
  }
  if (failed_here && s.verdict != Verdict::failed) s.verdict = Verdict::failed;
  r.add(std::move(s));
  return diagnosed;
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

void smtp_capabilities(const Target& t, const smtp::Client& c, Tap& tap, Report& r) {
  const auto& ext = c.extensions();
  Step s{"capabilities", std::string(t.protocol == Protocol::lmtp ? "LHLO" : "EHLO") + " capabilities", Verdict::ok,
         tap.hello_took(), {}, {}};
  s.details.push_back(ext.auth.empty() ? "login methods: none offered" : "login methods: " + join(ext.auth));
  s.details.push_back(size_limit_detail(ext.size));
  std::vector<std::string> kw;
  if (ext.pipelining) kw.push_back("PIPELINING");
  if (ext.eightbitmime) kw.push_back("8BITMIME");
  if (ext.smtputf8) kw.push_back("SMTPUTF8");
  if (ext.chunking) kw.push_back("CHUNKING");
  if (ext.dsn) kw.push_back("DSN");
  if (ext.enhancedstatuscodes) kw.push_back("ENHANCEDSTATUSCODES");
  if (ext.starttls) kw.push_back("STARTTLS");
  s.details.push_back("extensions: " + (kw.empty() ? std::string("none") : join(kw)));
  if (t.max_message_size && ext.size && *ext.size > 0 && t.max_message_size->bytes > *ext.size) {
    s.verdict = Verdict::warning;
    s.problem = "max_message_size is " + format_size(*t.max_message_size) + " but " + size_limit_detail(ext.size) +
                ": larger messages will be refused";
  }
  if (t.tls == config::TlsMode::none && ext.starttls && t.kind != "local") {
    s.verdict = Verdict::warning;
    s.problem = "the server offers STARTTLS but tls = \"none\": the connection is not encrypted";
    r.advise("set tls = \"starttls\"");
  }
  r.add(std::move(s));
}

void pop3_capabilities(const Target& t, const pop3::Client& c, Tap& tap, Report& r) {
  const auto& caps = c.capabilities();
  Step s{"capabilities", "CAPA capabilities", Verdict::ok, tap.hello_took(), {}, {}};
  std::vector<std::string> logins;
  if (caps.user) logins.push_back("USER");
  for (const auto& m : caps.sasl) logins.push_back("SASL " + m);
  if (c.greeting().find('<') != std::string::npos) logins.push_back("APOP");
  if (!c.capa_answered()) s.details.push_back("no CAPA (it is optional, RFC 2449): the server names no capabilities");
  s.details.push_back("login methods: " + (logins.empty() ? std::string("not announced") : join(logins, ", ")));
  s.details.push_back(uidl_detail(caps.uidl ? UidlSupport::announced : UidlSupport::unknown) +
                      ", PIPELINING: " + (caps.pipelining ? "yes" : "no") + ", STLS: " + (caps.stls ? "yes" : "no"));
  if (caps.login_delay_s && t.account &&
      t.account->poll_interval < std::chrono::seconds(*caps.login_delay_s)) {
    if (s.verdict == Verdict::ok) s.verdict = Verdict::warning;
    s.problem = "the provider allows a login only every " + format_duration(std::chrono::seconds(*caps.login_delay_s)) +
                " (LOGIN-DELAY), poll_interval is " + format_duration(t.account->poll_interval);
    r.advise("set poll_interval to at least " + format_duration(std::chrono::seconds(*caps.login_delay_s)));
  }
  if (t.tls == config::TlsMode::none && caps.stls) {
    if (s.verdict == Verdict::ok) s.verdict = Verdict::warning;
    s.problem = "the server offers STLS but tls = \"none\": the password goes over the network unencrypted";
    r.advise("set tls = \"starttls\"");
  }
  r.add(std::move(s));
}

void greeting_step(Tap& tap, const std::string& greeting, Report& r);

// A session that failed: the steps that completed before, then the one that failed, in plain words.
struct Failure {
  std::string what;
  bool tls = false;   // STARTTLS missing, handshake or certificate refused
  bool auth = false;  // the login was refused, or no usable login method is offered
  std::string seen;   // what the diagnostic handshake got, after a refused handshake
};

void session_failure(const Target& t, Tap& tap, Report& r, const std::string& greeting,
                     const std::function<void()>& capabilities, const Failure& f) {
  const Phase p = tap.phase();
  const bool greeted = p != Phase::greeting && p != Phase::tls_first;
  if (greeted) greeting_step(tap, greeting, r);
  if (greeted && p != Phase::hello) capabilities();
  if (p == Phase::hello && (f.tls || f.auth)) capabilities();  // the EHLO/CAPA answer was complete
  if (t.tls == config::TlsMode::starttls && tap.tls_done()) tls_step(t, tap, r, false);

  if (f.tls || p == Phase::tls_first || p == Phase::starttls) {
    bool diagnosed = false;
    if (tap.tls_peer()) {
      diagnosed = tls_step(t, tap, r, true, f.what, f.seen);
      if (r.steps.back().problem.empty()) r.steps.back().problem = f.what;
    } else {
      r.add(Step{"tls", "TLS", Verdict::failed, tap.tls_took(), {}, f.what});
    }
    if (!diagnosed) r.advise(tls_mode_advice(t.port, t.tls, t.protocol, f.what));
  } else if (p == Phase::greeting) {
    r.add(Step{"greeting", "greeting", Verdict::failed, tap.greeting_took(), {}, f.what});
    r.advise(tls_mode_advice(t.port, t.tls, t.protocol, f.what));
  } else if (p == Phase::hello && !f.auth) {
    r.add(Step{"capabilities", "capabilities", Verdict::failed, tap.hello_took(), {}, f.what});
  } else if (p == Phase::hello) {  // no AUTH was sent: none of the offered methods is usable
    r.add(Step{"login", "login as " + t.username, Verdict::failed, milliseconds(0), {}, f.what});
    r.advise("this port offers no login the config allows: a submission port (465 or 587) does; a provider's "
             "port 25 is often for incoming mail only");
  } else {
    r.add(Step{"login", "login as " + t.username, Verdict::failed, tap.login_took(), {}, f.what});
    if (f.auth) r.advise(login_advice(t.protocol, t.host));
  }
}

// The failure handlers run outside the coroutines: g++ 12 mishandles braced temporaries (the
// Failure below, a {} argument) in a coroutine body (see make_step).
void handshake_failed(const Target& t, Tap& tap, Report& r, const std::string& error, const std::string& seen) {
  session_failure(t, tap, r, std::string(), [] {}, Failure{error, true, false, seen});
}

void pop3_failed(const Target& t, Tap& tap, Report& r, const pop3::Client& client, const pop3::Pop3Error& e,
                 const std::string& seen) {
  session_failure(t, tap, r, client.greeting(), [&] { pop3_capabilities(t, client, tap, r); },
                  Failure{e.what(), e.kind() == pop3::FailureKind::tls, e.kind() == pop3::FailureKind::auth, seen});
  if (e.kind() == pop3::FailureKind::in_use)
    r.advise("another program is reading this mailbox right now (or the postbridge service itself): "
             "try again in a minute, and make sure only one program fetches it");
}

void smtp_failed(const Target& t, Tap& tap, Report& r, const smtp::Client& client, const smtp::SessionError& e,
                 const std::string& seen) {
  session_failure(t, tap, r, client.greeting(), [&] { smtp_capabilities(t, client, tap, r); },
                  Failure{e.what(), e.kind() == smtp::FailureKind::tls, e.kind() == smtp::FailureKind::auth, seen});
}

void greeting_step(Tap& tap, const std::string& greeting, Report& r) {
  r.add(Step{"greeting", "greeting", Verdict::ok, tap.greeting_took(), {display::safe(greeting, 200)}, {}});
}

void no_tls_step(const Target& t, Report& r) {
  bool lan = t.kind == "local" && !t.has_login;
  r.add(Step{"tls", "TLS", lan ? Verdict::ok : Verdict::warning, milliseconds(0),
             {"not configured (tls = \"none\")"},
             lan ? "" : "the connection is not encrypted: anyone on the path can read the mail and the password"});
}

asio::awaitable<std::unique_ptr<Tap>> open_transport(const Target& t, const tcp::endpoint& ep) {
  net::TlsClientOptions tls{t.verify, t.ca_file, t.host};
  auto raw = co_await net::connect(ep.address().to_string(), ep.port(), false, tls, t.timeout);
  co_return std::make_unique<Tap>(std::move(raw), t.tls == config::TlsMode::implicit);
}

// Greeting, capabilities and STLS/STARTTLS on `tr` in TLS mode `mode`, without a login, then QUIT.
// Returns the TLS session ("TLSv1.3 TLS_AES_256_GCM_SHA384") and, for SMTP, the login methods.
struct Unauthenticated {
  std::string session;
  std::vector<std::string> logins;
};
asio::awaitable<Unauthenticated> open_without_login(const Target& t, net::Transport& tr, config::TlsMode mode) {
  Unauthenticated out;
  if (t.protocol == Protocol::pop3) {
    auto o = t.pop3;
    o.login = false;
    o.security = mode == config::TlsMode::implicit ? pop3::Security::implicit
                 : mode == config::TlsMode::starttls ? pop3::Security::stls : pop3::Security::none;
    pop3::Client c(tr, o);
    co_await c.open();
    out.session = tr.tls_description();
    co_await c.quit();
  } else {
    auto o = t.smtp;
    o.username.clear();
    o.security = mode == config::TlsMode::implicit ? smtp::Security::implicit
                 : mode == config::TlsMode::starttls ? smtp::Security::starttls : smtp::Security::none;
    smtp::Client c(tr, o);
    co_await c.open();
    out.session = tr.tls_description();
    out.logins = c.extensions().auth;
    co_await c.quit();
  }
  co_return out;
}

// After a handshake refused for its versions or ciphers (or answered with no TLS at all): a second
// handshake that allows every version and cipher names what the server speaks. It logs in to
// nothing and ends at once; postbridge itself never connects this way. Empty when it fails too.
asio::awaitable<std::string> diagnostic_handshake(const Target& t, Tap& tap, const tcp::endpoint& ep) {
  auto info = tap.tls_peer();
  if (!info || info->have_certificate ||
      (info->failure != net::TlsFailure::old_version && info->failure != net::TlsFailure::no_shared_cipher &&
       info->failure != net::TlsFailure::not_tls))
    co_return std::string();
  // The failed session ends first: an old server may serve one connection at a time, and a
  // provider may limit connections per address.
  tap.close();
  net::TlsClientOptions tls{false, "", t.host};
  tls.diagnostic_any_version = true;
  const bool implicit = t.tls == config::TlsMode::implicit;
  std::string seen;
  try {
    auto tr = co_await net::connect(ep.address().to_string(), ep.port(), implicit, tls, t.timeout);
    // No co_await inside ?: — g++ 12 evaluates it whatever the condition says.
    if (implicit) seen = tr->tls_description();
    else seen = (co_await open_without_login(t, *tr, t.tls)).session;
    tr->close();
  } catch (const std::exception&) {
    seen.clear();  // it found nothing either: the first error stands alone
  }
  co_return seen;
}

// Implicit TLS: the handshake is its own first step.
asio::awaitable<bool> implicit_handshake(const Target& t, Tap& tap, const tcp::endpoint& ep, Report& r) {
  if (t.tls != config::TlsMode::implicit) co_return true;
  tap.mark_implicit();
  std::optional<std::string> error;
  try {
    co_await tap.start_tls();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (error) {  // no co_await inside a handler (C++20 [expr.await])
    std::string seen = co_await diagnostic_handshake(t, tap, ep);
    handshake_failed(t, tap, r, *error, seen);
    co_return false;
  }
  tls_step(t, tap, r, false);
  co_return true;
}

// What UIDL means for this account, after trying it: a detail when CAPA did not say, and a
// failure when keep = true cannot work without it.
void uidl_verdict(const Target& t, bool announced, bool answered, Step& box, Report& r) {
  if (!announced) box.details.push_back(uidl_detail(answered ? UidlSupport::answered : UidlSupport::refused));
  if (answered || !t.account || !t.account->keep) return;
  box.verdict = Verdict::failed;
  box.problem = "keep = true needs UIDL to remember fetched messages, and this server refuses UIDL";
  r.advise("set keep = false (messages are deleted after delivery) or use another server");
}

std::string count_words(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

asio::awaitable<void> pop3_session(const Target& t, const tcp::endpoint& ep, Report& r) {
  auto tap = co_await open_transport(t, ep);
  if (!co_await implicit_handshake(t, *tap, ep, r)) co_return;
  pop3::Client client(*tap, t.pop3);
  std::optional<pop3::Pop3Error> failed;
  try {
    co_await client.open();
  } catch (const pop3::Pop3Error& e) {
    failed = e;
  }
  if (failed) {
    std::string seen = co_await diagnostic_handshake(t, *tap, ep);
    pop3_failed(t, *tap, r, client, *failed, seen);
    co_return;
  }
  tap->finish();
  greeting_step(*tap, client.greeting(), r);
  pop3_capabilities(t, client, *tap, r);
  if (t.tls == config::TlsMode::starttls) tls_step(t, *tap, r, false);
  if (t.tls == config::TlsMode::none) no_tls_step(t, r);
  Step login = make_step("login", "login as " + t.username, Verdict::ok, tap->login_took());
  login.details.push_back("accepted (" + client.login_method() + ")");
  r.add(std::move(login));

  auto t0 = Clock::now();
  Step box = make_step("mailbox", "mailbox");
  try {
    auto list = co_await client.list();
    std::uint64_t bytes = 0;
    for (const auto& e : list) bytes += e.size;
    box.details.push_back(count_words(list.size(), "message", "messages") + " (" + format_size(ByteSize{bytes}) +
                          ") waiting at the provider; nothing was fetched or deleted");
    // The fetcher sends UIDL whatever CAPA said (a server without CAPA may still have it).
    const bool answered = (co_await client.uidl()).has_value();
    uidl_verdict(t, client.capabilities().uidl, answered, box, r);
  } catch (const std::exception& e) {
    box.verdict = Verdict::failed;
    box.problem = std::string("LIST or UIDL failed after the login: ") + e.what();
  }
  box.took = since(t0);
  r.add(std::move(box));
  co_await client.quit();
}

std::string queue_id_of(const smtp::Reply& reply) {
  std::string text = reply.text();
  auto pos = text.find("queued as ");
  if (pos == std::string::npos) return text;
  auto start = pos + 10;
  auto end = text.find_first_of(" ;,)", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The test message: plain text that says where it came from.
std::string test_message(const Target& t, const std::string& to, const std::string& from, const std::string& helo) {
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::mt19937_64 rng{std::random_device{}()};
  return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: postbridge test message\r\nDate: " +
         mail::rfc5322_date(now) + "\r\nMessage-ID: <pbtest." + std::to_string(now) + "." +
         std::to_string(rng() % 1000000000) + "@" + helo +
         ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
         "This message was sent by `postbridge test` on " + helo + " through " + t.kind + " " + t.name + " (" +
         t.host + ").\r\nIf you read it, sending this way works.\r\n";
}

smtp::Envelope test_envelope(const std::string& from, const std::string& to) {
  smtp::Envelope env;
  env.sender = from;
  env.recipients.push_back(to);
  return env;
}

asio::awaitable<void> send_test(const Target& t, smtp::Client& client, const std::string& to, const std::string& from,
                                const std::string& helo, Report& r) {
  const std::string msg = test_message(t, to, from, helo);
  std::size_t offset = 0;
  smtp::BodyReader body = [&](char* buf, std::size_t len) {
    std::size_t n = std::min(len, msg.size() - offset);
    std::copy_n(msg.data() + offset, n, buf);
    offset += n;
    return n;
  };
  auto t0 = Clock::now();
  Step s = make_step("send", "test message from " + from + " to " + to);
  try {
    auto res = co_await client.send(test_envelope(from, to), msg.size(), body);
    s.details.push_back(res.reply.text());
    if (res.message == smtp::Outcome::accepted) {
      r.sent_queue_id = queue_id_of(res.reply);
    } else {
      s.verdict = Verdict::failed;
      s.problem = "the server refused the test message: " + res.reply.text();
      for (const auto& rc : res.recipients)
        if (rc.at_rcpt) s.details.push_back(rc.address + ": " + rc.reply.text());
      if (res.reply.code == 550 || res.reply.code == 553 || res.reply.code == 554)
        r.advise("providers take only their own addresses as senders: set rewrite_sender, or list the allowed "
                 "senders of this smarthost (--from picks another test sender)");
    }
  } catch (const std::exception& e) {
    s.verdict = Verdict::failed;
    s.problem = e.what();
  }
  s.took = since(t0);
  r.add(std::move(s));
}

asio::awaitable<void> smtp_session(const Target& t, const tcp::endpoint& ep, const Options& opt, Report& r) {
  auto tap = co_await open_transport(t, ep);
  if (!co_await implicit_handshake(t, *tap, ep, r)) co_return;
  smtp::Client client(*tap, t.smtp);
  std::optional<smtp::SessionError> failed;
  try {
    co_await client.open();
  } catch (const smtp::SessionError& e) {
    failed = e;
  }
  if (failed) {
    std::string seen = co_await diagnostic_handshake(t, *tap, ep);
    smtp_failed(t, *tap, r, client, *failed, seen);
    co_return;
  }
  tap->finish();
  greeting_step(*tap, client.greeting(), r);
  smtp_capabilities(t, client, *tap, r);
  if (t.tls == config::TlsMode::starttls) tls_step(t, *tap, r, false);
  if (t.tls == config::TlsMode::none) no_tls_step(t, r);
  if (t.has_login) {
    Step login = make_step("login", "login as " + t.username, Verdict::ok, tap->login_took());
    login.details.push_back("accepted");
    r.add(std::move(login));
  }
  if (!opt.send_to.empty()) co_await send_test(t, client, opt.send_to, opt.from.empty() ? t.sender : opt.from, t.smtp.helo_name, r);
  co_await client.quit();
}

asio::awaitable<void> pop_before_smtp(const Target& t, Report& r) {
  const config::Account& a = *t.pop_before;
  Step s = make_step("pop-before-smtp", "POP3 login to account " + a.name + " first (pop-before-smtp)");
  auto t0 = Clock::now();
  try {
    net::TlsClientOptions tls{a.tls_verify, a.ca_file, a.host};
    auto transport = co_await net::connect(a.host, a.port, a.tls == config::TlsMode::implicit, tls, t.timeout);
    auto o = endpoint::pop3_options(a);
    o.timeout = t.timeout;
    pop3::Client pop(*transport, o);
    co_await pop.open();
    co_await pop.quit();
    s.details.push_back("accepted");
  } catch (const std::exception& e) {
    s.verdict = Verdict::failed;
    s.problem = e.what();
    r.advise("run `postbridge test account " + a.name + "` to see why the POP3 login fails");
  }
  s.took = since(t0);
  r.add(std::move(s));
}

// --- --ports --------------------------------------------------------------------------------------

asio::awaitable<PortResult> try_port(const Target& t, std::uint16_t port, config::TlsMode mode) {
  PortResult res{port, config::to_string(mode), Verdict::failed, {}};
  net::TlsClientOptions tls{t.verify, t.ca_file, t.host};
  try {
    auto tr = co_await net::connect(t.host, port, mode == config::TlsMode::implicit, tls, t.timeout);
    Unauthenticated u = co_await open_without_login(t, *tr, mode);
    res.verdict = Verdict::ok;
    res.detail = u.session.empty() ? std::string("no TLS") : u.session;
    if (t.protocol != Protocol::pop3 && u.logins.empty()) {
      res.verdict = Verdict::warning;
      res.detail += ", but no login offered (not a submission port: mail for others is refused there)";
    } else if (t.protocol != Protocol::pop3) {
      res.detail += ", login: " + join(u.logins);
    }
  } catch (const net::NetFailure& e) {
    res.detail = e.kind() == net::NetError::timeout ? std::string("no answer (blocked by a firewall?)") : e.what();
  } catch (const std::exception& e) {
    res.detail = e.what();
  }
  co_return res;
}

asio::awaitable<void> scan_ports(const Target& t, Report& r) {
  std::vector<std::pair<std::uint16_t, config::TlsMode>> candidates;
  if (t.protocol == Protocol::pop3) candidates = {{995, config::TlsMode::implicit}, {110, config::TlsMode::starttls}};
  else candidates = {{465, config::TlsMode::implicit}, {587, config::TlsMode::starttls}, {25, config::TlsMode::starttls}};
  // A port of the provider's own choosing is tried first: when it works, it stays configured.
  const bool usual = std::any_of(candidates.begin(), candidates.end(), [&](const auto& c) { return c.first == t.port; });
  if (!usual) candidates.insert(candidates.begin(), {t.port, t.tls});
  for (const auto& [port, mode] : candidates) r.ports.push_back(co_await try_port(t, port, mode));
  r.port_advice = port_recommendation(r.ports, t.port, t.tls);
  if (!r.port_advice.starts_with("the configured port")) r.advise(r.port_advice);
}

// --- OAuth: the access token comes before any connection --------------------------------------

std::string host_of_url(const std::string& url) {
  try {
    return oauth::parse_endpoint_url(url).host;
  } catch (const std::exception&) {
    return url;
  }
}

// Without a token the session still shows DNS, TCP, TLS and the capabilities, and logs in to nothing.
void drop_login(Target& t) {
  t.pop3.login = false;
  t.smtp.username.clear();
  t.smtp.oauth_mechanism.clear();
  t.has_login = false;
}

asio::awaitable<void> oauth_step(Target& t, const Options& opt, Report& r) {
  Step s = make_step("oauth", "OAuth access token from " + host_of_url(t.oauth2->token_url));
  auto t0 = Clock::now();
  try {
    auto tokens = opt.oauth_tokens ? opt.oauth_tokens : std::make_shared<endpoint::OAuthTokens>(t.token_dir);
    std::string token = co_await tokens->access_token(t.oauth_who, endpoint::oauth_client_config(*t.oauth2, t.oauth_who.login_name), false);
    t.pop3.bearer_token = token;
    t.smtp.bearer_token = token;
    s.details.push_back("a token for " + t.username + " (" + text::to_upper(t.pop3.oauth_mechanism.empty() ? t.smtp.oauth_mechanism : t.pop3.oauth_mechanism) + ")");
  } catch (const std::exception& e) {
    s.verdict = Verdict::failed;
    s.problem = e.what();
    drop_login(t);
    r.advise("the login needs a working OAuth token: postbridge oauth login " + t.oauth_who.login_name);
  }
  s.took = since(t0);
  r.add(std::move(s));
}

// --- the whole test ---------------------------------------------------------------------------

asio::awaitable<Report> run(Target t, Options opt) {
  Report r;
  r.kind = t.kind;
  r.name = t.name;
  r.endpoint = endpoint_of(t);
  auto endpoints = co_await resolve(t, r);
  if (!endpoints.empty()) {
    if (t.oauth2) co_await oauth_step(t, opt, r);
    if (t.pop_before) co_await pop_before_smtp(t, r);
    auto ep = co_await connect_each(t, endpoints, r);
    if (ep) {
      try {
        if (t.protocol == Protocol::pop3) co_await pop3_session(t, *ep, r);
        else co_await smtp_session(t, *ep, opt, r);
      } catch (const std::exception& e) {
        // A connection that broke between the TCP step and the protocol (rare: the server closed).
        Step s = make_step("session", "session", Verdict::failed);
        s.problem = e.what();
        r.add(std::move(s));
      }
    }
  }
  if (opt.ports && t.protocol != Protocol::lmtp && t.kind != "local") co_await scan_ports(t, r);
  co_return r;
}

milliseconds capped(Duration d, const Options& opt) {
  return std::min<milliseconds>(std::chrono::duration_cast<milliseconds>(d), opt.max_step);
}

}  // namespace

std::string test_sender(const config::Config& cfg, const config::Smarthost& s) {
  if (!s.rewrite_sender.empty()) return s.rewrite_sender;
  for (const auto& p : s.senders)
    if (!p.any_local()) return p.str();
  for (const auto& p : s.senders) return "postmaster@" + p.domain;
  if (s.username.find('@') != std::string::npos) return s.username;
  return cfg.service.postmaster;
}

asio::awaitable<Report> test_account(const config::Config& cfg, const config::Account& a, Options opt) {
  Target t;
  t.kind = "account";
  t.name = a.name;
  t.protocol = Protocol::pop3;
  t.host = a.host;
  t.port = a.port;
  t.tls = a.tls;
  t.verify = a.tls_verify;
  t.ca_file = a.ca_file;
  t.timeout = capped(a.timeout, opt);
  t.pop3 = endpoint::pop3_options(a);
  t.pop3.timeout = t.timeout;
  t.has_login = true;
  t.username = a.username;
  t.account = &a;
  if (a.oauth2) {
    t.oauth2 = a.oauth2;
    t.oauth_who = endpoint::oauth_login_of(cfg, a);
    t.token_dir = endpoint::oauth_token_dir(cfg);
    t.pop3.oauth_mechanism = config::oauth_mechanism(a.auth);
  }
  co_return co_await run(std::move(t), std::move(opt));
}

namespace {

Target smtp_target(const endpoint::Route& route, const Options& opt) {
  Target t;
  t.protocol = route.client.lmtp ? Protocol::lmtp : Protocol::smtp;
  t.host = route.host;
  t.port = route.port;
  t.tls = route.implicit_tls ? config::TlsMode::implicit
          : route.client.security == smtp::Security::starttls ? config::TlsMode::starttls : config::TlsMode::none;
  t.verify = route.tls_verify;
  t.ca_file = route.ca_file;
  t.smtp = route.client;
  t.timeout = capped(route.client.timeout, opt);
  t.smtp.timeout = t.timeout;
  t.smtp.data_timeout = std::max(t.timeout, milliseconds(std::chrono::seconds(60)));
  t.has_login = !route.client.username.empty();
  t.username = route.client.username;
  return t;
}

}  // namespace

asio::awaitable<Report> test_smarthost(const config::Config& cfg, const config::Smarthost& s, Options opt) {
  auto route = endpoint::resolve_route(cfg, endpoint::smarthost_route_name(s.name));
  Target t = smtp_target(*route, opt);
  t.kind = "smarthost";
  t.name = s.name;
  t.pop_before = s.pop_account.empty() ? nullptr : cfg.find_account(s.pop_account);
  t.max_message_size = s.max_message_size;
  t.sender = test_sender(cfg, s);
  if (s.oauth2) {
    t.oauth2 = s.oauth2;
    t.oauth_who = endpoint::oauth_login_of(cfg, s);
    t.token_dir = endpoint::oauth_token_dir(cfg);
  }
  co_return co_await run(std::move(t), std::move(opt));
}

asio::awaitable<Report> test_local(const config::Config& cfg, Options opt) {
  auto route = endpoint::resolve_route(cfg, endpoint::kLocalRoute);
  Target t = smtp_target(*route, opt);
  t.kind = "local";
  t.name = "local";
  t.sender = cfg.service.postmaster;
  co_return co_await run(std::move(t), std::move(opt));
}

}  // namespace pb::doctor
