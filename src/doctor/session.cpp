// The steps every probe's session has: DNS, TCP to each address, the TLS handshake (and the
// diagnostic one after a refusal), the greeting, and a failure told in plain words.
#include "doctor/session.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "util/display.hpp"
#include "util/text.hpp"

namespace pb::doctor {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

const char* tls_words(config::TlsMode m) {
  switch (m) {
    case config::TlsMode::implicit: return "implicit TLS";
    case config::TlsMode::starttls: return "STARTTLS";
    case config::TlsMode::none: return "no TLS";
  }
  return "";
}

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

}  // namespace

milliseconds since(Clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
}
Step make_step(std::string name, std::string title, Verdict v, milliseconds took) {
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

std::string endpoint_of(const Target& t) {
  return t.host + ":" + std::to_string(t.port) + ", " + to_string(t.protocol) + ", " + tls_words(t.tls);
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
bool tls_step(const Target& t, Tap& tap, Report& r, bool failed_here, const std::string& error,
              const std::string& seen) {
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

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

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
    if (f.auth && f.explained) r.advise(words::one_line(*f.explained));
    else if (f.auth) r.advise(login_advice(t.protocol, t.host));
  }
}

// The failure handlers run outside the coroutines: g++ 12 mishandles braced temporaries (the
// Failure below, a {} argument) in a coroutine body (see make_step).
void handshake_failed(const Target& t, Tap& tap, Report& r, const std::string& error, const std::string& seen) {
  session_failure(t, tap, r, std::string(), [] {}, Failure{error, true, false, seen});
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

void login_steps(const Target& t, Tap& tap, const std::string& method, bool logged_in, Report& r) {
  if (t.tls == config::TlsMode::starttls) tls_step(t, tap, r, false);
  if (t.tls == config::TlsMode::none) no_tls_step(t, r);
  if (!logged_in) return;
  Step login = make_step("login", "login as " + t.username, Verdict::ok, tap.login_took());
  login.details.push_back("accepted (" + method + ")");
  r.add(std::move(login));
}

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
  } else if (t.protocol == Protocol::imap) {
    auto o = t.imap;
    o.login = false;
    o.security = mode == config::TlsMode::implicit ? imap::Security::implicit
                 : mode == config::TlsMode::starttls ? imap::Security::starttls : imap::Security::none;
    imap::Client c(tr, o);
    co_await c.open();
    out.session = tr.tls_description();
    co_await c.logout();
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

}  // namespace pb::doctor
