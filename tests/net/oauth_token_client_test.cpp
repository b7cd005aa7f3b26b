// The OAuth token client against a token endpoint simulated in the test itself (a Beast server on
// 127.0.0.1:0 in the same io_context): refresh with and without rotation, invalid_grant, the
// device flow's pending/slow_down/expired answers with an injected sleeper (no real waits),
// the code exchange, garbage, HTTP 500, a silent endpoint (timeout), and refused connections.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "oauth/token_client.hpp"
#include "token_endpoint_fixture.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace pb::oauth;
using namespace pb::oauth::test;
using namespace std::chrono_literals;

namespace {

ClientConfig config(const FakeEndpoint& ep) {
  ClientConfig c;
  c.login_name = "info";
  c.client_id = "client-1";
  c.client_secret = "s3cr&t";
  c.token_url = ep.url("/tenant/oauth2/v2.0/token");
  c.device_authorization_url = ep.url("/tenant/oauth2/v2.0/devicecode");
  c.scopes = "https://outlook.office.com/POP.AccessAsUser.All offline_access";
  c.timeout = 2s;
  return c;
}

DeviceAuthorization device(std::chrono::seconds interval, std::chrono::seconds expires_in) {
  DeviceAuthorization d;
  d.device_code = "DC-1";
  d.user_code = "ABCD";
  d.verification_uri = "https://microsoft.com/devicelogin";
  d.interval = interval;
  d.expires_in = expires_in;
  return d;
}

// Records the waits the device flow asks for and returns at once.
Sleeper recording(std::vector<std::chrono::milliseconds>& waits) {
  return [&waits](std::chrono::milliseconds t) -> asio::awaitable<void> {
    waits.push_back(t);
    co_return;
  };
}

const char* kToken = R"({"token_type":"Bearer","scope":"POP.AccessAsUser.All","expires_in":3599,"access_token":"AT-1"})";

}  // namespace

TEST_CASE("token client: refresh sends the form and returns the access token", "[oauth][token]") {
  FakeEndpoint ep({reply(200, kToken)});
  TokenResponse t = ep.run(refresh_access_token(config(ep), "RT/1+x"));
  CHECK(t.access_token == "AT-1");
  CHECK(t.expires_in == 3599s);
  CHECK(t.refresh_token.empty());  // not rotated: keep the old one
  REQUIRE(ep.seen.size() == 1);
  CHECK(ep.seen[0].target == "/tenant/oauth2/v2.0/token");
  CHECK(ep.seen[0].content_type == "application/x-www-form-urlencoded");
  CHECK(ep.seen[0].body ==
        "client_id=client-1&client_secret=s3cr%26t&grant_type=refresh_token&refresh_token=RT%2F1%2Bx&"
        "scope=https%3A%2F%2Foutlook.office.com%2FPOP.AccessAsUser.All%20offline_access");
}

TEST_CASE("token client: the sign-in asks for openid, a refresh does not", "[oauth][token]") {
  FakeEndpoint ep({reply(200, R"({"device_code":"DC-1","user_code":"ABCD","verification_uri":"https://x.test/d","expires_in":900})"),
                   reply(200, kToken)});
  ClientConfig cfg = config(ep);
  cfg.scopes = "mail offline_access openid email profile";
  auto both = [&]() -> asio::awaitable<TokenResponse> {
    co_await start_device_authorization(cfg);
    co_return co_await refresh_access_token(cfg, "RT-1");
  };
  ep.run(both());
  REQUIRE(ep.seen.size() == 2);
  CHECK_THAT(ep.seen[0].body, Catch::EndsWith("&scope=mail%20offline_access%20openid%20email%20profile"));
  CHECK_THAT(ep.seen[1].body, Catch::EndsWith("&scope=mail%20offline_access"));
}

TEST_CASE("token client: a rotated refresh token is returned", "[oauth][token]") {
  FakeEndpoint ep({reply(200, R"({"token_type":"Bearer","expires_in":3600,"access_token":"AT-2","refresh_token":"RT-2"})")});
  TokenResponse t = ep.run(refresh_access_token(config(ep), "RT-1"));
  CHECK(t.access_token == "AT-2");
  CHECK(t.refresh_token == "RT-2");
}

TEST_CASE("token client: invalid_grant says the refresh token no longer works, in the provider's words", "[oauth][token]") {
  FakeEndpoint ep({reply(400, R"({"error":"invalid_grant","error_description":"AADSTS70008: The refresh token has expired due to inactivity.","error_codes":[70008]})")});
  TokenError e = ep.error_of(refresh_access_token(config(ep), "RT-1"));
  CHECK(e.kind() == TokenFailure::login_needed);
  CHECK_FALSE(e.transient());
  CHECK(std::string(e.what()) ==
        "the refresh token no longer works (invalid_grant): AADSTS70008: The refresh token has expired due to "
        "inactivity.; run postbridge oauth login info");
  CHECK_THAT(e.what(), !Catch::Contains("RT-1") && !Catch::Contains("s3cr"));
}

TEST_CASE("token client: device flow honours authorization_pending and slow_down (+5 s)", "[oauth][token][device]") {
  FakeEndpoint ep({
      reply(200, R"({"device_code":"DC-1","user_code":"ABCD-EFGH","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":1,"message":"To sign in, use a web browser"})"),
      reply(400, R"({"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending."})"),
      reply(400, R"({"error":"authorization_pending"})"),
      reply(400, R"({"error":"slow_down"})"),
      reply(200, R"({"token_type":"Bearer","expires_in":3599,"access_token":"AT-D","refresh_token":"RT-D"})"),
  });
  ClientConfig cfg = config(ep);
  std::vector<std::chrono::milliseconds> waits;
  auto flow = [&]() -> asio::awaitable<TokenResponse> {
    DeviceAuthorization d = co_await start_device_authorization(cfg);
    CHECK(d.user_code == "ABCD-EFGH");
    CHECK(d.interval == 1s);
    co_return co_await poll_device_token(cfg, d, recording(waits));
  };
  auto started = std::chrono::steady_clock::now();
  TokenResponse t = ep.run(flow());
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK(t.access_token == "AT-D");
  CHECK(t.refresh_token == "RT-D");
  CHECK(waits == std::vector<std::chrono::milliseconds>{1s, 1s, 1s, 6s});
  REQUIRE(ep.seen.size() == 5);
  CHECK(ep.seen[0].target == "/tenant/oauth2/v2.0/devicecode");
  CHECK(ep.seen[0].body ==
        "client_id=client-1&client_secret=s3cr%26t&scope=https%3A%2F%2Foutlook.office.com%2FPOP.AccessAsUser.All%20offline_access");
  CHECK(ep.seen[1].body ==
        "client_id=client-1&client_secret=s3cr%26t&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=DC-1");
}

TEST_CASE("token client: device flow expired_token and access_denied end the login", "[oauth][token][device]") {
  FakeEndpoint ep({reply(400, R"({"error":"authorization_pending"})"),
                   reply(400, R"({"error":"expired_token","error_description":"AADSTS70019: Verification code expired."})")});
  std::vector<std::chrono::milliseconds> waits;
  TokenError e = ep.error_of(poll_device_token(config(ep), device(1s, 900s), recording(waits)));
  CHECK(e.kind() == TokenFailure::login_needed);
  CHECK(e.error() == "expired_token");
  CHECK_THAT(e.what(), Catch::StartsWith("the login code expired before the login was completed (expired_token): "
                                         "AADSTS70019: Verification code expired.; run postbridge oauth login info again"));

  FakeEndpoint denied({reply(400, R"({"error":"access_denied"})")});
  TokenError d = denied.error_of(poll_device_token(config(denied), device(1s, 900s), recording(waits)));
  CHECK(d.kind() == TokenFailure::login_needed);
  CHECK(d.error() == "access_denied");
}

TEST_CASE("token client: device flow stops by itself when the code's lifetime is over", "[oauth][token][device]") {
  FakeEndpoint ep({reply(400, R"({"error":"authorization_pending"})"), reply(400, R"({"error":"authorization_pending"})")});
  std::vector<std::chrono::milliseconds> waits;
  TokenError e = ep.error_of(poll_device_token(config(ep), device(1s, 2s), recording(waits)));
  CHECK(e.kind() == TokenFailure::login_needed);
  CHECK(waits.size() == 2);
  CHECK(ep.seen.size() == 2);
}

TEST_CASE("token client: authorization code exchange with the PKCE verifier", "[oauth][token]") {
  FakeEndpoint ep({reply(200, R"({"token_type":"Bearer","expires_in":3599,"access_token":"AT-C","refresh_token":"RT-C"})")});
  ClientConfig cfg = config(ep);
  cfg.client_secret.clear();  // a public client sends no secret
  TokenResponse t = ep.run(exchange_authorization_code(cfg, "4/0Ab-code", "verifier-1", "http://127.0.0.1:43123/"));
  CHECK(t.refresh_token == "RT-C");
  REQUIRE(ep.seen.size() == 1);
  CHECK(ep.seen[0].body ==
        "client_id=client-1&grant_type=authorization_code&code=4%2F0Ab-code&code_verifier=verifier-1&"
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A43123%2F");
}

TEST_CASE("token client: malformed JSON and HTTP 500 are transient provider failures", "[oauth][token]") {
  FakeEndpoint garbage({reply(200, "{\"access_token\": \"AT")});
  TokenError g = garbage.error_of(refresh_access_token(config(garbage), "RT-1"));
  CHECK(g.kind() == TokenFailure::provider);
  CHECK(g.transient());
  CHECK_THAT(g.what(), Catch::Contains("not a JSON object"));

  FakeEndpoint broken({reply(500, "upstream timed out")});
  TokenError b = broken.error_of(refresh_access_token(config(broken), "RT-1"));
  CHECK(b.kind() == TokenFailure::provider);
  CHECK(b.http_status() == 500);
  CHECK_THAT(b.what(), Catch::Contains("HTTP 500 (\"upstream timed out\")"));
}

TEST_CASE("token client: an endpoint that never answers times out", "[oauth][token]") {
  FakeEndpoint ep({silence()});
  ClientConfig cfg = config(ep);
  cfg.timeout = 300ms;
  auto started = std::chrono::steady_clock::now();
  TokenError e = ep.error_of(refresh_access_token(cfg, "RT-1"));
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(e.kind() == TokenFailure::network);
  CHECK_THAT(e.what(), Catch::EndsWith("did not answer within 300ms"));
  CHECK(took >= 250ms);
  CHECK(took < 2s);
}

TEST_CASE("token client: refused connections, TLS to a plain server, and http elsewhere than loopback", "[oauth][token]") {
  FakeEndpoint closed({});
  ClientConfig cfg = config(closed);
  {
    asio::io_context probe;
    tcp::acceptor a(probe, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    cfg.token_url = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port()) + "/token";
  }  // closed again: nothing listens there now
  TokenError refused = closed.error_of(refresh_access_token(cfg, "RT-1"));
  CHECK(refused.kind() == TokenFailure::network);
  CHECK_THAT(refused.what(), Catch::StartsWith("cannot reach the token endpoint 127.0.0.1:"));

  FakeEndpoint plain({reply(200, kToken)});
  ClientConfig tls = config(plain);
  tls.token_url = "https" + tls.token_url.substr(4);
  TokenError t = plain.error_of(refresh_access_token(tls, "RT-1"));
  CHECK(t.kind() == TokenFailure::network);
  CHECK_THAT(t.what(), Catch::StartsWith("TLS handshake with 127.0.0.1 failed"));

  FakeEndpoint unused({});
  ClientConfig remote = config(unused);
  remote.token_url = "http://login.example.test/token";
  TokenError r = unused.error_of(refresh_access_token(remote, "RT-1"));
  CHECK(r.kind() == TokenFailure::client);
  CHECK_THAT(r.what(), Catch::Contains("only sent over https"));
}
