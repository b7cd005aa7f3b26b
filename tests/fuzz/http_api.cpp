// Fuzz target: the status page's request handling: HTTP/1.1 requests as Beast parses them off the
// socket, then the request-target parser, Basic credentials, the CSRF rule and handle() (routing,
// parameters and every handler) against a fake service over a real queue store.
// Promises checked: every answer is a well-formed response of the documented kinds (api.md), with
// the security headers, valid JSON where JSON is said, and no action without passing CSRF.
//
// The input is the byte stream a client sends on one connection (up to 4 pipelined requests).
#include <stdlib.h>

#include <boost/beast/http/parser.hpp>
#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "fuzz.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/model.hpp"
#include "util/target.hpp"
#include "queue/spool.hpp"
#include "queue/store.hpp"

using namespace pb;
namespace fs = std::filesystem;
namespace bhttp = boost::beast::http;

namespace {

// The service as the page sees it (like tests/net/http_test_fixture.hpp, without Catch2): two
// accounts, the local route and a smarthost, and a store with a few messages and events.
class FakeView : public http::ServiceView {
 public:
  explicit FakeView(const fs::path& dir) : store_(dir) {
    http::AccountStatus info;
    info.name = "info";
    info.host = "pop.example.net:995";
    info.delivers_to = "info@firma.local";
    http::AccountStatus sales = info;
    sales.name = "sales";
    sales.state = "auth-failed";
    sales.last_error = "-ERR [AUTH] invalid password";
    accounts_ = {info, sales};
    http::RouteStatus local;
    local.route = local.name = local.kind = "local";
    local.host = "127.0.0.1:25";
    local.state = "ok";
    http::RouteStatus gmx;
    gmx.route = "smarthost:gmx";
    gmx.name = "gmx";
    gmx.kind = "smarthost";
    gmx.host = "mail.gmx.net:465";
    gmx.state = "paused";
    routes_ = {local, gmx};

    auto now = static_cast<queue::UnixTime>(std::time(nullptr));
    enqueue("local", "Rechnung März", {"anna@firma.local"}, now);
    auto held = enqueue("smarthost:gmx", "Angebot", {"kunde@example.org", "b@example.org"}, now);
    store_.queue().set_held(held, true);
    auto failed = enqueue("smarthost:gmx", "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", {"x@example.org"}, now);
    store_.queue().record_results(failed, {{"x@example.org", queue::RcptState::failed, "550 5.1.1 unknown"}}, "550", 0);
    using K = queue::EventKind;
    for (K kind : {K::fetch, K::deliver, K::send, K::poll, K::notice, K::error}) {
      queue::Event e;
      e.time = now;
      e.kind = kind;
      e.account = "info";
      e.route = "smarthost:gmx";
      e.result = kind == K::error ? queue::EventResult::failed : queue::EventResult::ok;
      e.subject = "Betreff \xC3\xA4";
      e.sender = "sender@provider.example";
      e.recipients = "anna@firma.local";
      e.text = "250 2.0.0 Ok";
      store_.events().add(e);
    }
  }

  std::int64_t started_at() const override { return 1'764'000'000; }
  std::vector<http::AccountStatus> accounts() override { return accounts_; }
  std::vector<http::RouteStatus> routes() override { return routes_; }
  http::StorageStatus storage() override { return {true, 5'000'000'000, 100'000'000, ""}; }
  bool poll_now(const std::string& account) override {
    ++actions;
    return account == "info";
  }
  bool resume(const std::string& smarthost) override {
    ++actions;
    return smarthost == "gmx";
  }
  void queue_changed() override { ++actions; }
  bool bounce(std::int64_t id) override {
    ++actions;
    return store_.queue().get(id).has_value();
  }
  queue::Store& store() override { return store_; }
  http::ConfigStatus config_status() override { return {"/etc/postbridge/postbridge.toml", 1, 0, {}}; }
  pb::WhyNot start_test(const std::string&, const std::string&, std::function<void(std::string)>) override {
    return "tests are not run by the fuzzer";
  }

  pb::WhyNot start_oauth(const std::string&, const std::string&) override {
    ++actions;
    return "no OAuth sign-ins in the fuzzer";
  }
  std::optional<http::OAuthLoginState> oauth_state(const std::string&, const std::string&) override { return std::nullopt; }
  // The provider's redirect (kind empty) is a GET by design, guarded by its unguessable state;
  // the page's paste box (kind given) is a POST and counts as an action.
  pb::WhyNot finish_oauth(const std::string& kind, const std::string&, const std::string&) override {
    if (!kind.empty()) ++actions;
    return "no OAuth sign-ins in the fuzzer";
  }
  login::LoginThrottle& logins() override { return logins_; }
  http::TestAlertResult send_test_alert() override {
    ++actions;
    return {1, "", 0};
  }

  int actions = 0;  // calls that change something: only after the CSRF check

 private:
  queue::MessageId enqueue(const std::string& route, const std::string& subject, std::vector<std::string> rcpts,
                           queue::UnixTime now) {
    queue::SpoolFile f(store_.spool_dir());
    f.write("Subject: " + subject + "\r\n\r\nbody\r\n");
    queue::NewMessage m;
    m.route = route;
    m.sender = "boss@office.example";
    m.recipients = std::move(rcpts);
    m.size = f.size();
    m.subject = subject;
    m.spool_name = f.commit();
    return store_.queue().enqueue(m, now);
  }

  std::vector<http::AccountStatus> accounts_;
  std::vector<http::RouteStatus> routes_;
  queue::Store store_;
  login::LoginThrottle logins_;
};

// The page on http://127.0.0.1:8025/, also opened as gw.firma.local (a [web] hostnames entry).
http::Site fuzz_site() {
  config::Web web;
  web.listen = inet::Endpoint{"127.0.0.1", 8025};
  web.hostnames = {*inet::parse_host_port("gw.firma.local")};
  return http::Site(web, 8025);
}

struct World {
  fs::path root;
  std::unique_ptr<FakeView> view;
  http::Site site = fuzz_site();
  int generation = 0;

  World() {
    std::string tmpl = (fs::temp_directory_path() / "pb-fuzz-http-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    root = tmpl;
    reset();
  }
  // A fresh store whenever an action changed the last one, so every input meets the same state.
  void reset() {
    view.reset();
    std::error_code ec;
    fs::remove_all(root / "state", ec);
    view = std::make_unique<FakeView>(root / "state");
  }
};

World& world() {
  static World* w = [] {
    auto* p = new World;
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(world().root, ec);
    });
    return p;
  }();
  return *w;
}

bool has(const http::Response& res, std::string_view name) { return res.find(name) != res.end(); }

void check_target(std::string_view target) {
  auto t = target::parse_target(target);
  if (!t) return;
  PB_FUZZ_CHECK(!t->path.empty() && t->path.front() == '/', target);
  PB_FUZZ_CHECK(t->path.find_first_of("?#") == std::string::npos, target);
  for (const auto& s : t->segments) PB_FUZZ_CHECK(!fuzz::has_control(s), s);
  for (const auto& [k, v] : t->query) PB_FUZZ_CHECK(!fuzz::has_control(k) && !fuzz::has_control(v), k + "=" + v);
  // Percent-encoding every decoded segment again gives a target with the same segments.
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string again;
  for (const auto& s : t->segments) {
    again += '/';
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
      if (plain) again += c;
      else again += {'%', kHex[u >> 4], kHex[u & 15]};
    }
  }
  // An empty last segment ("/a//") stands for the trailing slash that parse_target drops.
  if (again.empty() || (!t->segments.empty() && t->segments.back().empty())) again += "/";
  auto t2 = target::parse_target(again);
  PB_FUZZ_CHECK(t2 && t2->segments == t->segments, again);
}

void check_response(const http::Request& req, const http::Response& res, int actions_before, int actions_after) {
  const unsigned code = res.result_int();
  const std::string shown = std::string(req.target()) + " -> " + std::to_string(code) + " " + res.body();
  PB_FUZZ_CHECK(code == 200 || code == 202 || code == 304 || code == 400 || code == 403 || code == 404 ||
                    code == 405 || code == 409,
                shown);
  for (std::string_view h : {"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"})
    PB_FUZZ_CHECK(has(res, h), shown);
  if (code == 405) PB_FUZZ_CHECK(has(res, "Allow"), shown);
  if (req.method() == bhttp::verb::head) PB_FUZZ_CHECK(res.body().empty(), shown);
  // Nothing changes without the CSRF header and a same-origin request.
  if (actions_after != actions_before) {
    PB_FUZZ_CHECK(req.method() == bhttp::verb::post && !http::csrf_refusal(req, world().site), shown);
  }
  if (req.method() == bhttp::verb::head || code == 304) return;
  std::string_view type = res[bhttp::field::content_type];
  if (type.starts_with("application/json")) {
    PB_FUZZ_CHECK(fuzz::valid_utf8(res.body()), shown);
    boost::system::error_code ec;
    auto v = boost::json::parse(res.body(), ec);
    PB_FUZZ_CHECK(!ec && v.is_object(), shown);
    if (code >= 400) PB_FUZZ_CHECK(v.as_object().contains("error") && v.as_object().contains("message"), shown);
  }
  PB_FUZZ_CHECK(res[bhttp::field::content_length] == std::to_string(res.body().size()), shown);
}

void check_request(const http::Request& req) {
  World& w = world();
  check_target(req.target());
  if (auto creds = http::parse_basic(req[bhttp::field::authorization]))
    PB_FUZZ_CHECK(creds->user.find(':') == std::string::npos, creds->user);
  if (auto why = http::csrf_refusal(req, w.site)) PB_FUZZ_CHECK(!fuzz::has_control(*why), *why);
  // The Host check (server.cpp, before everything else) never throws, whatever the header holds.
  (void)w.site.serves_host(req[bhttp::field::host]);

  const int before = w.view->actions;
  if (http::is_stream_request(req)) {
    // Served by the socket layer; handle() must still answer it sensibly.
    PB_FUZZ_CHECK(req.method() == bhttp::verb::get, req.target());
  }
  http::Response res = http::handle(req, *w.view, w.site);
  check_response(req, res, before, w.view->actions);
  if (w.view->actions != before) w.reset();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = fuzz::view(data, size);
  for (int n = 0; n < 4 && !in.empty(); ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(16 * 1024);  // server.hpp's limits
    parser.body_limit(64 * 1024);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
    if (ec == bhttp::error::need_more) {
      parser.put_eof(ec);
    }
    if (ec || !parser.is_done()) return 0;
    in.remove_prefix(std::min(used, in.size()));
    check_request(parser.get());
  }
  return 0;
}
