// Small parts of the status page server: request-target parsing, Basic credentials, the login
// cache (expiry, capacity, never the password itself) and the CSRF rule's edge cases.
#include <catch2/catch.hpp>

#include <chrono>

#include "http/auth.hpp"
#include "http/target.hpp"
#include "util/base64.hpp"

using namespace pb;
using namespace pb::http;
using namespace std::chrono_literals;

TEST_CASE("http target: segments and query parameters are decoded", "[http][target]") {
  auto t = parse_target("/api/queue/17/retry?x=1&q=R%C3%A4chnung+M%C3%A4rz&empty=&flag&q=second");
  REQUIRE(t);
  CHECK(t->path == "/api/queue/17/retry");
  CHECK(t->segments == std::vector<std::string>{"api", "queue", "17", "retry"});
  CHECK(t->param("q") == "Rächnung März");  // the first of two
  CHECK(t->param("empty") == "");
  CHECK(t->param("flag") == "");
  CHECK_FALSE(t->param("missing"));

  CHECK(parse_target("/")->segments.empty());
  CHECK(parse_target("/api/status/")->segments == std::vector<std::string>{"api", "status"});
  CHECK(parse_target("/a%2Fb/c")->segments == std::vector<std::string>{"a/b", "c"});  // no new segment
  CHECK(parse_target("/a+b")->segments[0] == "a+b");  // '+' is a space only in the query

  for (const char* bad : {"", "api/status", "http://x/", "*", "/%", "/%4", "/%zz", "/a%00", "/a?q=%0a", "/a#frag"}) {
    INFO(bad);
    CHECK_FALSE(parse_target(bad));
  }
}

TEST_CASE("http auth: Basic credentials (RFC 7617)", "[http][auth]") {
  auto c = parse_basic("Basic " + base64::encode("admin:pa:ss wörd"));
  REQUIRE(c);
  CHECK(c->user == "admin");
  CHECK(c->password == "pa:ss wörd");  // the user name ends at the first colon
  CHECK(parse_basic("basic " + base64::encode("a:")).value().password.empty());
  CHECK_FALSE(parse_basic("Bearer abc"));
  CHECK_FALSE(parse_basic("Basic !!!"));
  CHECK_FALSE(parse_basic("Basic " + base64::encode("no-colon")));
  CHECK_FALSE(parse_basic(""));
}

TEST_CASE("http auth: the login cache remembers good logins for a while", "[http][auth]") {
  using Clock = CredentialCache::Clock;
  CredentialCache cache(60s, 2);
  const auto t0 = Clock::now();
  BasicCredentials good{"admin", "secret"};
  CHECK_FALSE(cache.contains(good, t0));
  cache.remember(good, t0);
  CHECK(cache.contains(good, t0 + 59s));
  CHECK_FALSE(cache.contains(good, t0 + 60s));
  CHECK_FALSE(cache.contains({"admin", "secret2"}, t0));
  CHECK_FALSE(cache.contains({"admin2", "secret"}, t0));
  CHECK_FALSE(cache.contains({"adminsecret", ""}, t0));  // the separator keeps fields apart
  CHECK_FALSE(cache.contains({"admins", "ecret"}, t0));

  cache.remember({"b", "1"}, t0 + 1s);
  cache.remember({"c", "1"}, t0 + 2s);  // capacity 2: the oldest goes
  CHECK_FALSE(cache.contains(good, t0 + 3s));
  CHECK(cache.contains({"b", "1"}, t0 + 3s));
  CHECK(cache.contains({"c", "1"}, t0 + 3s));
  cache.clear();
  CHECK_FALSE(cache.contains({"c", "1"}, t0 + 3s));
}

TEST_CASE("http auth: CSRF rule", "[http][auth][csrf]") {
  Request req{bhttp::verb::post, "/api/queue/1/retry", 11};
  req.set(bhttp::field::host, "gateway.firma.local:8443");
  CHECK(csrf_refusal(req));  // nothing
  req.set("X-Postbridge", "1");
  CHECK(csrf_refusal(req));  // no origin information at all
  req.set(bhttp::field::origin, "https://GATEWAY.firma.local:8443");
  CHECK_FALSE(csrf_refusal(req));  // host names compare case-insensitively
  req.set(bhttp::field::origin, "https://gateway.firma.local:8443.evil.example");
  CHECK(csrf_refusal(req));
  req.set(bhttp::field::origin, "null");  // sandboxed frames, file:// pages
  CHECK(csrf_refusal(req));
  req.set("Sec-Fetch-Site", "same-origin");  // Fetch Metadata wins over Origin
  CHECK_FALSE(csrf_refusal(req));
  req.set("Sec-Fetch-Site", "none");  // typed into the address bar: not a page's request
  CHECK(csrf_refusal(req));
  req.set("X-Postbridge", "yes");
  req.set("Sec-Fetch-Site", "same-origin");
  CHECK(csrf_refusal(req));
}
