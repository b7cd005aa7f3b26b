// The service's access tokens (endpoint/oauth_tokens) against a token endpoint simulated in the test:
// two sessions of one login that need a fresh token at once make one refresh request and share
// its answer — or its refusal — so a provider that rotates refresh tokens never sees the old one
// used twice; the stored token serves later callers without another request.
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <tuple>

#include "../unit/queue/temp_dir.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "oauth/token_store.hpp"
#include "token_endpoint_fixture.hpp"

namespace asio = boost::asio;
using namespace pb;
using namespace pb::oauth::test;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

const endpoint::OAuthLogin kWho{"account.info", "account info -c /etc/postbridge/postbridge.toml"};

oauth::ClientConfig client(const FakeEndpoint& ep) {
  oauth::ClientConfig c;
  c.login_name = kWho.login_name;
  c.client_id = "client-1";
  c.token_url = ep.url("/token");
  c.scopes = "mail offline_access";
  c.timeout = 2s;
  return c;
}

void store_login(const std::filesystem::path& dir) {
  oauth::StoredTokens t;
  t.refresh_token = "RT-1";
  t.access_token = "AT-1";
  t.access_expires_at = 1;  // long expired
  t.updated_at = 1;
  oauth::TokenStore(dir).save(kWho.key, t);
}

// One session's view: the token, or the refusal's words (so that both sessions always finish).
asio::awaitable<std::string> session(endpoint::OAuthTokens& tokens, oauth::ClientConfig cfg) {
  try {
    co_return co_await tokens.access_token(kWho, cfg, false);
  } catch (const oauth::TokenError& e) {
    co_return std::string("refused: ") + e.what();
  }
}

}  // namespace

TEST_CASE("oauth tokens: two sessions refreshing one login at once make one request", "[oauth][tokens]") {
  test::TempDir dir;
  store_login(dir.path());
  // A rotating provider: the first refresh gets RT-2; RT-1 used again would be invalid_grant.
  FakeEndpoint ep({reply(200, R"({"token_type":"Bearer","expires_in":3600,"access_token":"AT-2","refresh_token":"RT-2"})"),
                   reply(400, R"({"error":"invalid_grant","error_description":"the refresh token was already used"})")});
  endpoint::OAuthTokens tokens(dir.path());
  const auto cfg = client(ep);
  auto both = [&]() -> asio::awaitable<std::tuple<std::string, std::string>> {
    co_return co_await (session(tokens, cfg) && session(tokens, cfg));
  };
  auto [first, second] = ep.run(both());
  CHECK(first == "AT-2");
  CHECK(second == "AT-2");
  CHECK(ep.seen.size() == 1);
  auto stored = oauth::TokenStore(dir.path()).load(kWho.key);
  REQUIRE(stored);
  CHECK(stored->refresh_token == "RT-2");
  CHECK(stored->access_token == "AT-2");
}

TEST_CASE("oauth tokens: a refused refresh is every waiting session's answer, asked once", "[oauth][tokens]") {
  test::TempDir dir;
  store_login(dir.path());
  FakeEndpoint ep({reply(400, R"({"error":"invalid_grant","error_description":"revoked"})"),
                   reply(400, R"({"error":"invalid_grant","error_description":"asked twice"})")});
  endpoint::OAuthTokens tokens(dir.path());
  const auto cfg = client(ep);
  auto three = [&]() -> asio::awaitable<std::tuple<std::string, std::string, std::string>> {
    co_return co_await (session(tokens, cfg) && session(tokens, cfg) && session(tokens, cfg));
  };
  auto [a, b, c] = ep.run(three());
  CHECK(ep.seen.size() == 1);
  CHECK_THAT(a, Catch::StartsWith("refused: the refresh token no longer works (invalid_grant): revoked; run postbridge "
                                  "oauth login account info"));
  CHECK(b == a);
  CHECK(c == a);
}

TEST_CASE("oauth tokens: after the refresh, the stored token serves without a request", "[oauth][tokens]") {
  test::TempDir dir;
  store_login(dir.path());
  FakeEndpoint ep({reply(200, R"({"token_type":"Bearer","expires_in":3600,"access_token":"AT-2"})")});
  endpoint::OAuthTokens tokens(dir.path());
  const auto cfg = client(ep);
  auto in_turn = [&]() -> asio::awaitable<std::string> {
    std::string one = co_await session(tokens, cfg);
    std::string two = co_await session(tokens, cfg);
    co_return one + " " + two;
  };
  CHECK(ep.run(in_turn()) == "AT-2 AT-2");
  CHECK(ep.seen.size() == 1);
  CHECK(oauth::TokenStore(dir.path()).load(kWho.key)->refresh_token == "RT-1");  // not rotated: kept
}
