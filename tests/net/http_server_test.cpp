// Status page server tests over real loopback sockets: the server runs on its own io_context
// thread on 127.0.0.1 port 0 with short time limits; blocking clients poke it, from 127.0.0.1 or
// 127.0.0.2 when a second client address is needed. Covers keep-alive, garbage and oversized
// requests, idle and slowloris cut-offs, the connection caps (in all and per address) and the
// stream cap, the event stream, the Host check (DNS rebinding), Basic login and its throttle,
// HTTPS with HSTS, and stop().
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "http/server.hpp"
#include "http_test_fixture.hpp"
#include "util/base64.hpp"

using namespace pb;
using namespace pb::http;
using namespace pb::http::test;
using pb::test::TempDir;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Fast limits so the timeouts can be observed in a test.
Limits test_limits() {
  Limits l;
  l.idle = 400ms;
  l.request = 600ms;
  l.write = 2000ms;
  l.stream_poll = 50ms;
  l.stream_status = 200ms;
  l.auth_failure_delay = 300ms;
  return l;
}

config::Web loopback_web() {
  config::Web w;
  w.listen = inet::Endpoint{"127.0.0.1", 0};
  return w;
}

// The server on its own thread; stop() runs on that thread, then the thread must finish by itself.
class Running {
 public:
  Running(const std::filesystem::path& dir, config::Web web = loopback_web(), Limits limits = test_limits())
      : view(dir), server(std::make_unique<Server>(io.get_executor(), web, view, limits)) {
    server->start();
    port = server->port();
    done = std::async(std::launch::async, [this] { io.run(); });
  }
  ~Running() { shutdown(); }

  // Runs f on the server's thread and waits for it (the store is not shared across threads).
  template <class F>
  void on_server(F f) {
    std::promise<void> p;
    asio::post(io, [&] {
      f();
      p.set_value();
    });
    p.get_future().wait();
  }

  // stop() ends every connection and coroutine: io.run() must return without io.stop().
  bool shutdown() {
    if (stopped) return true;
    stopped = true;
    asio::post(io, [this] { server->stop(); });
    bool ended = done.wait_for(5s) == std::future_status::ready;
    if (!ended) {
      io.stop();
      done.wait();
    }
    server.reset();
    return ended;
  }

  asio::io_context io;
  FakeView view;
  std::unique_ptr<Server> server;
  std::uint16_t port = 0;
  std::future<void> done;
  bool stopped = false;
};

// A blocking client whose reads give up after `timeout` (SO_RCVTIMEO) so no test can hang; it
// connects from the loopback address `from`.
class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds timeout = 3000ms, const char* from = "127.0.0.1")
      : socket(io) {
    socket.open(tcp::v4());
    socket.bind({asio::ip::make_address(from), 0});
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void send(const std::string& bytes) { asio::write(socket, asio::buffer(bytes)); }
  boost::system::error_code try_send(const std::string& bytes) {
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(bytes), ec);
    return ec;
  }

  bhttp::response<bhttp::string_body> response() {
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket, buffer, res);
    return res;
  }

  // Everything until the server closes; `closed` tells whether it did (rather than a timeout, or
  // 5 s of answers that never end, like an event stream).
  std::string until_close(bool& closed) {
    std::string out(static_cast<const char*>(buffer.data().data()), buffer.size());
    buffer.clear();
    char chunk[4096];
    for (auto end = Clock::now() + 5s;;) {
      if (Clock::now() > end) {
        closed = false;
        return out;
      }
      boost::system::error_code ec;
      std::size_t n = socket.read_some(asio::buffer(chunk), ec);
      out.append(chunk, n);
      if (ec) {
        closed = ec == asio::error::eof || ec == asio::error::connection_reset;
        return out;
      }
    }
  }

  // Reads until `marker` has arrived (or the read times out); returns all read so far.
  std::string until(const std::string& marker) {
    char chunk[4096];
    while (text.find(marker) == std::string::npos) {
      boost::system::error_code ec;
      std::size_t n = socket.read_some(asio::buffer(chunk), ec);
      text.append(chunk, n);
      if (ec) break;
    }
    return text;
  }

  // Whatever has arrived by now, added to `text`, without waiting.
  std::string more() {
    char chunk[4096];
    while (socket.available() > 0) {
      std::size_t n = socket.read_some(asio::buffer(chunk));
      text.append(chunk, n);
    }
    return text;
  }

  asio::io_context io;
  tcp::socket socket;
  beast::flat_buffer buffer;
  std::string text;
};

std::string get_request(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

std::string request_for(const std::string& method, const std::string& target, const std::string& host,
                        const std::string& extra = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n";
}

std::string basic(const std::string& user_pw) { return "Authorization: Basic " + base64::encode(user_pw) + "\r\n"; }

// openssl passwd -6 -salt abc secret / -salt xyz other
const char* const kAdminHash =
    "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1";
const char* const kChefHash =
    "$6$xyz$GYCo94IPPZlbkAqL4FBG88JipB45n/cAiitq/wWCOYEeOrFQstRF5VoY17qZ4jGnHUYXaIAUftKlbhyrpje81.";

config::Web web_with_logins() {
  config::Web web = loopback_web();
  web.users.push_back({"admin", kAdminHash, 1, {}});
  web.users.push_back({"chef", kChefHash, 5, {}});
  return web;
}

// A self-signed P-256 certificate for 127.0.0.1, written as PEM files into dir.
void write_test_certificate(const std::filesystem::path& dir) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  REQUIRE(key);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
  FILE* f = std::fopen((dir / "web.pem").c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen((dir / "web.key").c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

}  // namespace

TEST_CASE("http server: keep-alive serves several requests on one connection", "[http][server]") {
  TempDir dir;
  Running srv(dir.path());
  REQUIRE(srv.port != 0);
  Client c(srv.port);
  c.send(get_request("/healthz"));
  auto first = c.response();
  CHECK(first.result() == bhttp::status::ok);
  CHECK(first.body() == "ok\n");
  CHECK(first.keep_alive());
  c.send(get_request("/api/status"));
  auto second = c.response();
  CHECK(second.result() == bhttp::status::ok);
  CHECK_THAT(second.body(), Contains("\"accounts\""));
  c.send(get_request("/healthz", "Connection: close\r\n"));
  CHECK(c.response().result() == bhttp::status::ok);
  bool closed = false;
  c.until_close(closed);
  CHECK(closed);
  CHECK(srv.shutdown());
}

TEST_CASE("http server: garbage, oversized and Host-less requests get 4xx and a close", "[http][server]") {
  TempDir dir;
  Running srv(dir.path());
  struct Case {
    std::string bytes;
    bhttp::status expected;
  };
  const std::vector<Case> cases{
      {"HELLO THERE\r\n\r\n", bhttp::status::bad_request},
      {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", bhttp::status::bad_request},  // TLS to plain HTTP
      {"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", bhttp::status::bad_request},
      {"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n",
       bhttp::status::request_header_fields_too_large},
      {"POST /api/queue/1/retry HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", bhttp::status::payload_too_large},
      {"GET /healthz HTTP/1.1\r\n\r\n", bhttp::status::bad_request},  // RFC 9112 3.2: Host required
  };
  for (const auto& tc : cases) {
    INFO(tc.bytes.substr(0, 60));
    Client c(srv.port);
    c.try_send(tc.bytes);  // the server may close before reading everything
    bool closed = false;
    std::string reply = c.until_close(closed);
    CHECK(closed);
    CHECK_THAT(reply, StartsWith("HTTP/1.1 " + std::to_string(static_cast<int>(tc.expected))));
    CHECK_THAT(reply, Contains("Content-Security-Policy: default-src 'self'"));
  }
  // The server is still fine afterwards.
  Client ok(srv.port);
  ok.send(get_request("/healthz"));
  CHECK(ok.response().result() == bhttp::status::ok);
}

TEST_CASE("http server: idle and slowloris connections are closed", "[http][server][timeouts]") {
  TempDir dir;
  Running srv(dir.path());

  SECTION("a connection that never sends is closed after the idle time") {
    Client c(srv.port);
    auto start = Clock::now();
    bool closed = false;
    CHECK(c.until_close(closed).empty());
    CHECK(closed);
    auto took = Clock::now() - start;
    CHECK(took >= 300ms);
    CHECK(took < 2000ms);
  }
  SECTION("idle after a request: the keep-alive connection is closed too") {
    Client c(srv.port);
    c.send(get_request("/healthz"));
    CHECK(c.response().result() == bhttp::status::ok);
    bool closed = false;
    c.until_close(closed);
    CHECK(closed);
  }
  SECTION("a request trickling in byte by byte is cut off after the request time") {
    Client c(srv.port);
    auto start = Clock::now();
    std::string request = get_request("/healthz", "X-Slow: " + std::string(100, 'z') + "\r\n");
    bool cut = false;
    for (char ch : request) {
      if (c.try_send(std::string(1, ch))) {
        cut = true;
        break;
      }
      std::this_thread::sleep_for(40ms);
      if (Clock::now() - start > 3000ms) break;
    }
    bool closed = cut;
    if (!cut) c.until_close(closed);
    CHECK(closed);
    CHECK(Clock::now() - start < 2500ms);  // all of it would have taken 5 s
  }
}

TEST_CASE("http server: connections beyond the limit are told 503 at once", "[http][server][limits]") {
  TempDir dir;
  Limits limits = test_limits();
  limits.connections = 2;
  limits.idle = 5000ms;
  Running srv(dir.path(), loopback_web(), limits);
  Client a(srv.port), b(srv.port, 3000ms, "127.0.0.2");
  for (Client* c : {&a, &b}) {  // both surely accepted and counted
    c->send(get_request("/healthz"));
    CHECK(c->response().result() == bhttp::status::ok);
  }
  Client extra(srv.port, 2000ms, "127.0.0.3");
  bool closed = false;
  auto start = Clock::now();
  extra.try_send(get_request("/healthz"));
  std::string reply = extra.until_close(closed);
  CHECK(closed);
  CHECK_THAT(reply, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK_THAT(reply, Contains("Retry-After: 5\r\n"));
  CHECK_THAT(reply, Contains("connections open, its limit"));
  CHECK(Clock::now() - start < 1500ms);
  a.send(get_request("/healthz"));  // the admitted ones still work
  CHECK(a.response().result() == bhttp::status::ok);
}

TEST_CASE("http server: one address gets only its share of the connections", "[http][server][limits]") {
  TempDir dir;
  Limits limits = test_limits();
  limits.connections = 8;
  limits.connections_per_address = 2;
  limits.idle = 5000ms;
  Running srv(dir.path(), loopback_web(), limits);
  Client a(srv.port), b(srv.port);
  for (Client* c : {&a, &b}) {
    c->send(get_request("/healthz"));
    CHECK(c->response().result() == bhttp::status::ok);
  }
  Client third(srv.port);  // the same address once more: refused in words, at once
  third.try_send(get_request("/healthz"));
  bool closed = false;
  std::string reply = third.until_close(closed);
  CHECK(closed);
  CHECK_THAT(reply, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK_THAT(reply, Contains("Retry-After: 5\r\n"));
  CHECK_THAT(reply, Contains("the limit for one address"));
  Client admin(srv.port, 3000ms, "127.0.0.2");  // another address is still served
  admin.send(get_request("/api/status"));
  CHECK(admin.response().result() == bhttp::status::ok);
  a.socket.close();  // a slot of the first address frees up again
  std::this_thread::sleep_for(200ms);
  Client again(srv.port);
  again.send(get_request("/healthz"));
  CHECK(again.response().result() == bhttp::status::ok);
}

TEST_CASE("http server: a name the page is not served under gets 421 before anything else", "[http][server][hosts]") {
  TempDir dir;
  config::Web web = loopback_web();
  web.hostnames = {*inet::parse_host_port("gw.firma.local"), *inet::parse_host_port("status.firma.local:9443")};
  Running srv(dir.path(), web);
  std::int64_t id = 0;
  srv.on_server([&] { id = enqueue(srv.view.store(), "local", "Quartalszahlen vertraulich"); });
  const std::string rebound = "rebind.attacker.example:" + std::to_string(srv.port);
  const std::string page_headers = "X-Postbridge: 1\r\nSec-Fetch-Site: same-origin\r\nOrigin: http://" + rebound +
                                   "\r\nContent-Length: 0\r\n";
  const std::vector<std::string> requests{
      request_for("GET", "/api/queue", rebound),
      request_for("GET", "/api/events", rebound),
      request_for("GET", "/api/stream", rebound),
      request_for("GET", "/", rebound),
      request_for("GET", "/assets/app.js", rebound),
      request_for("HEAD", "/api/queue", rebound),
      request_for("GET", "/oauth/callback?code=c&state=good", rebound),
      request_for("POST", "/api/queue/" + std::to_string(id) + "/delete", rebound, page_headers),
      request_for("GET", "/api/queue", "gw.firma.local.attacker.example"),
      request_for("GET", "/api/queue", "status.firma.local:" + std::to_string(srv.port)),  // listed with another port
  };
  for (const auto& r : requests) {
    INFO(r);
    Client c(srv.port);
    c.send(r);
    bool closed = false;
    std::string reply = c.until_close(closed);
    CHECK(closed);
    CHECK_THAT(reply, StartsWith("HTTP/1.1 421 Misdirected Request\r\n"));
    if (r.starts_with("HEAD")) {
      CHECK(reply.ends_with("\r\n\r\n"));  // headers only
      continue;
    }
    CHECK_THAT(reply, Contains("\"error\":\"misdirected\""));
    CHECK_THAT(reply, Contains("add it to [web] hostnames in /etc/postbridge/postbridge.toml"));
    CHECK_THAT(reply, !Contains("Quartalszahlen"));
  }
  std::vector<std::string> oauth_calls;
  srv.on_server([&] {
    CHECK(srv.view.store().queue().get(id).has_value());  // not deleted
    oauth_calls = srv.view.oauth_calls;
  });
  CHECK(oauth_calls.empty());

  // The page's own names pass: address literals, localhost, and the hostnames entries.
  const std::string port = std::to_string(srv.port);
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "LocalHost.:" + port,
                                                         "[::1]:" + port, "gw.firma.local", "GW.Firma.Local.:" + port,
                                                         "gw.firma.local:443", "status.firma.local:9443"}) {
    INFO(host);
    Client c(srv.port);
    c.send(request_for("GET", "/api/queue", host));
    auto res = c.response();
    CHECK(res.result() == bhttp::status::ok);
    CHECK_THAT(res.body(), Contains("Quartalszahlen"));
  }
  // The Origin of a POST is held against the same list, not against the request's own Host.
  auto post_from = [&](const std::string& origin) {
    Client c(srv.port);
    c.send(request_for("POST", "/api/queue/" + std::to_string(id) + "/hold", "gw.firma.local",
                       "X-Postbridge: 1\r\nSec-Fetch-Site: same-origin\r\nContent-Length: 0\r\nOrigin: " + origin + "\r\n"));
    return c.response().result();
  };
  CHECK(post_from("http://evil.example") == bhttp::status::forbidden);
  CHECK(post_from("http://gw.firma.local:8080") == bhttp::status::forbidden);
  CHECK(post_from("https://gw.firma.local") == bhttp::status::ok);
}

TEST_CASE("http server: with logins, a foreign name gets 421, not a login prompt", "[http][server][hosts][login]") {
  TempDir dir;
  Running srv(dir.path(), web_with_logins());
  Client c(srv.port);
  c.send(request_for("GET", "/api/status", "rebind.attacker.example:" + std::to_string(srv.port)));
  auto res = c.response();
  CHECK(res.result() == bhttp::status::misdirected_request);
  CHECK(res[bhttp::field::www_authenticate].empty());
  CHECK_FALSE(res.keep_alive());
}

TEST_CASE("http server: the event stream sends status and new events", "[http][server][sse]") {
  TempDir dir;
  Limits limits = test_limits();
  limits.streams = 1;
  Running srv(dir.path(), loopback_web(), limits);
  srv.on_server([&] { srv.view.store().events().add(event("fetch", "info", "local", "ok", "old")); });

  Client c(srv.port);
  c.send(get_request("/api/stream"));
  std::string got = c.until("event: status");
  CHECK_THAT(got, StartsWith("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(got, Contains("Content-Type: text/event-stream"));
  CHECK_THAT(got, Contains("Content-Security-Policy:"));
  CHECK_THAT(got, Contains("retry: 3000\n\n"));
  CHECK_THAT(got, Contains("data: {\"version\":"));

  srv.on_server([&] { srv.view.store().events().add(event("fetch", "info", "local", "ok", "<b>new</b>")); });
  got = c.until("<b>new</b>");
  CHECK_THAT(got, Contains("id: 2\nevent: events\ndata: {\"events\":[{\"id\":2,"));
  CHECK_THAT(got, !Contains("\"old\""));  // only what happened after the connection
  auto status_count = [](const std::string& s) {
    std::size_t n = 0;
    for (auto at = s.find("event: status"); at != std::string::npos; at = s.find("event: status", at + 1)) ++n;
    return n;
  };
  const std::size_t statuses = status_count(got);
  std::this_thread::sleep_for(1000ms);
  CHECK(status_count(c.more()) >= statuses + 2);  // one every stream_status (200 ms)

  // The cap: a second stream is refused while the first is open.
  Client second(srv.port);
  second.send(get_request("/api/stream"));
  auto refused = second.response();
  CHECK(refused.result() == bhttp::status::service_unavailable);

  // A reconnecting EventSource names the last id it saw and gets what it missed.
  c.socket.close();
  std::this_thread::sleep_for(200ms);  // the server notices on its next write
  Client again(srv.port);
  again.send(get_request("/api/stream", "Last-Event-ID: 0\r\n"));
  got = again.until("\"subject\":\"<b>new</b>\"");
  CHECK_THAT(got, Contains("\"subject\":\"old\""));
  CHECK(srv.shutdown());  // stop() ends the open stream too
}

TEST_CASE("http server: Basic login with [[web.user]]", "[http][server][login]") {
  TempDir dir;
  Running srv(dir.path(), web_with_logins());
  // Every refusal closes the connection: without a login it holds no slot.
  auto refused = [&](const std::string& extra) {
    Client c(srv.port);
    c.send(get_request("/api/status", extra));
    auto res = c.response();
    CHECK(res.result() == bhttp::status::unauthorized);
    CHECK(res[bhttp::field::www_authenticate] == "Basic realm=\"postbridge\", charset=\"UTF-8\"");
    CHECK_FALSE(res.keep_alive());
    bool closed = false;
    c.until_close(closed);
    CHECK(closed);
  };
  refused("");

  // The password compares exactly; the name matches in any case (below).
  for (const char* wrong : {"admin:wrong", "nobody:secret", "admin:secret ", "admin:SECRET"}) {
    INFO(wrong);
    auto start = Clock::now();
    refused(basic(wrong));
    CHECK(Clock::now() - start >= 250ms);  // auth_failure_delay
  }
  for (const std::string& malformed : {std::string("Authorization: Bearer abc\r\n"), basic("admin")}) refused(malformed);

  Client c(srv.port);
  for (int i = 0; i < 3; ++i) {  // the first is hashed, the next come from the cache
    c.send(get_request("/api/status", basic("admin:secret")));
    auto res = c.response();
    CHECK(res.result() == bhttp::status::ok);
    CHECK(res.keep_alive());
  }
  refused("");  // every path needs the login
  Client upper(srv.port);  // names are unique regardless of case, so "ADMIN" is admin
  upper.send(get_request("/api/status", basic("ADMIN:secret")));
  CHECK(upper.response().result() == bhttp::status::ok);
  std::vector<login::LoginThrottle::Entry> entries;
  srv.on_server([&] { entries = srv.view.throttle.entries(login::LoginThrottle::Clock::now()); });
  CHECK(entries.empty());  // the right password started this address afresh
}

TEST_CASE("http server: wrong passwords make an address wait, and only that one", "[http][server][login][throttle]") {
  TempDir dir;
  Running srv(dir.path(), web_with_logins());
  auto ask = [&](const std::string& user_pw, const char* from = "127.0.0.1") {
    Client c(srv.port, 3000ms, from);
    c.send(get_request("/api/status", basic(user_pw)));
    return c.response();
  };
  CHECK(ask("admin:secret").result() == bhttp::status::ok);  // now in the login cache
  for (int i = 1; i <= 4; ++i) {
    INFO(i);
    CHECK(ask("admin:guess" + std::to_string(i)).result() == bhttp::status::unauthorized);
  }
  auto fifth = ask("admin:guess5");  // the fifth starts the wait (login::ThrottlePolicy)
  CHECK(fifth.result() == bhttp::status::too_many_requests);
  CHECK(fifth[bhttp::field::retry_after] == "2");
  CHECK_THAT(fifth.body(), Contains("too many wrong passwords from 127.0.0.1"));
  CHECK_FALSE(fifth.keep_alive());
  auto start = Clock::now();
  CHECK(ask("admin:guess6").result() == bhttp::status::too_many_requests);
  CHECK(ask("chef:other").result() == bhttp::status::too_many_requests);  // right, but not even checked
  CHECK(Clock::now() - start < 250ms);  // no hashing, no delay
  CHECK(ask("admin:secret").result() == bhttp::status::ok);  // a cached good login still passes
  // Another address is not affected.
  CHECK(ask("chef:other", "127.0.0.2").result() == bhttp::status::ok);
  CHECK(ask("chef:wrong", "127.0.0.2").result() == bhttp::status::unauthorized);

  std::vector<login::LoginThrottle::Entry> entries;
  srv.on_server([&] { entries = srv.view.throttle.entries(login::LoginThrottle::Clock::now()); });
  REQUIRE(entries.size() == 2);
  CHECK(entries[1].address == "127.0.0.1");
  CHECK(entries[1].doors == "status page");
  CHECK(entries[1].failures == 5);
  CHECK(entries[1].waiting > std::chrono::seconds(0));
  CHECK(entries[0].address == "127.0.0.2");
  // The page shows them.
  Client c(srv.port, 3000ms, "127.0.0.2");
  c.send(get_request("/api/status", basic("chef:other")));
  auto status = body_json(c.response()).at("logins").as_array();
  REQUIRE(status.size() == 2);
  CHECK(status[1].at("address").as_string() == "127.0.0.1");
  CHECK(status[1].at("doors").as_string() == "status page");
  CHECK(status[1].at("failures").as_int64() == 5);
  CHECK(status[1].at("waiting").as_int64() >= 1);
}

TEST_CASE("http server: HTTPS with the configured certificate", "[http][server][tls]") {
  TempDir dir;
  write_test_certificate(dir.path());
  config::Web web = loopback_web();
  web.tls_cert_file = (dir.path() / "web.pem").string();
  web.tls_key_file = (dir.path() / "web.key").string();
  Running srv(dir.path() / "state", web);

  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);  // self-signed: the test checks the transport, not trust
  asio::ssl::stream<tcp::socket> tls(io, ctx);
  tls.next_layer().connect({asio::ip::make_address("127.0.0.1"), srv.port});
  tls.handshake(asio::ssl::stream_base::client);
  asio::write(tls, asio::buffer(get_request("/healthz")));
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(tls, buffer, res);
  CHECK(res.result() == bhttp::status::ok);
  CHECK(res.body() == "ok\n");
  CHECK(res[bhttp::field::strict_transport_security] == "max-age=604800");  // RFC 6797 6.1

  // Plain HTTP to the HTTPS port: no answer in clear text, just a close.
  Client plain(srv.port);
  plain.send(get_request("/healthz"));
  bool closed = false;
  std::string reply = plain.until_close(closed);
  CHECK(closed);
  CHECK(reply.find("HTTP/1.1") == std::string::npos);
}

TEST_CASE("http server: start refuses a busy port in plain words, off means no socket", "[http][server]") {
  TempDir dir;
  Running first(dir.path());
  FakeView view(dir.path() / "other");
  asio::io_context io;
  config::Web web = loopback_web();
  web.listen->port = first.port;
  Server second(io.get_executor(), web, view);
  try {
    second.start();
    FAIL("start() on a busy port did not throw");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Contains("[web] listen: cannot listen on 127.0.0.1:" + std::to_string(first.port)));
    CHECK_THAT(e.what(), Contains("another program uses this port"));
  }
  config::Web off;
  off.listen.reset();
  Server none(io.get_executor(), off, view);
  none.start();
  CHECK(none.port() == 0);
}

TEST_CASE("http server: stop() closes idle connections at once", "[http][server]") {
  TempDir dir;
  Limits limits = test_limits();
  limits.idle = 10'000ms;
  Running srv(dir.path(), loopback_web(), limits);
  Client c(srv.port, 4000ms);
  c.send(get_request("/healthz"));
  CHECK(c.response().result() == bhttp::status::ok);
  auto start = Clock::now();
  CHECK(srv.shutdown());
  bool closed = false;
  c.until_close(closed);
  CHECK(closed);
  CHECK(Clock::now() - start < 2000ms);
}

namespace {
std::string post_request(const std::string& target, const std::string& extra = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n" + extra + "\r\n";
}
constexpr const char* kPageHeaders = "X-Postbridge: 1\r\nSec-Fetch-Site: same-origin\r\n";
}  // namespace

TEST_CASE("http server: the Test button runs the connection doctor and answers with its report", "[http][server][test]") {
  TempDir dir;
  Running srv(dir.path());
  Client c(srv.port);
  c.send(post_request("/api/test/account/info", kPageHeaders));
  auto res = c.response();
  CHECK(res.result() == bhttp::status::ok);
  CHECK_THAT(res.body(), Contains(R"("kind":"account","name":"info","ok":true)"));
  CHECK(res[bhttp::field::cache_control] == "no-store");
  CHECK(res.keep_alive());

  c.send(post_request("/api/test/local", kPageHeaders));
  CHECK_THAT(c.response().body(), Contains(R"("kind":"local","name":"local")"));

  SECTION("refused without the page's headers (CSRF), for GET, and for a malformed path") {
    c.send(post_request("/api/test/account/info"));
    CHECK(c.response().result() == bhttp::status::forbidden);
    c.send(get_request("/api/test/account/info"));
    auto get = c.response();
    CHECK(get.result() == bhttp::status::method_not_allowed);
    CHECK(get[bhttp::field::allow] == "POST");
    c.send(post_request("/api/test/mailbox/info", kPageHeaders));
    CHECK(c.response().result() == bhttp::status::not_found);
  }
  SECTION("the service's refusal: 409 while one runs, 404 for an unknown name") {
    srv.on_server([&] { srv.view.test_refusal = "a test of info is already running"; });
    c.send(post_request("/api/test/account/info", kPageHeaders));
    auto busy = c.response();
    CHECK(busy.result() == bhttp::status::conflict);
    CHECK_THAT(busy.body(), Contains("already running"));
    srv.on_server([&] { srv.view.test_refusal = "no account named 'nobody'"; });
    c.send(post_request("/api/test/account/nobody", kPageHeaders));
    CHECK(c.response().result() == bhttp::status::not_found);
  }
  std::vector<std::string> tests;
  srv.on_server([&] { tests = srv.view.tests; });
  CHECK(tests.front() == "account:info");
  CHECK(srv.shutdown());
}
