// Sockets for the status page: admission of what net::accept_loop accepts, per-connection
// coroutine (plain or TLS), request limits and timeouts, the Host check, Basic login with a cache,
// off-thread hashing and the per-address throttle, and the SSE event stream.
// Routing and answers are handle() in api.cpp; this file only moves bytes and enforces limits.
#include "http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/json.hpp"
#include "http/site.hpp"
#include "util/target.hpp"
#include "net/accept.hpp"
#include "net/tls.hpp"
#include "util/log.hpp"
#include "util/password.hpp"
#include "util/text.hpp"

namespace pb::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using target::parse_target;
using asio::awaitable;
using asio::use_awaitable;

constexpr int kStreamBatch = 200;        // events per SSE message
constexpr int kStreamRetryMs = 3000;     // EventSource reconnect delay (WHATWG HTML 9.2 "retry")
constexpr std::size_t kFirstRead = 2048;
constexpr const char* kDoor = "status page";  // in the shared login throttle and its log lines
constexpr std::size_t kForeignNamesLogged = 32;  // distinct refused Host names logged per hour
constexpr int kBusyRetrySeconds = 5;
// RFC 6797 6.1: a week; long enough to cover an admin's visits, short enough that switching HTTPS
// off again locks nobody out for long. No includeSubDomains (the page may run on a LAN name whose
// siblings are plain HTTP) and no preload; browsers ignore it for an IP address (RFC 6797 8.1).
constexpr const char* kHsts = "max-age=604800";

struct Server::State {
  State(asio::any_io_executor ex, const config::Web& c, ServiceView& v, Limits l)
      : executor(std::move(ex)), cfg(c), view(v), limits(l), cache(l.auth_cache) {}

  asio::any_io_executor executor;
  config::Web cfg;
  ServiceView& view;
  Limits limits;
  std::shared_ptr<ssl::context> tls;
  std::unique_ptr<tcp::acceptor> acceptor;
  asio::thread_pool hasher{1};  // yescrypt takes tens of ms: never on the mail thread
  CredentialCache cache;
  std::optional<Site> site;     // set by start(), once the port is bound
  bool stopped = false;
  std::uint64_t generation = 0;  // counts reconfigure()s: a login checked across one is not trusted
  int connections = 0, streams = 0, busy = 0;
  std::unordered_map<std::string, int> per_address;  // open connections by login::throttle_key
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::function<void()>> closers;  // live connections, for stop()
  // Host names refused with 421 and already logged; forgotten hourly, so the log stays short.
  std::unordered_set<std::string> foreign_names;
  std::chrono::steady_clock::time_point foreign_since{};
};

namespace {

using StatePtr = std::shared_ptr<Server::State>;

// Lets stop() close a socket; undone when the coroutine that owns the socket ends.
class Closer {
 public:
  Closer(StatePtr st, std::function<void()> close) : st_(std::move(st)), id_(st_->next_id++) {
    st_->closers.emplace(id_, std::move(close));
  }
  ~Closer() { st_->closers.erase(id_); }
  Closer(const Closer&) = delete;
  Closer& operator=(const Closer&) = delete;

 private:
  StatePtr st_;
  std::uint64_t id_;
};

// Counts a connection from the moment it is accepted, before its coroutine first runs (so a
// burst cannot slip past the limits), until that coroutine ends: a served one in all and for its
// client's address, or a "full" answer in progress (bounded too, or a flood of connections would
// only move from the served ones to these). Move-only: it travels into the coroutine.
class Admission {
 public:
  enum Kind { served, busy };
  Admission(StatePtr st, Kind kind, std::string address)
      : st_(std::move(st)), kind_(kind), address_(std::move(address)) {
    if (kind_ == busy) {
      ++st_->busy;
      return;
    }
    ++st_->connections;
    ++st_->per_address[address_];
  }
  Admission(Admission&& other) noexcept
      : st_(std::move(other.st_)), kind_(other.kind_), address_(std::move(other.address_)) {}
  ~Admission() {
    if (!st_) return;  // moved from
    if (kind_ == busy) {
      --st_->busy;
      return;
    }
    --st_->connections;
    if (--st_->per_address[address_] <= 0) st_->per_address.erase(address_);
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  Admission& operator=(Admission&&) = delete;

 private:
  StatePtr st_;
  Kind kind_;
  std::string address_;  // login::throttle_key of the peer
};

class StreamSlot {
 public:
  explicit StreamSlot(Server::State& st) : st_(st) { ++st_.streams; }
  ~StreamSlot() { --st_.streams; }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

 private:
  Server::State& st_;
};

std::string peer_of(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string();
}

// Headers that depend on the transport: HSTS on every HTTPS answer.
void add_transport_headers(const Server::State& st, bhttp::fields& headers) {
  if (st.tls) headers.set(bhttp::field::strict_transport_security, kHsts);
}

template <class Stream>
awaitable<bool> send(Server::State& st, Stream& stream, Response& res) {
  add_transport_headers(st, res);
  beast::get_lowest_layer(stream).expires_after(st.limits.write);
  beast::error_code ec;
  co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  co_return !ec;
}

template <class Stream>
awaitable<bool> send_text(Server::State& st, Stream& stream, const std::string& text) {
  beast::get_lowest_layer(stream).expires_after(st.limits.write);
  beast::error_code ec;
  co_await asio::async_write(stream, asio::buffer(text), asio::redirect_error(use_awaitable, ec));
  co_return !ec;
}

// The answer to a request that could not be read, or nullopt to just close (timeout, peer gone).
std::optional<Response> read_failure(const beast::error_code& ec) {
  const auto& http_category = bhttp::make_error_code(bhttp::error::bad_method).category();
  if (ec == bhttp::error::header_limit)  // RFC 6585 5
    return error_response(11, false, bhttp::status::request_header_fields_too_large, "too_large",
                          "the request headers are too large");
  if (ec == bhttp::error::body_limit)
    return error_response(11, false, bhttp::status::payload_too_large, "too_large", "the request body is too large");
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return std::nullopt;
  if (ec.category() == http_category)
    return error_response(11, false, bhttp::status::bad_request, "bad_request", "malformed HTTP request");
  return std::nullopt;
}

std::optional<std::string> missing_host(const Request& req) {
  // RFC 9112 3.2: a server MUST respond 400 to an HTTP/1.1 request without exactly one Host.
  if (req.version() >= 11 && req.count(bhttp::field::host) != 1) return "an HTTP/1.1 request needs one Host header";
  return std::nullopt;
}

// A refusal sent by the socket layer (421, 401, 429) to a HEAD request: its headers, no body, or
// the client would read the body as the next response (RFC 9110 9.3.2).
Response fit_to(const Request& req, Response res) {
  if (req.method() == bhttp::verb::head) {
    res.content_length(res.body().size());
    res.body().clear();
  }
  return res;
}

// --- whose name ---------------------------------------------------------------------------------

// RFC 9110 15.5.20: 421 for a request "directed at a server that is unable or unwilling to
// produce an authoritative response" for its target, here a name this page is not served under
// (DNS rebinding, or a new name the admin has not listed yet). Before the login, so a rebinding
// page gets no login prompt either.
Response misdirected(ServiceView& view, const Request& req) {
  const std::string host = text::printable(req[bhttp::field::host], 100);
  return error_response(req.version(), false, bhttp::status::misdirected_request, "misdirected",
                        "this page is not served under the name " + host +
                            "; if you opened it through that name on purpose, add it to [web] hostnames in " +
                            view.config_status().file + " and reload postbridge");
}

// One line per refused name (not per request), at most kForeignNamesLogged names an hour.
void log_foreign_name(Server::State& st, const Request& req, const std::string& peer) {
  const auto now = std::chrono::steady_clock::now();
  if (now - st.foreign_since >= std::chrono::hours(1)) {
    st.foreign_names.clear();
    st.foreign_since = now;
  }
  const std::string host = text::printable(text::to_lower(req[bhttp::field::host]), 100);
  if (st.foreign_names.size() >= kForeignNamesLogged || !st.foreign_names.insert(host).second) return;
  log::warn("status page: refused a request from " + peer + " for the name " + host +
            " (not this page's; DNS rebinding looks like this); if the page is opened under that name on "
            "purpose, add it to [web] hostnames in " + st.view.config_status().file +
            (st.foreign_names.size() == kForeignNamesLogged ? " (further names are not logged this hour)" : ""));
}

// --- login ---------------------------------------------------------------------------------------

enum class Login { ok, needed, waiting };

struct LoginCheck {
  Login verdict = Login::needed;
  login::LoginThrottle::Clock::duration wait{};  // Login::waiting: until the next password is checked
};

Response login_required(const Request& req) {
  // Closed after the 401: a connection without a login holds no slot (the browser asks for the
  // password and comes back on a new one).
  auto res = error_response(req.version(), false, bhttp::status::unauthorized, "unauthorized",
                            "log in with a [web] user of postbridge");
  res.set(bhttp::field::www_authenticate, "Basic realm=\"postbridge\", charset=\"UTF-8\"");  // RFC 7617 2.1
  return res;
}

// RFC 6585 4: 429 with Retry-After (RFC 9110 10.2.3); the password was not checked.
Response too_many_logins(const Request& req, login::LoginThrottle::Clock::duration wait, const std::string& peer) {
  const auto seconds = std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
  auto res = error_response(req.version(), false, bhttp::status::too_many_requests, "too_many_logins",
                            "too many wrong passwords from " + peer + "; the next one is checked in " +
                                std::to_string(seconds) + " s (other addresses are not affected)");
  res.set(bhttp::field::retry_after, std::to_string(seconds));
  return res;
}

// Runs on the hasher thread. Parameters by value: the coroutine frame owns them (a capturing
// lambda coroutine would not, and g++ 12 mishandles those inside co_spawn).
awaitable<bool> verify_on_pool(std::string password, std::string hash) {
  co_return password::verify_password(password, hash);
}

void log_started_waiting(const std::string& peer, const login::LoginThrottle::Failure& f) {
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(f.wait).count();
  log::warn("status page: " + std::to_string(f.failures) + " wrong passwords from " + peer +
            "; its further logins wait, " + std::to_string(seconds) +
            " s now and doubling with each wrong one up to a lockout (other addresses are not affected)");
}

// Login::ok when no login is configured or the request's Basic credentials are right. Good
// credentials remembered in the cache pass before the throttle is asked, so a guesser behind the
// admin's NAT or proxy cannot lock the admin out. Otherwise a waiting address is refused without
// checking; the hash is checked on the hasher thread; a wrong password costs the client
// auth_failure_delay and counts in the throttle.
awaitable<LoginCheck> check_login(StatePtr st, const Request& req, const std::string& peer) {
  if (!st->cfg.login_required()) co_return LoginCheck{Login::ok};
  auto creds = parse_basic(req[bhttp::field::authorization]);
  if (!creds) co_return LoginCheck{Login::needed};  // a browser's first request carries none: no delay
  if (st->cache.contains(*creds, CredentialCache::Clock::now())) co_return LoginCheck{Login::ok};
  auto& logins = st->view.logins();
  if (auto wait = logins.wait(peer, login::LoginThrottle::Clock::now())) co_return LoginCheck{Login::waiting, *wait};
  const config::Login* user = st->cfg.find_user(creds->user);
  // An unknown name costs the same hashing as a known one: timing tells no names.
  std::string hash = user ? user->password_hash : st->cfg.users.front().password_hash;
  const std::uint64_t generation = st->generation;
  bool ok = co_await asio::co_spawn(st->hasher, verify_on_pool(creds->password, std::move(hash)), use_awaitable) && user;
  // A reload meanwhile may have removed this login or changed its password: ask again.
  if (st->stopped || st->generation != generation) co_return LoginCheck{Login::needed};
  const auto now = login::LoginThrottle::Clock::now();
  if (!ok) {
    auto failure = logins.failed(peer, kDoor, now);
    if (failure.started_waiting) log_started_waiting(peer, failure);
    log::warn("status page: login as '" + text::printable(creds->user, 64) + "' from " + peer + " rejected");
  }
  // Checks that ran in parallel (several connections of one guesser) tell nothing once the
  // address waits: the verdict stays hidden, so parallel guessing gains no extra answers.
  if (auto wait = logins.wait(peer, now)) co_return LoginCheck{Login::waiting, *wait};
  if (ok) {
    st->cache.remember(*creds, CredentialCache::Clock::now());
    logins.succeeded(peer);
    co_return LoginCheck{Login::ok};
  }
  asio::steady_timer delay(st->executor, st->limits.auth_failure_delay);
  beast::error_code ec;
  co_await delay.async_wait(asio::redirect_error(use_awaitable, ec));
  co_return LoginCheck{Login::needed};
}

// --- server-sent events --------------------------------------------------------------------------

// One SSE message (WHATWG HTML 9.2.6): "id:" then "event:" then one "data:" line; JSON has no raw
// newlines, so one line is enough.
std::string sse_message(std::string_view event, const boost::json::value& data, std::int64_t id = 0) {
  std::string out;
  if (id > 0) out += "id: " + std::to_string(id) + "\n";
  out += "event: " + std::string(event) + "\ndata: " + boost::json::serialize(data) + "\n\n";
  return out;
}

// Where the stream starts: after Last-Event-ID (a reconnecting EventSource) or ?after=, else now.
std::int64_t stream_start(ServiceView& view, const Request& req) {
  std::string given(req["Last-Event-ID"]);
  if (given.empty()) {
    auto t = parse_target(req.target());
    if (t) given = t->param("after").value_or("");
  }
  try {
    std::size_t used = 0;
    long long v = std::stoll(given, &used);
    if (used == given.size() && v >= 0) return v;
  } catch (const std::exception&) {  // absent or not a number: start with what happens next
  }
  return view.store().events().last_id();
}

std::string status_message(ServiceView& view) {
  return sse_message("status", status_json(view, static_cast<std::int64_t>(std::time(nullptr))));
}

// New events since `last` as one message (or "" when there are none); advances `last`.
std::string events_message(ServiceView& view, std::int64_t& last) {
  auto rows = view.store().events().after(last, kStreamBatch);
  if (rows.empty()) return "";
  boost::json::array events;
  for (const auto& e : rows) events.push_back(event_json(e));
  last = rows.back().id;
  return sse_message("events", boost::json::object{{"events", std::move(events)}}, last);
}

// Shared by the two halves of a stream: the writer waits on `tick`; the reader cancels it when the
// client goes away, so a closed tab frees its stream slot at once, not at the next failed write.
struct StreamLink {
  explicit StreamLink(asio::any_io_executor ex) : tick(std::move(ex)) {}
  asio::steady_timer tick;
  bool gone = false;
};

// The client sends nothing on a stream; any read completing means it closed (or broke) it.
template <class Stream>
awaitable<void> watch_close(Stream& stream, StreamLink& link) {
  std::array<char, 512> sink;
  beast::error_code ec;
  while (!ec) co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
  link.gone = true;
  link.tick.cancel();
}

// Writes status snapshots and new events until the client leaves, a write fails or stop().
// Always ends by closing the socket, which also ends watch_close().
template <class Stream>
awaitable<void> pump_events(StatePtr st, Stream& stream, StreamLink& link, std::int64_t last) {
  std::string out = "retry: " + std::to_string(kStreamRetryMs) + "\n\n" + status_message(st->view);
  auto next_status = std::chrono::steady_clock::now() + st->limits.stream_status;
  beast::error_code ec;
  while (!link.gone && !st->stopped) {
    if (!out.empty() && !co_await send_text(*st, stream, out)) break;
    if (link.gone) break;
    link.tick.expires_after(st->limits.stream_poll);
    co_await link.tick.async_wait(asio::redirect_error(use_awaitable, ec));
    if (link.gone || st->stopped) break;
    try {
      out = events_message(st->view, last);
      if (std::chrono::steady_clock::now() >= next_status) {
        out += status_message(st->view);
        next_status = std::chrono::steady_clock::now() + st->limits.stream_status;
      }
    } catch (const std::exception& e) {  // e.g. the database is busy: the page reconnects
      log::warn(std::string("status page: event stream ended: ") + e.what());
      break;
    }
  }
  beast::get_lowest_layer(stream).close();
}

template <class Stream>
awaitable<void> serve_stream(StatePtr st, Stream& stream, const Request& req) {
  if (st->streams >= st->limits.streams) {
    auto res = error_response(req.version(), false, bhttp::status::service_unavailable, "busy",
                              "too many open status streams; try again later");
    co_await send(*st, stream, res);
    co_return;
  }
  StreamSlot slot(*st);
  const std::int64_t last = stream_start(st->view, req);

  // No Content-Length and no chunking: the body ends when the connection does (RFC 9112 6.3).
  bhttp::response<bhttp::empty_body> head{bhttp::status::ok, req.version()};
  head.set(bhttp::field::content_type, "text/event-stream; charset=utf-8");
  add_security_headers(head, false);
  add_transport_headers(*st, head);
  head.set("X-Accel-Buffering", "no");  // a reverse proxy must not hold events back
  head.keep_alive(false);
  bhttp::response_serializer<bhttp::empty_body> sr{head};
  beast::get_lowest_layer(stream).expires_after(st->limits.write);
  beast::error_code ec;
  co_await bhttp::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
  if (ec || st->stopped) co_return;

  // The idle timeout does not apply to a stream (its reads never time out); each write still
  // has its deadline (expires_after only arms the write timer while the read is pending).
  beast::get_lowest_layer(stream).expires_never();
  StreamLink link(st->executor);
  using namespace asio::experimental::awaitable_operators;
  co_await (watch_close(stream, link) && pump_events(st, stream, link, last));
}

// --- the connection doctor ------------------------------------------------------------------------

// POST /api/test/...: the service runs the test; this request waits for its report (bounded: the
// doctor caps every step, and a stopping server ends the wait).
template <class Stream>
awaitable<bool> serve_test(StatePtr st, Stream& stream, const Request& req) {
  std::string kind, name;
  if (auto refusal = check_test_request(req, *st->site, kind, name)) co_return co_await send(*st, stream, *refusal);
  struct Wait {
    explicit Wait(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<std::string> report;
  };
  auto wait = std::make_shared<Wait>(st->executor);
  wait->timer.expires_after(std::chrono::minutes(5));
  WhyNot why = st->view.start_test(kind, name, [wait](std::string json) {
    wait->report = std::move(json);
    wait->timer.cancel();
  });
  if (why) {
    auto res = test_refused_response(req, *why);
    co_return co_await send(*st, stream, res);
  }
  beast::error_code ec;
  // The report may already be here (a view that answers at once): cancel() before async_wait()
  // would not wake it.
  if (!wait->report) co_await wait->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  if (st->stopped || !wait->report) co_return false;
  auto res = test_report_response(req, std::move(*wait->report));
  co_return co_await send(*st, stream, res);
}

// --- one connection ------------------------------------------------------------------------------

// Waits up to `idle` for the first byte of the next request (keep-alive), or only up to `request`
// for a new connection's first one (an open socket that says nothing holds a slot for nothing),
// then gives the whole request `request` time: a client trickling bytes (slowloris) is cut off.
template <class Stream>
awaitable<bool> await_request(Server::State& st, Stream& stream, beast::flat_buffer& buffer, bool first) {
  if (buffer.size() > 0) co_return true;
  beast::get_lowest_layer(stream).expires_after(first ? std::min(st.limits.idle, st.limits.request) : st.limits.idle);
  beast::error_code ec;
  std::size_t n = co_await stream.async_read_some(buffer.prepare(kFirstRead), asio::redirect_error(use_awaitable, ec));
  buffer.commit(n);
  co_return !ec && !st.stopped;
}

template <class Stream>
awaitable<void> serve(StatePtr st, Stream& stream, std::string peer) {
  beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    if (!co_await await_request(*st, stream, buffer, first)) co_return;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st->limits.header_bytes));
    parser.body_limit(st->limits.body_bytes);
    beast::get_lowest_layer(stream).expires_after(st->limits.request);
    beast::error_code ec;
    co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (st->stopped) co_return;
    if (ec) {
      if (auto res = read_failure(ec)) co_await send(*st, stream, *res);
      co_return;  // after a broken request the byte stream cannot be trusted: close
    }
    Request req = parser.release();
    if (auto why = missing_host(req)) {
      auto res = error_response(req.version(), false, bhttp::status::bad_request, "bad_request", *why);
      co_await send(*st, stream, res);
      co_return;
    }
    // An HTTP/1.0 request may come without Host: no browser's, so no rebinding page's either.
    if (req.count(bhttp::field::host) > 0 && !st->site->serves_host(req[bhttp::field::host])) {
      log_foreign_name(*st, req, peer);
      auto res = fit_to(req, misdirected(st->view, req));
      co_await send(*st, stream, res);
      co_return;
    }
    auto login = co_await check_login(st, req, peer);
    if (st->stopped) co_return;
    if (login.verdict != Login::ok) {
      auto res = fit_to(req, login.verdict == Login::waiting ? too_many_logins(req, login.wait, peer) : login_required(req));
      co_await send(*st, stream, res);
      co_return;
    }
    if (is_stream_request(req)) {
      co_await serve_stream(st, stream, req);
      co_return;
    }
    if (is_test_request(req)) {
      if (!co_await serve_test(st, stream, req) || !req.keep_alive()) co_return;
      continue;
    }
    Response res = handle(req, st->view, *st->site);
    if (!co_await send(*st, stream, res) || !res.keep_alive()) co_return;
  }
}

// Closing with unread request bytes makes the kernel send RST, which can destroy our last
// response (a 431, a 413) before the client reads it. So: FIN first, then read and drop what the
// client still sends, for a bounded time and amount (RFC 9112 9.6 "lingering close").
awaitable<void> linger_close(Server::State& st, beast::tcp_stream& tcp, std::chrono::milliseconds deadline) {
  beast::error_code ec;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  tcp.expires_after(deadline);
  std::array<char, 4096> sink;
  std::size_t dropped = 0;
  while (!ec && dropped < 4 * st.limits.body_bytes && !st.stopped) {
    dropped += co_await tcp.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
  }
}

std::chrono::milliseconds linger_time(const Server::State& st) {
  return std::min<std::chrono::milliseconds>(st.limits.request, std::chrono::milliseconds(2000));
}

awaitable<void> session(StatePtr st, tcp::socket socket, [[maybe_unused]] Admission admission) {
  const std::string peer = peer_of(socket);
  beast::tcp_stream tcp(std::move(socket));
  beast::error_code ec;
  if (!st->tls) {
    Closer closer(st, [&tcp] { tcp.close(); });
    co_await serve(st, tcp, peer);
    if (!st->stopped && tcp.socket().is_open()) co_await linger_close(*st, tcp, linger_time(*st));
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *st->tls);
  Closer closer(st, [&stream] { beast::get_lowest_layer(stream).close(); });
  beast::get_lowest_layer(stream).expires_after(st->limits.request);
  co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
  if (ec || st->stopped) co_return;  // e.g. plain HTTP sent to the HTTPS port
  co_await serve(st, stream, peer);
  if (st->stopped) co_return;
  beast::get_lowest_layer(stream).expires_after(st->limits.write);
  co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));  // RFC 8446 6.1 close_notify
}

void log_failure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    log::warn(std::string("status page: connection ended: ") + x.what());
  }
}

// The answer of a full server: 503 with Retry-After at once, before reading the request (which
// may never come), then a lingering close; all within limits.busy, so it holds nothing long.
Response busy_response(const std::string& why) {
  auto res = error_response(11, false, bhttp::status::service_unavailable, "busy", why);
  res.set(bhttp::field::retry_after, std::to_string(kBusyRetrySeconds));  // RFC 9110 10.2.3
  return res;
}

awaitable<void> answer_busy(StatePtr st, tcp::socket socket, [[maybe_unused]] Admission admission, std::string why) {
  beast::tcp_stream tcp(std::move(socket));
  const auto deadline = std::chrono::steady_clock::now() + st->limits.busy;
  auto res = busy_response(why);
  add_transport_headers(*st, res);
  beast::error_code ec;
  if (!st->tls) {
    Closer closer(st, [&tcp] { tcp.close(); });
    tcp.expires_at(deadline);
    co_await bhttp::async_write(tcp, res, asio::redirect_error(use_awaitable, ec));
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!ec && !st->stopped && left.count() > 0) co_await linger_close(*st, tcp, left);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *st->tls);
  Closer closer(st, [&stream] { beast::get_lowest_layer(stream).close(); });
  beast::get_lowest_layer(stream).expires_at(deadline);
  co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
  if (!ec && !st->stopped) co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  if (!ec && !st->stopped) co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
}

// Why a new connection from `address` cannot be served now, or "" when it can.
std::string full_because(const Server::State& st, const std::string& address) {
  if (st.connections >= st.limits.connections)
    return "the status page has " + std::to_string(st.limits.connections) +
           " connections open, its limit; try again in a few seconds";
  auto it = st.per_address.find(address);
  if (it != st.per_address.end() && it->second >= st.limits.connections_per_address)
    return "your address has " + std::to_string(st.limits.connections_per_address) +
           " connections open to the status page, the limit for one address; close other tabs or "
           "scripts, or try again in a few seconds";
  return "";
}

// Admits or turns away one accepted connection (net::accept_loop hands them over).
void admit(const StatePtr& st, tcp::socket socket) {
  std::string address = login::throttle_key(peer_of(socket));
  if (std::string why = full_because(*st, address); !why.empty()) {
    // Full: the ones already here keep being served; the newcomer is told so, unless even
    // the busy answers are at their limit (a flood), then it is just closed.
    if (st->busy >= st->limits.connections) {
      beast::error_code ec;
      socket.close(ec);
    } else {
      Admission busy(st, Admission::busy, std::move(address));
      asio::co_spawn(st->executor, answer_busy(st, std::move(socket), std::move(busy), std::move(why)), log_failure);
    }
    return;
  }
  Admission served(st, Admission::served, std::move(address));
  asio::co_spawn(st->executor, session(st, std::move(socket), std::move(served)), log_failure);
}

// The suites and options are net::server_context()'s, the same as the relay's STARTTLS.
std::shared_ptr<ssl::context> server_tls(const config::Web& cfg) {
  if (!cfg.tls()) return nullptr;
  try {
    return net::server_context(cfg.tls_cert_file, cfg.tls_key_file);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("[web] cannot load the HTTPS certificate " + cfg.tls_cert_file + " or key " +
                             cfg.tls_key_file + ": " + e.what());
  }
}

tcp::endpoint listen_endpoint(asio::any_io_executor ex, const inet::Endpoint& ep) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(ep.host == "localhost" ? "127.0.0.1" : ep.host, ec);
  if (!ec) return {addr, ep.port};
  tcp::resolver resolver(ex);
  auto found = resolver.resolve(ep.host, std::to_string(ep.port), ec);
  if (ec || found.empty())
    throw std::runtime_error("[web] listen: cannot find the address of " + ep.host + ": " + ec.message());
  return found.begin()->endpoint();
}

}  // namespace

Server::Server(asio::any_io_executor executor, const config::Web& cfg, ServiceView& view, Limits limits)
    : state_(std::make_shared<State>(std::move(executor), cfg, view, limits)) {}

Server::~Server() { stop(); }

void Server::start() {
  auto& st = *state_;
  if (!st.cfg.listen || st.acceptor) return;
  st.tls = server_tls(st.cfg);
  const auto& where = *st.cfg.listen;
  auto endpoint = listen_endpoint(st.executor, where);
  beast::error_code ec;
  auto acc = net::listen_on(st.executor, endpoint, ec);
  if (ec) {
    std::string hint = ec == asio::error::address_in_use    ? " (another program uses this port; change [web] listen)"
                       : ec == asio::error::access_denied ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                                                          : "";
    throw std::runtime_error("[web] listen: cannot listen on " + where.str() + ": " + ec.message() + hint);
  }
  st.acceptor = std::move(acc);
  st.site.emplace(st.cfg, port());
  st.stopped = false;
  inet::Endpoint shown = where;
  shown.port = port();
  log::notice("status page: " + std::string(st.tls ? "https" : "http") + "://" + shown.str() + "/" +
              (st.cfg.login_required() ? " (login required)" : ""));
  // The loop's callback holds the state, so the acceptor outlives the loop after a reconfigure().
  asio::co_spawn(st.executor,
                 net::accept_loop(*st.acceptor, "status page", shown.str(),
                                  [st = state_](tcp::socket socket) { admit(st, std::move(socket)); }),
                 log_failure);
}

void Server::reconfigure(const config::Web& cfg) {
  auto& st = *state_;
  if (cfg.listen != st.cfg.listen || cfg.tls() != st.cfg.tls() || !st.acceptor) {
    // Another address or scheme: a new server. Open pages lose their connection and reconnect.
    auto executor = st.executor;
    auto& view = st.view;
    auto limits = st.limits;
    stop();
    state_ = std::make_shared<State>(std::move(executor), cfg, view, limits);
    if (cfg.listen) start();
    return;
  }
  auto tls = server_tls(cfg);  // read again: a renewed certificate; throws before anything changed
  st.tls = std::move(tls);
  st.cfg = cfg;
  ++st.generation;
  st.cache.clear();  // a removed login or a changed password must not pass from the cache
  st.site.emplace(st.cfg, port());
  log::notice("status page: configuration reloaded (" + std::to_string(cfg.users.size()) + " login(s), " +
              std::to_string(cfg.hostnames.size()) + " extra host name(s))");
}

void Server::stop() {
  auto& st = *state_;
  st.stopped = true;
  if (st.acceptor) {
    beast::error_code ec;
    st.acceptor->close(ec);
  }
  auto closers = st.closers;  // closing may not re-enter, but copy anyway: the map is the sessions'
  for (auto& [id, close] : closers) close();
}

std::uint16_t Server::port() const {
  if (!state_->acceptor || !state_->acceptor->is_open()) return 0;
  beast::error_code ec;
  auto ep = state_->acceptor->local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace pb::http
