// Small parts of the status page server: request-target parsing, Basic credentials, the login
// cache (expiry, capacity, never the password itself), the page's own names (Host, Origin) and
// the CSRF rule's edge cases.
#include <catch2/catch.hpp>

#include <chrono>

#include "http/auth.hpp"
#include "http/site.hpp"
#include "util/base64.hpp"
#include "util/target.hpp"

using namespace pb;
using namespace pb::http;
using target::parse_target;
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

namespace {

// HTTPS on a LAN address, opened by a LAN name too.
Site lan_site() {
  config::Web web;
  web.listen = inet::Endpoint{"192.168.1.5", 8443};
  web.tls_cert_file = "/etc/postbridge/web.pem";
  web.tls_key_file = "/etc/postbridge/web.key";
  web.hostnames = {*inet::parse_host_port("gateway.firma.local:8443"), *inet::parse_host_port("gw.firma.local")};
  return Site(web, 8443);
}

}  // namespace

TEST_CASE("http site: host and port parsing", "[http][site]") {
  auto hp = inet::parse_host_port("GW.Firma.Local.:8443");
  REQUIRE(hp);
  CHECK(hp->host == "gw.firma.local");
  CHECK(hp->port == 8443);
  CHECK_FALSE(hp->ip);
  hp = inet::parse_host_port("[0:0::1]");
  REQUIRE(hp);
  CHECK(hp->host == "::1");
  CHECK(hp->ip);
  CHECK(hp->str() == "[::1]");
  CHECK(inet::parse_host_port("gw:")->port == std::nullopt);  // RFC 3986 3.2.3
  for (const char* bad : {"", "::1", "[::1", "[127.0.0.1]", "a b", "gw:0", "gw:65536", "user@gw", "gw/x", "*.firma.local",
                          "gw:80:80", "bad_name.example", "256.1.1.1"}) {
    INFO(bad);
    CHECK_FALSE(inet::parse_host_port(bad));
  }
}

TEST_CASE("http site: the Host names the page answers to", "[http][site]") {
  config::Web web;
  web.listen = inet::Endpoint{"127.0.0.1", 8025};
  const Site loopback(web, 8025);
  for (const char* ok : {"127.0.0.1:8025", "localhost:8025", "LOCALHOST.:8025", "[::1]:8025", "[0::1]:8025",
                         "127.0.0.1", "127.0.0.1:9999", "192.168.1.5:8025", "[fd00::5]"}) {  // addresses: any port
    INFO(ok);
    CHECK(loopback.serves_host(ok));
  }
  for (const char* foreign : {"rebind.attacker.example:8025", "rebind.attacker.example", "localhost:9999", "localhost",
                              "localhost.attacker.example:8025", "127.0.0.1.nip.io:8025", "", "[::1", "x y"}) {
    INFO(foreign);
    CHECK_FALSE(loopback.serves_host(foreign));
  }

  const Site lan = lan_site();
  for (const char* ok : {"gateway.firma.local:8443", "GATEWAY.firma.local.:8443", "gw.firma.local", "gw.firma.local:8443",
                         "gw.firma.local:443", "gw.firma.local:80", "192.168.1.5:8443"}) {
    INFO(ok);
    CHECK(lan.serves_host(ok));
  }
  for (const char* foreign : {"gateway.firma.local", "gateway.firma.local:443", "gw.firma.local:8080",
                              "firma.local:8443", "evil.gw.firma.local"}) {
    INFO(foreign);
    CHECK_FALSE(lan.serves_host(foreign));
  }

  web.listen = inet::Endpoint{"0.0.0.0", 8025};  // a wildcard: its names are the built-in ones, its addresses any
  const Site wildcard(web, 8025);
  CHECK(wildcard.serves_host("10.1.2.3:8025"));
  CHECK_FALSE(wildcard.serves_host("nas.local:8025"));
  CHECK(wildcard.is_own_origin("http://10.1.2.3:8025"));
  CHECK_FALSE(wildcard.is_own_origin("http://10.1.2.3:8080"));
  CHECK_FALSE(wildcard.is_own_origin("https://10.1.2.3:8025"));
}

TEST_CASE("http site: the page's own origins", "[http][site]") {
  const Site lan = lan_site();
  for (const char* ok : {"https://192.168.1.5:8443", "https://gateway.firma.local:8443", "https://GW.firma.local",
                         "http://gw.firma.local", "https://gw.firma.local:8443", "https://localhost:8443"}) {
    INFO(ok);
    CHECK(lan.is_own_origin(ok));
  }
  for (const char* foreign : {"http://192.168.1.5:8443",  // this page is HTTPS
                              "https://192.168.1.6:8443",  // another machine: listening on one address
                              "https://192.168.1.5", "https://gateway.firma.local", "https://gateway.firma.local:8443.evil.example",
                              "https://gw.firma.local:8080", "ftp://gw.firma.local", "null", "https://", "gw.firma.local",
                              "https://user@gw.firma.local", "https://gw.firma.local/path"}) {
    INFO(foreign);
    CHECK_FALSE(lan.is_own_origin(foreign));
  }
}

TEST_CASE("http auth: CSRF rule", "[http][auth][csrf]") {
  const Site site = lan_site();
  Request req{bhttp::verb::post, "/api/queue/1/retry", 11};
  req.set(bhttp::field::host, "gateway.firma.local:8443");
  CHECK(csrf_refusal(req, site));  // nothing
  req.set("X-Postbridge", "1");
  CHECK_FALSE(csrf_refusal(req, site));  // no Origin and no Fetch Metadata: a script, not a page
  req.set(bhttp::field::origin, "https://GATEWAY.firma.local:8443");
  CHECK_FALSE(csrf_refusal(req, site));  // host names compare case-insensitively
  req.set(bhttp::field::origin, "https://gateway.firma.local:8443.evil.example");
  CHECK(csrf_refusal(req, site));
  req.set(bhttp::field::origin, "null");  // sandboxed frames, file:// pages
  CHECK(csrf_refusal(req, site));
  req.set("Sec-Fetch-Site", "same-origin");  // not enough: a rebinding page is same-origin with itself
  CHECK(csrf_refusal(req, site));
  req.set(bhttp::field::host, "rebind.attacker.example:8443");
  req.set(bhttp::field::origin, "https://rebind.attacker.example:8443");  // equal to Host, and still refused
  CHECK(csrf_refusal(req, site));
  req.set(bhttp::field::origin, "https://gw.firma.local");
  CHECK_FALSE(csrf_refusal(req, site));
  req.set("Sec-Fetch-Site", "none");  // typed into the address bar: not a page's request
  CHECK(csrf_refusal(req, site));
  req.set("X-Postbridge", "yes");
  req.set("Sec-Fetch-Site", "same-origin");
  CHECK(csrf_refusal(req, site));
}
