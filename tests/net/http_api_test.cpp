// Status page API handler tests without sockets: handle() on a fake ServiceView with a real Store.
// JSON shapes of api.md, paging and filters, queue actions, CSRF refusals, errors, static files,
// metrics and the chart; and that no secret from the configuration reaches any response.
#include <catch2/catch.hpp>

#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config.hpp"
#include "http/assets.hpp"
#include "http/json.hpp"
#include "http/tally.hpp"
#include "http_test_fixture.hpp"

using namespace pb;
using namespace pb::http;
using namespace pb::http::test;
using pb::test::TempDir;
using Catch::Matchers::Contains;
namespace json = boost::json;

namespace {

std::set<std::string> keys(const json::object& o) {
  std::set<std::string> out;
  for (const auto& kv : o) out.insert(std::string(kv.key()));
  return out;
}

std::vector<std::int64_t> event_ids(const json::value& v) {
  std::vector<std::int64_t> out;
  for (const auto& e : v.at("events").as_array()) out.push_back(e.at("id").as_int64());
  return out;
}

void check_security_headers(const Response& res, bool cacheable = false) {
  CHECK(res["Content-Security-Policy"] ==
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
  CHECK(res["X-Content-Type-Options"] == "nosniff");
  CHECK(res["Referrer-Policy"] == "no-referrer");
  CHECK(res[bhttp::field::cache_control] == (cacheable ? "no-cache" : "no-store"));
}

}  // namespace

TEST_CASE("http api: /healthz answers ok with the security headers", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  auto res = handle(get("/healthz"), view, loopback_site());
  CHECK(res.result() == bhttp::status::ok);
  CHECK(res.body() == "ok\n");
  CHECK(res[bhttp::field::content_type] == "text/plain; charset=utf-8");
  CHECK(res.keep_alive());
  check_security_headers(res);
}

TEST_CASE("http api: a full disk is in /api/status in plain words", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  view.storage_status = {false, 1'000'000, 100'000'000, "the state folder /var/lib/postbridge has only 1.0 MB free"};
  auto v = body_json(handle(get("/api/status"), view, loopback_site())).as_object();
  CHECK_FALSE(v.at("storage").at("ok").as_bool());
  CHECK(v.at("storage").at("free").to_number<std::int64_t>() == 1'000'000);
  CHECK(v.at("storage").at("problem").as_string() == "the state folder /var/lib/postbridge has only 1.0 MB free");
}

TEST_CASE("http api: a failed reload shows in /api/status with the problems", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  view.config.reload_failed_at = 1'764'000'500;
  view.config.reload_problems = {"/etc/postbridge/postbridge.toml:12:8: port: must be a number", "bad \xff byte"};
  auto v = body_json(handle(get("/api/status"), view, loopback_site())).as_object();
  const auto& problems = v.at("config").at("reload_problems").as_array();
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].as_string() == "/etc/postbridge/postbridge.toml:12:8: port: must be a number");
  CHECK(problems[1].as_string() == "bad \xEF\xBF\xBD byte");
  CHECK(v.at("config").at("reload_failed_at").as_int64() == 1'764'000'500);
}

TEST_CASE("http api: /api/status has the documented shape", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  enqueue(view.store(), "smarthost:gmx", "a");
  auto held = enqueue(view.store(), "smarthost:gmx", "b");
  REQUIRE(view.store().queue().set_held(held, true));
  enqueue(view.store(), "smarthost:gone", "c");  // a route no longer configured
  const auto now = login::LoginThrottle::Clock::now();
  view.throttle.failed("203.0.113.7", "relay", now - std::chrono::seconds(30));
  for (int i = 0; i < 5; ++i) view.throttle.failed("2001:db8:1:2::99", "status page", now);

  auto res = handle(get("/api/status"), view, loopback_site());
  REQUIRE(res.result() == bhttp::status::ok);
  CHECK(res[bhttp::field::content_type] == "application/json; charset=utf-8");
  check_security_headers(res);
  auto v = body_json(res).as_object();
  CHECK(keys(v) == std::set<std::string>{"version", "now", "started_at", "uptime", "accounts", "routes", "storage", "config",
                                         "logins", "queue"});
  CHECK(v.at("version").as_string() == PB_VERSION);
  CHECK(keys(v.at("config").as_object()) ==
        std::set<std::string>{"file", "loaded_at", "reload_failed_at", "reload_problems"});
  CHECK(v.at("config").at("reload_failed_at").as_int64() == 0);
  CHECK(v.at("config").at("reload_problems").as_array().empty());
  CHECK(keys(v.at("storage").as_object()) == std::set<std::string>{"ok", "free", "min_free", "problem"});
  CHECK(v.at("storage").at("ok").as_bool());
  CHECK(v.at("storage").at("min_free").to_number<std::int64_t>() == 100'000'000);
  CHECK(v.at("uptime").as_int64() >= 100);
  // Wrong passwords per address, most recent first; an IPv6 client counts as its /64.
  const auto& logins = v.at("logins").as_array();
  REQUIRE(logins.size() == 2);
  CHECK(keys(logins[0].as_object()) == std::set<std::string>{"address", "doors", "failures", "waiting", "last_failure_ago"});
  CHECK(logins[0].at("address").as_string() == "2001:db8:1:2::/64");
  CHECK(logins[0].at("doors").as_string() == "status page");
  CHECK(logins[0].at("failures").as_int64() == 5);
  CHECK(logins[0].at("waiting").as_int64() == 2);
  CHECK(logins[1].at("address").as_string() == "203.0.113.7");
  CHECK(logins[1].at("waiting").as_int64() == 0);
  CHECK(logins[1].at("last_failure_ago").as_int64() >= 30);

  const auto& accounts = v.at("accounts").as_array();
  REQUIRE(accounts.size() == 2);
  CHECK(keys(accounts[0].as_object()) ==
        std::set<std::string>{"name", "enabled", "host", "state", "polling", "last_poll", "next_poll", "last_success",
                              "last_error", "fetched_today", "bytes_today", "delivers_to", "oauth", "app_login"});
  CHECK(accounts[0].at("delivers_to").as_string() == "info@firma.local");
  CHECK(accounts[1].at("delivers_to").as_string() == "catch-all: firma.de, müller.de -> firma.local");
  CHECK(accounts[1].at("state").as_string() == "auth-failed");
  CHECK(accounts[1].at("last_error").as_string() == "Login rejected by pop.example.net: -ERR [AUTH] invalid password");
  CHECK(accounts[0].at("bytes_today").to_number<std::int64_t>() == 4096);

  const auto& routes = v.at("routes").as_array();
  REQUIRE(routes.size() == 2);
  CHECK(keys(routes[1].as_object()) ==
        std::set<std::string>{"route", "name", "kind", "host", "state", "paused_until", "rate_limited_until", "reason",
                              "last_reply", "sent_today", "sent_last_hour", "max_per_hour", "max_per_day", "oauth", "app_login", "queue"});
  CHECK(routes[1].at("state").as_string() == "rate-limited");
  CHECK(routes[1].at("rate_limited_until").as_int64() == 1'764'003'600);
  CHECK(routes[1].at("queue").at("queued").as_int64() == 1);
  CHECK(routes[1].at("queue").at("held").as_int64() == 1);
  CHECK(routes[0].at("queue").at("queued").as_int64() == 0);

  const auto& queue = v.at("queue").as_object();
  CHECK(queue.at("queued").as_int64() == 2);
  CHECK(queue.at("held").as_int64() == 1);
  CHECK(queue.at("failed").as_int64() == 0);
  const auto& by_route = queue.at("by_route").as_array();
  REQUIRE(by_route.size() == 2);
  CHECK(by_route[0].at("route").as_string() == "smarthost:gmx");
  CHECK(by_route[1].at("route").as_string() == "smarthost:gone");
}

TEST_CASE("http api: /api/events pages newest first and filters", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  auto& s = view.store();
  s.events().add(event("fetch", "info", "local", "ok", "Rechnung März"));       // 1
  s.events().add(event("deliver", "info", "local", "ok", "Rechnung März"));     // 2
  s.events().add(event("receive", "", "smarthost:gmx", "ok", "Angebot"));       // 3
  s.events().add(event("send", "", "smarthost:gmx", "deferred", "Angebot"));    // 4
  s.events().add(event("poll", "info", "", "ok"));                              // 5
  s.events().add(event("error", "sales", "", "auth-failed"));                   // 6
  s.events().add(event("bounce", "", "smarthost:gmx", "failed", "Angebot"));    // 7

  auto page = body_json(handle(get("/api/events?limit=3"), view, loopback_site()));
  CHECK(event_ids(page) == std::vector<std::int64_t>{7, 6, 5});
  CHECK(page.at("next_before").as_int64() == 5);
  page = body_json(handle(get("/api/events?limit=3&before=5"), view, loopback_site()));
  CHECK(event_ids(page) == std::vector<std::int64_t>{4, 3, 2});
  page = body_json(handle(get("/api/events?limit=3&before=2"), view, loopback_site()));
  CHECK(event_ids(page) == std::vector<std::int64_t>{1});
  CHECK(page.at("next_before").as_int64() == 0);

  auto ids = [&](const std::string& query) { return event_ids(body_json(handle(get("/api/events?" + query), view, loopback_site()))); };
  CHECK(ids("kind=fetch") == std::vector<std::int64_t>{1});
  CHECK(ids("kind=send") == std::vector<std::int64_t>{4, 2});
  CHECK(ids("kind=receive") == std::vector<std::int64_t>{3});
  CHECK(ids("kind=poll") == std::vector<std::int64_t>{5});
  CHECK(ids("kind=notice") == std::vector<std::int64_t>{7});
  CHECK(ids("kind=error") == std::vector<std::int64_t>{7, 6, 4});
  CHECK(ids("kind=all").size() == 7);
  CHECK(ids("account=info") == std::vector<std::int64_t>{5, 2, 1});
  CHECK(ids("smarthost=gmx&kind=send") == std::vector<std::int64_t>{4});
  CHECK(ids("route=local") == std::vector<std::int64_t>{2, 1});
  CHECK(ids("q=r%C3%A4chnung").empty());
  CHECK(ids("q=Rechnung+M%C3%A4rz") == std::vector<std::int64_t>{2, 1});
  CHECK(ids("q=angebot&kind=error") == std::vector<std::int64_t>{7, 4});

  // Every documented field.
  auto first = body_json(handle(get("/api/events?limit=1&before=2"), view, loopback_site())).at("events").at(0).as_object();
  CHECK(keys(first) == std::set<std::string>{"id", "time", "kind", "account", "route", "message_id", "sender",
                                             "recipients", "subject", "size", "count", "result", "text"});
  CHECK(first.at("subject").as_string() == "Rechnung März");
  CHECK(first.at("text").as_string() == "250 2.0.0 Ok");
}

TEST_CASE("http api: /api/events refuses bad parameters with 400", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  for (const char* bad : {"limit=0", "limit=501", "limit=ten", "before=-3", "before=1x", "kind=spam",
                          "q=%zz", "account=%00"}) {
    INFO(bad);
    auto res = handle(get(std::string("/api/events?") + bad), view, loopback_site());
    CHECK(res.result() == bhttp::status::bad_request);
    CHECK(body_json(res).at("error").as_string() == "bad_request");
  }
  auto res = handle(get("/api/events?q=" + std::string(201, 'x')), view, loopback_site());
  CHECK(res.result() == bhttp::status::bad_request);
  CHECK_THAT(std::string(body_json(res).at("message").as_string()), Contains("q is longer than 200 bytes"));
  CHECK(handle(get("/api/events?limit=500&before="), view, loopback_site()).result() == bhttp::status::ok);
}

TEST_CASE("http api: text from mail stays text, and invalid UTF-8 becomes U+FFFD", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  view.store().events().add(event("fetch", "info", "local", "ok", "<img src=x onerror=alert(1)> \"quoted\""));
  view.store().events().add(event("fetch", "info", "local", "ok", "caf\xE9 \xC3\xA9"));  // Latin-1 byte, then UTF-8
  auto res = handle(get("/api/events"), view, loopback_site());
  CHECK_THAT(res.body(), Contains(R"(<img src=x onerror=alert(1)> \"quoted\")"));
  auto v = body_json(res);
  CHECK(v.at("events").at(0).at("subject").as_string() == "caf\xEF\xBF\xBD \xC3\xA9");
  CHECK(v.at("events").at(1).at("subject").as_string() == "<img src=x onerror=alert(1)> \"quoted\"");
  CHECK(utf8_text("\xED\xA0\x80").size() == 9);  // a surrogate: three replacement characters
  CHECK(utf8_text("\xF0\x9F\x93\xA7") == "\xF0\x9F\x93\xA7");  // U+1F4E7 stays
  CHECK(utf8_text("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
}

TEST_CASE("http api: /api/queue lists undelivered messages with recipients", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  auto& s = view.store();
  auto a = enqueue(s, "local", "first", {"a@office.example", "b@office.example"});
  auto b = enqueue(s, "smarthost:gmx", "second");
  auto done = enqueue(s, "local", "done");
  s.queue().record_results(done, {{"client@customer.example", queue::RcptState::delivered, "250 ok"}}, "250 ok", 0);
  s.queue().record_attempt(b, 1'900'000'000);
  s.queue().record_results(b, {{"client@customer.example", queue::RcptState::pending, "451 later"}}, "451 later",
                   1'900'000'000);

  auto v = body_json(handle(get("/api/queue"), view, loopback_site()));
  CHECK(v.at("total").as_int64() == 2);
  const auto& msgs = v.at("messages").as_array();
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].at("id").as_int64() == a);
  CHECK(keys(msgs[0].as_object()) ==
        std::set<std::string>{"id", "route", "account", "sender", "recipients", "subject", "size", "state", "attempts",
                              "created_at", "next_attempt", "last_reply", "is_bounce"});
  CHECK(msgs[0].at("recipients").as_array().size() == 2);
  CHECK(msgs[0].at("recipients").at(1).at("address").as_string() == "b@office.example");
  CHECK(msgs[0].at("recipients").at(1).at("state").as_string() == "pending");
  CHECK(msgs[1].at("attempts").as_int64() == 1);
  CHECK(msgs[1].at("next_attempt").as_int64() == 1'900'000'000);
  CHECK(msgs[1].at("last_reply").as_string() == "451 later");

  CHECK(body_json(handle(get("/api/queue?route=local"), view, loopback_site())).at("total").as_int64() == 1);
  auto limited = body_json(handle(get("/api/queue?limit=1"), view, loopback_site()));
  CHECK(limited.at("messages").as_array().size() == 1);
  CHECK(limited.at("total").as_int64() == 2);
  CHECK(body_json(handle(get("/api/queue?state=held"), view, loopback_site())).at("total").as_int64() == 0);
  CHECK(handle(get("/api/queue?state=delivered"), view, loopback_site()).result() == bhttp::status::bad_request);
  CHECK(handle(get("/api/queue?limit=1001"), view, loopback_site()).result() == bhttp::status::bad_request);
}

TEST_CASE("http api: queue actions change the message and wake the deliverers", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  auto& s = view.store();
  auto id = enqueue(s, "local", "x");
  const std::string base = "/api/queue/" + std::to_string(id) + "/";
  auto state_after = [&](const std::string& action, bhttp::status expected) {
    auto res = handle(post(base + action), view, loopback_site());
    INFO(action << ": " << res.body());
    CHECK(res.result() == expected);
    auto v = body_json(res);
    return v.as_object().contains("state") ? std::string(v.at("state").as_string())
                                           : std::string(v.at("error").as_string());
  };

  CHECK(state_after("hold", bhttp::status::ok) == "held");
  CHECK(view.changes == 1);
  CHECK(state_after("hold", bhttp::status::conflict) == "conflict");
  CHECK(view.changes == 1);  // nothing changed, nobody woken
  CHECK(state_after("release", bhttp::status::ok) == "queued");
  CHECK(state_after("release", bhttp::status::conflict) == "conflict");
  CHECK(state_after("retry", bhttp::status::ok) == "queued");
  CHECK(state_after("bounce", bhttp::status::ok) == "failed");
  CHECK(view.bounced == std::vector<std::int64_t>{id});
  CHECK(state_after("bounce", bhttp::status::conflict) == "conflict");  // failed: nothing pending
  CHECK(state_after("hold", bhttp::status::conflict) == "conflict");
  CHECK(state_after("retry", bhttp::status::ok) == "queued");  // a failed message gets its recipients back
  CHECK(s.queue().get(id)->recipients[0].state == queue::RcptState::pending);

  const auto spool = s.spool_dir() / s.queue().get(id)->spool_name;
  REQUIRE(std::filesystem::exists(spool));
  auto res = handle(post(base + "delete"), view, loopback_site());
  CHECK(res.result() == bhttp::status::ok);
  CHECK(body_json(res).at("state").as_string() == "deleted");
  CHECK_FALSE(s.queue().get(id));
  CHECK_FALSE(std::filesystem::exists(spool));
  CHECK(state_after("delete", bhttp::status::not_found) == "not_found");
  CHECK(handle(post("/api/queue/abc/retry"), view, loopback_site()).result() == bhttp::status::not_found);
  CHECK(handle(post("/api/queue/0/retry"), view, loopback_site()).result() == bhttp::status::not_found);

  auto done = enqueue(s, "local", "done");
  s.queue().record_results(done, {{"client@customer.example", queue::RcptState::delivered, "250 ok"}}, "250 ok", 0);
  CHECK(handle(post("/api/queue/" + std::to_string(done) + "/delete"), view, loopback_site()).result() == bhttp::status::not_found);
}

TEST_CASE("http api: poll now and resume", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  auto res = handle(post("/api/accounts/info/poll"), view, loopback_site());
  CHECK(res.result() == bhttp::status::accepted);
  CHECK(body_json(res).at("account").as_string() == "info");
  CHECK(handle(post("/api/accounts/nobody/poll"), view, loopback_site()).result() == bhttp::status::not_found);
  CHECK(view.polled == std::vector<std::string>{"info", "nobody"});
  CHECK(handle(post("/api/smarthosts/gmx/resume"), view, loopback_site()).result() == bhttp::status::ok);
  CHECK(handle(post("/api/smarthosts/local/resume"), view, loopback_site()).result() == bhttp::status::not_found);
  CHECK(handle(post("/api/accounts/in%2Ffo/poll"), view, loopback_site()).result() == bhttp::status::not_found);  // %2F stays in the name
  CHECK(view.polled.back() == "in/fo");
}

TEST_CASE("http api: state-changing requests need same origin and the page's header", "[http][api][csrf]") {
  TempDir dir;
  FakeView view(dir.path());
  auto id = enqueue(view.store(), "local", "x");
  const std::string target = "/api/queue/" + std::to_string(id) + "/hold";
  auto refused = [&](Request req) {
    auto res = handle(req, view, loopback_site());
    INFO(res.body());
    CHECK(res.result() == bhttp::status::forbidden);
    CHECK(body_json(res).at("error").as_string() == "forbidden");
  };

  auto bare = request(bhttp::verb::post, target);
  refused(bare);  // neither header
  auto no_custom = post(target);
  no_custom.erase("X-Postbridge");
  refused(no_custom);  // a plain HTML form from anywhere
  auto cross = post(target);
  cross.set("Sec-Fetch-Site", "cross-site");
  refused(cross);
  auto same_site = post(target);
  same_site.set("Sec-Fetch-Site", "same-site");  // another port or subdomain is another origin
  refused(same_site);
  auto evil_origin = request(bhttp::verb::post, target);
  evil_origin.set("X-Postbridge", "1");
  evil_origin.set(bhttp::field::origin, "http://evil.example");
  refused(evil_origin);
  auto other_port = evil_origin;
  other_port.set(bhttp::field::origin, "http://127.0.0.1:9999");
  refused(other_port);
  // DNS rebinding: the attacker's page is same-origin with itself, its Origin equals its Host.
  auto rebound = post(target);
  rebound.set(bhttp::field::host, "rebind.attacker.example:8025");
  rebound.set(bhttp::field::origin, "http://rebind.attacker.example:8025");
  refused(rebound);
  auto other_scheme = post(target);
  other_scheme.set(bhttp::field::origin, "https://127.0.0.1:8025");  // this page is plain HTTP
  refused(other_scheme);
  auto null_origin = post(target);
  null_origin.set(bhttp::field::origin, "null");  // sandboxed frames, file:// pages
  refused(null_origin);
  CHECK(view.store().queue().get(id)->state == queue::MsgState::queued);
  CHECK(view.changes == 0);
  CHECK(view.polled.empty());

  auto origin_ok = evil_origin;
  origin_ok.set(bhttp::field::origin, "http://127.0.0.1:8025");  // browsers without Fetch Metadata
  CHECK(handle(origin_ok, view, loopback_site()).result() == bhttp::status::ok);
  CHECK(handle(post("/api/queue/" + std::to_string(id) + "/release"), view, loopback_site()).result() == bhttp::status::ok);
  // A script (curl) sends no Origin and no Fetch Metadata: the page's header is enough.
  auto script = request(bhttp::verb::post, "/api/queue/" + std::to_string(id) + "/hold");
  script.set("X-Postbridge", "1");
  CHECK(handle(script, view, loopback_site()).result() == bhttp::status::ok);
  // A name listed in [web] hostnames, behind a proxy that ends TLS: https and the default port.
  config::Web web;
  web.listen = inet::Endpoint{"127.0.0.1", 8025};
  web.hostnames = {*inet::parse_host_port("gw.firma.local")};
  const Site proxied(web, 8025);
  auto via_proxy = post("/api/queue/" + std::to_string(id) + "/release");
  via_proxy.set(bhttp::field::host, "gw.firma.local");
  via_proxy.set(bhttp::field::origin, "https://GW.firma.local");
  CHECK(handle(via_proxy, view, proxied).result() == bhttp::status::ok);
  via_proxy.set(bhttp::field::origin, "https://gw.firma.local:8443");  // not the listed ports
  CHECK(handle(via_proxy, view, proxied).result() == bhttp::status::forbidden);
}

TEST_CASE("http api: OAuth sign-in from the page: start, state, paste, callback", "[http][api][oauth]") {
  TempDir dir;
  FakeView view(dir.path());
  CHECK(body_json(handle(get("/api/oauth/account/info"), view, loopback_site())).at("state").as_string() == "none");
  auto started = handle(post("/api/oauth/account/info/start"), view, loopback_site());
  CHECK(started.result() == bhttp::status::accepted);
  auto v = body_json(started).as_object();
  CHECK(v.at("state").as_string() == "waiting");
  CHECK(v.at("user_code").as_string() == "ABCD-EFGH");
  CHECK(keys(v) == std::set<std::string>{"state", "flow", "user_code", "verification_uri", "url", "error", "expires_at"});
  CHECK(body_json(handle(get("/api/oauth/account/info"), view, loopback_site())).at("flow").as_string() == "device");
  // Refusals: no OAuth, a kind that is none, no CSRF header, GET to start.
  CHECK(handle(post("/api/oauth/account/bob/start"), view, loopback_site()).result() == bhttp::status::not_found);
  CHECK(handle(post("/api/oauth/queue/info/start"), view, loopback_site()).result() == bhttp::status::bad_request);
  auto no_csrf = post("/api/oauth/account/info/start");
  no_csrf.erase("X-Postbridge");
  CHECK(handle(no_csrf, view, loopback_site()).result() == bhttp::status::forbidden);
  CHECK(handle(get("/api/oauth/account/info/start"), view, loopback_site()).result() == bhttp::status::method_not_allowed);
  // The paste box takes {"url": ...}; a wrong state is refused with the view's words.
  auto paste = post("/api/oauth/smarthost/gmx/code");
  paste.body() = R"({"url":"http://127.0.0.1:8025/oauth/callback?code=c1&state=good"})";
  paste.prepare_payload();
  CHECK(handle(paste, view, loopback_site()).result() == bhttp::status::accepted);
  paste.body() = R"({"url":"http://127.0.0.1:8025/oauth/callback?code=c1&state=bad"})";
  paste.prepare_payload();
  auto refused = handle(paste, view, loopback_site());
  CHECK(refused.result() == bhttp::status::bad_request);
  CHECK(body_json(refused).at("message").as_string() == "that address belongs to another sign-in");
  paste.body() = "not json";
  paste.prepare_payload();
  CHECK(handle(paste, view, loopback_site()).result() == bhttp::status::bad_request);
  // The provider's redirect is a GET (a browser follows it); the result is plain text.
  auto back = handle(get("/oauth/callback?code=c2&state=good"), view, loopback_site());
  CHECK(back.result() == bhttp::status::ok);
  CHECK(std::string(back[bhttp::field::content_type]).starts_with("text/plain"));
  CHECK(back.body().find("received the sign-in") != std::string::npos);
  CHECK(handle(get("/oauth/callback?code=c2&state=other"), view, loopback_site()).result() == bhttp::status::bad_request);
  CHECK(view.oauth_calls == std::vector<std::string>{
                                "start account:info", "start account:bob",
                                "finish smarthost:gmx http://127.0.0.1:8025/oauth/callback?code=c1&state=good",
                                "finish smarthost:gmx http://127.0.0.1:8025/oauth/callback?code=c1&state=bad",
                                "finish : /oauth/callback?code=c2&state=good", "finish : /oauth/callback?code=c2&state=other"});
}

TEST_CASE("http api: unknown paths 404, wrong methods 405, malformed targets 400", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  auto res = handle(get("/api/nothing"), view, loopback_site());
  CHECK(res.result() == bhttp::status::not_found);
  CHECK(body_json(res).at("error").as_string() == "not_found");
  check_security_headers(res);
  CHECK(handle(get("/etc/passwd"), view, loopback_site()).result() == bhttp::status::not_found);
  CHECK(handle(get("/assets/../../etc/passwd"), view, loopback_site()).result() == bhttp::status::not_found);

  res = handle(request(bhttp::verb::post, "/api/status"), view, loopback_site());
  CHECK(res.result() == bhttp::status::method_not_allowed);
  CHECK(res[bhttp::field::allow] == "GET, HEAD");
  CHECK(body_json(res).at("error").as_string() == "method_not_allowed");
  res = handle(get("/api/queue/1/retry"), view, loopback_site());
  CHECK(res.result() == bhttp::status::method_not_allowed);
  CHECK(res[bhttp::field::allow] == "POST");
  CHECK(handle(request(bhttp::verb::delete_, "/api/queue"), view, loopback_site()).result() == bhttp::status::method_not_allowed);
  CHECK(handle(request(bhttp::verb::put, "/"), view, loopback_site()).result() == bhttp::status::method_not_allowed);

  for (const char* bad : {"http://127.0.0.1/api/status", "*", "/api/sta%tus", "/api/status#x", "/%00"}) {
    INFO(bad);
    auto r = handle(get(bad), view, loopback_site());
    CHECK(r.result() == bhttp::status::bad_request);
    CHECK_FALSE(r.keep_alive());
  }
  CHECK(handle(get("/api/status/"), view, loopback_site()).result() == bhttp::status::ok);  // a trailing slash is forgiven
}

TEST_CASE("http api: HEAD gives GET's headers without a body", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  auto full = handle(get("/healthz"), view, loopback_site());
  auto head = handle(request(bhttp::verb::head, "/healthz"), view, loopback_site());
  CHECK(head.result() == bhttp::status::ok);
  CHECK(head.body().empty());
  CHECK(head[bhttp::field::content_length] == std::to_string(full.body().size()));
}

// Found by tests/fuzz/http_api (regressions/http_api/head-malformed-target): the refusal of a
// malformed target returned before the HEAD rule and carried its JSON body.
TEST_CASE("http api: HEAD with a malformed target gets no body either", "[http][api]") {
  TempDir dir;
  FakeView view(dir.path());
  for (const char* bad : {"r/aetryatus", "/api/sta%tus", "/%00"}) {
    INFO(bad);
    auto res = handle(request(bhttp::verb::head, bad), view, loopback_site());
    CHECK(res.result() == bhttp::status::bad_request);
    CHECK(res.body().empty());
    CHECK_FALSE(res.keep_alive());
  }
}

TEST_CASE("http api: the page's files are served from the embedded table", "[http][api][assets]") {
  TempDir dir;
  FakeView view(dir.path());
  auto files = all_assets();
  CHECK(std::is_sorted(files.begin(), files.end(),
                       [](const EmbeddedFile& a, const EmbeddedFile& b) { return a.path < b.path; }));
  for (const auto& f : files) {
    INFO(f.path);
    CHECK((f.path == "/index.html" || f.path.starts_with("/assets/")));
    auto res = handle(get(std::string(f.path)), view, loopback_site());
    CHECK(res.result() == bhttp::status::ok);
    CHECK(res.body() == f.body);
    CHECK(res[bhttp::field::content_type] == f.content_type);
    CHECK(res[bhttp::field::etag] == f.etag);
    check_security_headers(res, true);
    auto again = get(std::string(f.path));
    again.set(bhttp::field::if_none_match, f.etag);
    auto cached = handle(again, view, loopback_site());
    CHECK(cached.result() == bhttp::status::not_modified);
    CHECK(cached.body().empty());
  }
  if (const auto* index = find_asset("/index.html")) {
    auto res = handle(get("/"), view, loopback_site());
    CHECK(res.result() == bhttp::status::ok);
    CHECK(res.body() == index->body);
    CHECK(res[bhttp::field::content_type] == "text/html; charset=utf-8");
  }
  CHECK(handle(get("/assets/no-such-file.js"), view, loopback_site()).result() == bhttp::status::not_found);
  CHECK(find_asset("/assets") == nullptr);
}

TEST_CASE("http api: /api/chart has 24 hourly buckets ending now", "[http][api][chart]") {
  TempDir dir;
  FakeView view(dir.path());
  const std::int64_t now = std::time(nullptr);
  const std::int64_t hour = now - now % 3600;
  auto& s = view.store();
  s.events().add(event("fetch", "info", "local", "ok", "", now));
  s.events().add(event("fetch", "info", "local", "ok", "", now));
  s.events().add(event("fetch", "info", "local", "skipped", "", now));  // not fetched
  s.events().add(event("deliver", "info", "local", "ok", "", hour - 1));  // the hour before
  s.events().add(event("send", "", "smarthost:gmx", "ok", "", hour - 3 * 3600));
  s.events().add(event("send", "", "smarthost:gmx", "failed", "", hour - 3 * 3600));
  s.events().add(event("fetch", "info", "local", "ok", "", hour - 24 * 3600));  // too old

  auto v = body_json(handle(get("/api/chart"), view, loopback_site()));
  CHECK(v.at("bucket_seconds").as_int64() == 3600);
  const auto& hours = v.at("hours").as_array();
  REQUIRE(hours.size() == 24);
  CHECK(hours[23].at("time").as_int64() == hour);
  CHECK(hours[0].at("time").as_int64() == hour - 23 * 3600);
  CHECK(hours[23].at("fetched").as_int64() == 2);
  CHECK(hours[22].at("delivered").as_int64() == 1);
  CHECK(hours[20].at("sent").as_int64() == 1);
  CHECK(hours[20].at("failed").as_int64() == 1);
  std::int64_t total = 0;
  for (const auto& h : hours) total += h.at("fetched").as_int64();
  CHECK(total == 2);
}

TEST_CASE("http api: /metrics in Prometheus text format", "[http][api][metrics]") {
  TempDir dir;
  FakeView view(dir.path());
  auto& s = view.store();
  s.events().add(event("fetch", "info", "local", "ok"));
  s.events().add(event("fetch", "info", "local", "ok"));
  s.events().add(event("deliver", "info", "local", "ok"));
  s.events().add(event("deliver", "info", "local", "deferred"));
  s.events().add(event("receive", "", "smarthost:gmx", "ok"));
  s.events().add(event("send", "", "smarthost:gmx", "ok"));
  s.events().add(event("bounce", "", "local", "failed"));
  s.events().add(event("bounce", "", "local", "delayed"));  // a delay notice is no bounce
  s.events().add(event("fetch", "we\"ird\\name\n", "local", "ok"));
  auto held = enqueue(s, "smarthost:gmx", "x");
  s.queue().set_held(held, true);

  auto res = handle(get("/metrics"), view, loopback_site());
  CHECK(res.result() == bhttp::status::ok);
  CHECK(res[bhttp::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = res.body();
  INFO(m);
  for (const char* line : {
           "# TYPE postbridge_up gauge\npostbridge_up 1\n",
           "# TYPE postbridge_fetched_total counter\n",
           "postbridge_fetched_total{account=\"info\"} 2\n",
           "postbridge_fetched_total{account=\"sales\"} 0\n",
           "postbridge_fetched_total{account=\"we\\\"ird\\\\name\\n\"} 1\n",
           "postbridge_delivered_total{route=\"local\"} 1\n",
           "postbridge_delivered_total{route=\"smarthost:gmx\"} 1\n",
           "postbridge_relayed_total{smarthost=\"gmx\"} 1\n",
           "postbridge_bounced_total 1\n",
           "postbridge_deferred_total{route=\"local\"} 1\n",
           "postbridge_deferred_total{route=\"smarthost:gmx\"} 0\n",
           "postbridge_queue_messages{route=\"smarthost:gmx\",state=\"held\"} 1\n",
           "postbridge_queue_messages{route=\"local\",state=\"queued\"} 0\n",
           "postbridge_last_successful_poll_timestamp_seconds{account=\"info\"} 1764000000\n",
       }) {
    CHECK_THAT(m, Contains(line));
  }
  CHECK(m.back() == '\n');
}

TEST_CASE("http tally: today's and last hour's counts for the service view", "[http][tally]") {
  TempDir dir;
  FakeView view(dir.path());
  auto& s = view.store();
  const std::int64_t now = std::time(nullptr);
  const std::int64_t midnight = local_day_start(now);
  CHECK(midnight <= now);
  CHECK(now - midnight < 25 * 3600);
  s.events().add(event("fetch", "info", "local", "ok", "", now));
  s.events().add(event("fetch", "info", "local", "ok", "", midnight - 1));  // yesterday
  s.events().add(event("send", "", "smarthost:gmx", "ok", "", now - 7200 < midnight ? now : now - 7200));
  s.events().add(event("send", "", "smarthost:gmx", "ok", "", now));
  std::vector<AccountStatus> accounts(1);
  accounts[0].name = "info";
  std::vector<RouteStatus> routes(1);
  routes[0].route = "smarthost:gmx";
  fill_counts(s, now, accounts, routes);
  CHECK(accounts[0].fetched_today == 1);
  CHECK(accounts[0].bytes_today == 1000);
  CHECK(routes[0].sent_today == 2);
  CHECK(routes[0].sent_last_hour == (now - 7200 < midnight ? 2 : 1));
}

TEST_CASE("http api: no secret from the configuration reaches any response", "[http][api][secrets]") {
  TempDir dir;
  const std::string secret = "Zebra-Pw-7f3a91-never-shown";
  const std::string hash =  // openssl passwd -6 -salt abc secret
      "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1";
  auto file = dir.path() / "postbridge.toml";
  std::ofstream(file) << "[service]\nstate_dir = \"state\"\n\n"
                      << "[local]\nusername = \"gw\"\npassword = \"" << secret << "\"\ntls = \"starttls\"\n\n"
                      << "[[account]]\nname = \"info\"\nhost = \"pop.example.net\"\nusername = \"info@firma.de\"\n"
                      << "password = \"" << secret << "\"\ndeliver_to = [\"info@firma.local\"]\n\n"
                      << "[[relay.user]]\nname = \"scanner\"\npassword_hash = \"" << hash << "\"\n\n"
                      << "[[smarthost]]\nname = \"gmx\"\nhost = \"mail.gmx.net\"\nusername = \"u@gmx.de\"\n"
                      << "password = \"" << secret << "\"\nsenders = [\"*@firma.de\"]\n\n"
                      << "[web]\nlisten = \"127.0.0.1:8025\"\n[[web.user]]\nname = \"admin\"\npassword_hash = \""
                      << hash << "\"\n";
  // As the package installs it: a config with inline passwords must not be readable by others.
  std::filesystem::permissions(file, std::filesystem::perms(0640), std::filesystem::perm_options::replace);
  auto cfg = config::load(file);

  // The view as the service builds it from that configuration.
  FakeView view(cfg.service.state_dir);
  view.accounts_list.resize(1);
  view.accounts_list[0].name = cfg.accounts[0].name;
  view.accounts_list[0].host = cfg.accounts[0].host + ":" + std::to_string(cfg.accounts[0].port);
  view.routes_list.resize(2);
  view.routes_list[1].name = cfg.smarthosts[0].name;
  view.routes_list[1].host = cfg.smarthosts[0].host;
  enqueue(view.store(), "smarthost:gmx", "hello");
  view.store().events().add(event("fetch", "info", "local", "ok", "hello"));

  std::vector<Request> requests;
  for (const char* t : {"/", "/healthz", "/metrics", "/api/status", "/api/events", "/api/queue", "/api/chart",
                        "/api/nothing", "/api/events?limit=0"})
    requests.push_back(get(t));
  requests.push_back(post("/api/accounts/info/poll"));
  requests.push_back(post("/api/queue/1/hold"));
  requests.push_back(request(bhttp::verb::post, "/api/queue/1/release"));
  for (const auto& req : requests) {
    auto res = handle(req, view, loopback_site());
    std::ostringstream whole;
    whole << res;
    INFO(req.target());
    CHECK_THAT(whole.str(), !Contains(secret));
    CHECK_THAT(whole.str(), !Contains(hash));
    CHECK_THAT(whole.str(), !Contains("$6$"));
  }
}
