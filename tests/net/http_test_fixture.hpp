// Shared pieces of the status page tests: a fake ServiceView over a real Store in a temp folder
// (records every action), request builders, and JSON parsing of responses.
#pragma once
#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "../unit/queue/temp_dir.hpp"
#include "http/api.hpp"
#include "http/model.hpp"
#include "http/site.hpp"
#include "queue/spool.hpp"
#include "queue/store.hpp"

namespace pb::http::test {

// The service as the page sees it: accounts and routes are plain data the test sets; actions are
// recorded; bounce() fails the pending recipients like app::bounce_now does (without the DSN).
class FakeView : public ServiceView {
 public:
  explicit FakeView(const std::filesystem::path& dir) : store_(dir) {
    AccountStatus info;
    info.name = "info";
    info.host = "pop.example.net:995";
    info.last_success = 1'764'000'000;
    info.fetched_today = 3;
    info.bytes_today = 4096;
    info.delivers_to = "info@firma.local";
    AccountStatus sales = info;
    sales.name = "sales";
    sales.delivers_to = "catch-all: firma.de, müller.de -> firma.local";
    sales.state = "auth-failed";
    sales.last_error = "Login rejected by pop.example.net: -ERR [AUTH] invalid password";
    accounts_list = {info, sales};
    RouteStatus local;
    local.route = local.name = local.kind = "local";
    local.host = "127.0.0.1:25";
    local.state = "ok";
    RouteStatus gmx;
    gmx.route = "smarthost:gmx";
    gmx.name = "gmx";
    gmx.kind = "smarthost";
    gmx.host = "mail.gmx.net:465";
    gmx.state = "rate-limited";
    gmx.rate_limited_until = 1'764'003'600;
    gmx.max_per_hour = 50;
    routes_list = {local, gmx};
  }

  std::int64_t started_at() const override { return started; }
  std::vector<AccountStatus> accounts() override { return accounts_list; }
  std::vector<RouteStatus> routes() override { return routes_list; }
  StorageStatus storage() override { return storage_status; }
  ConfigStatus config_status() override { return config; }
  // Connection tests finish at once with a fixed report, or are refused with `test_refusal`.
  WhyNot start_test(const std::string& kind, const std::string& name,
                         std::function<void(std::string)> done) override {
    tests.push_back(kind + ":" + name);
    if (!test_refusal.empty()) return test_refusal;
    done(R"({"kind":")" + kind + R"(","name":")" + name + R"(","ok":true,"steps":[],"advice":[]})");
    return {};
  }
  // OAuth sign-ins: recorded; "bob" has no OAuth; a started one waits with a fixed device code.
  WhyNot start_oauth(const std::string& kind, const std::string& name) override {
    oauth_calls.push_back("start " + kind + ":" + name);
    if (name == "bob") return "account bob does not log in with OAuth";
    OAuthLoginState s;
    s.state = "waiting";
    s.flow = "device";
    s.user_code = "ABCD-EFGH";
    s.verification_uri = "https://login.example/device";
    s.expires_at = 4102444800;
    oauth_logins[kind + ":" + name] = s;
    return {};
  }
  std::optional<OAuthLoginState> oauth_state(const std::string& kind, const std::string& name) override {
    auto it = oauth_logins.find(kind + ":" + name);
    if (it == oauth_logins.end()) return std::nullopt;
    return it->second;
  }
  WhyNot finish_oauth(const std::string& kind, const std::string& name, const std::string& redirect) override {
    oauth_calls.push_back("finish " + kind + ":" + name + " " + redirect);
    if (redirect.find("state=good") != std::string::npos) return std::nullopt;
    return "that address belongs to another sign-in";
  }
  bool poll_now(const std::string& account) override {
    polled.push_back(account);
    for (const auto& a : accounts_list)
      if (a.name == account && a.enabled) return true;
    return false;
  }
  bool resume(const std::string& smarthost) override {
    resumed.push_back(smarthost);
    for (const auto& r : routes_list)
      if (r.kind == "smarthost" && r.name == smarthost) return true;
    return false;
  }
  void queue_changed() override { ++changes; }
  bool bounce(std::int64_t id) override {
    bounced.push_back(id);
    auto m = store_.queue().get(id);
    if (!m) return false;
    std::vector<queue::DeliveryResult> results;
    for (const auto& r : m->recipients)
      if (r.state == queue::RcptState::pending) results.push_back({r.address, queue::RcptState::failed, "bounced"});
    if (results.empty()) return false;
    store_.queue().record_results(id, results, "bounced by the administrator", 0);
    return true;
  }
  queue::Store& store() override { return store_; }
  login::LoginThrottle& logins() override { return throttle; }
  // Test alerts: the first is "queued" as message 4711, each next one refused as too soon.
  TestAlertResult send_test_alert() override {
    if (++test_alerts > 1) return {0, "a test alert was queued a moment ago", 30};
    return {4711, "", 0};
  }
  int test_alerts = 0;

  std::int64_t started = static_cast<std::int64_t>(std::time(nullptr)) - 100;
  std::vector<AccountStatus> accounts_list;
  std::vector<RouteStatus> routes_list;
  StorageStatus storage_status{true, 5'000'000'000, 100'000'000, ""};
  ConfigStatus config{"/etc/postbridge/postbridge.toml", 1'764'000'000, 0, {}};
  std::vector<std::string> polled, resumed, tests, oauth_calls;
  std::map<std::string, OAuthLoginState> oauth_logins;
  std::string test_refusal;
  std::vector<std::int64_t> bounced;
  int changes = 0;
  login::LoginThrottle throttle;

 private:
  queue::Store store_;
};

// The page as the fixture's requests address it: http://127.0.0.1:8025/, no [web] hostnames.
inline const Site& loopback_site() {
  static const Site site = [] {
    config::Web web;
    web.listen = inet::Endpoint{"127.0.0.1", 8025};
    return Site(web, 8025);
  }();
  return site;
}

inline Request request(bhttp::verb method, std::string target) {
  Request req{method, target, 11};
  req.set(bhttp::field::host, "127.0.0.1:8025");
  return req;
}

inline Request get(std::string target) { return request(bhttp::verb::get, std::move(target)); }

// A POST as the page sends it: same-origin by Fetch Metadata and Origin, with the page's header.
inline Request post(std::string target) {
  auto req = request(bhttp::verb::post, std::move(target));
  req.set("Sec-Fetch-Site", "same-origin");
  req.set(bhttp::field::origin, "http://127.0.0.1:8025");
  req.set("X-Postbridge", "1");
  return req;
}

inline boost::json::value body_json(const Response& res) {
  INFO(res.body());
  boost::json::error_code ec;
  auto v = boost::json::parse(res.body(), ec);
  REQUIRE_FALSE(ec);
  return v;
}

// A queued message with a real spool file.
inline queue::MessageId enqueue(queue::Store& s, const std::string& route, const std::string& subject,
                                std::vector<std::string> rcpts = {"client@customer.example"}) {
  queue::SpoolFile f(s.spool_dir());
  f.write("Subject: " + subject + "\r\n\r\nbody\r\n");
  queue::NewMessage m;
  m.route = route;
  m.sender = "boss@office.example";
  m.recipients = std::move(rcpts);
  m.size = f.size();
  m.subject = subject;
  m.spool_name = f.commit();
  return s.queue().enqueue(m, static_cast<queue::UnixTime>(std::time(nullptr)));
}

inline queue::Event event(std::string kind, std::string account, std::string route, std::string result,
                          std::string subject = "", std::int64_t time = 0) {
  queue::Event e;
  e.time = time ? time : static_cast<std::int64_t>(std::time(nullptr));
  e.kind = queue::KindWord::parse(kind);
  e.account = std::move(account);
  e.route = std::move(route);
  e.result = queue::ResultWord::parse(result);
  e.subject = std::move(subject);
  e.sender = "sender@provider.example";
  e.recipients = "anna@office.example";
  e.size = 1000;
  e.count = e.result == queue::EventResult::ok ? 1 : 0;
  e.text = "250 2.0.0 Ok";
  return e;
}

}  // namespace pb::http::test
