// Who signed in, from an id_token (OIDC Core 1.0 3.1.3.7): the names Microsoft and Google send,
// aud/azp/iss/exp checks, tokens that are no JWT, and the refusal that names both users.
#include <catch2/catch.hpp>

#include "oauth/grant.hpp"
#include "oauth/identity.hpp"
#include "util/base64.hpp"

using namespace pb::oauth;

namespace {

constexpr std::int64_t kNow = 1'765'000'000;

std::string base64url(const std::string& s) {
  std::string out = pb::base64::encode(s);
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// An unsigned JWT as a test IdP would send it (the signature is not what is checked).
std::string jwt(const std::string& payload) {
  return base64url(R"({"alg":"RS256","typ":"JWT","kid":"k1"})") + "." + base64url(payload) + ".c2lnbmF0dXJl";
}

IdTokenExpect expect(const std::string& provider = "custom") { return {"client-1", provider, kNow}; }

TokenError refusal(const std::string& token, const IdTokenExpect& e) {
  try {
    read_id_token(token, e);
  } catch (const TokenError& err) {
    return err;
  }
  FAIL("expected a TokenError");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("identity: Microsoft's id_token names the user by preferred_username, email and upn", "[oauth][identity]") {
  auto who = read_id_token(jwt(R"({"aud":"client-1","iss":"https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
      "exp":1765003600,"preferred_username":"Info@Firma.de","email":"info@firma.de","upn":"info@firma.onmicrosoft.com","sub":"x"})"),
                           expect("microsoft"));
  CHECK(who.names == std::vector<std::string>{"Info@Firma.de", "info@firma.onmicrosoft.com"});  // email = preferred_username
  CHECK(identity_mismatch(who, "info@firma.de", "account info").empty());  // addresses: any case
  CHECK(identity_mismatch(who, "INFO@firma.onmicrosoft.com", "account info").empty());
  CHECK(identity_mismatch(who, "chef@firma.de", "account chef") ==
        "signed in as Info@Firma.de, but account chef logs in as chef@firma.de; sign in again as chef@firma.de");
}

TEST_CASE("identity: Google's email counts only when not marked unverified", "[oauth][identity]") {
  auto who = read_id_token(jwt(R"({"aud":"client-1","iss":"https://accounts.google.com","exp":1765003600,
      "email":"anna@gmail.com","email_verified":true,"sub":"1234"})"), expect("google"));
  CHECK(who.names == std::vector<std::string>{"anna@gmail.com"});
  auto unverified = read_id_token(jwt(R"({"aud":"client-1","iss":"accounts.google.com","email":"anna@gmail.com",
      "email_verified":false})"), expect("google"));
  CHECK(unverified.names.empty());
  CHECK(identity_mismatch(unverified, "anna@gmail.com", "account anna").empty());  // no names: the server checks
}

TEST_CASE("identity: a plain user name is compared exactly, and shown beside a plain name", "[oauth][identity]") {
  auto who = read_id_token(jwt(R"({"aud":["client-1"],"preferred_username":"mallory","email":"mallory@example.test"})"), expect());
  CHECK(who.shown("alice") == "mallory");
  CHECK(who.shown("alice@example.test") == "mallory@example.test");
  CHECK(identity_mismatch(who, "alice", "account alice") ==
        "signed in as mallory, but account alice logs in as alice; sign in again as alice");
  CHECK_FALSE(identity_mismatch(who, "Mallory", "account m").empty());
  CHECK(identity_mismatch(who, "MALLORY@example.test", "account m").empty());
  CHECK(same_login("alice@Example.Test", "ALICE@example.test"));
  CHECK_FALSE(same_login("alice", "Alice"));
}

TEST_CASE("identity: aud, azp, iss and exp are checked, a stale clock gets five minutes", "[oauth][identity]") {
  TokenError other = refusal(jwt(R"({"aud":"client-2","preferred_username":"alice"})"), expect());
  CHECK(other.kind() == TokenFailure::login_needed);
  CHECK_THAT(other.what(), Catch::Contains("issued to another client than client_id \"client-1\"") &&
                               Catch::EndsWith("; nothing was stored"));
  CHECK_THAT(refusal(jwt(R"({"aud":["client-2","client-1"],"azp":"client-2"})"), expect()).what(),
             Catch::Contains("(azp \"client-2\")"));
  CHECK_THAT(refusal(jwt(R"({"aud":"client-1","iss":"https://evil.example/v2.0"})"), expect("microsoft")).what(),
             Catch::Contains("comes from \"https://evil.example/v2.0\", not from microsoft"));
  CHECK_THAT(refusal(jwt(R"({"aud":"client-1","iss":"https://login.microsoftonline.com/x/v2.0"})"), expect("google")).what(),
             Catch::Contains("not from google"));
  CHECK_NOTHROW(read_id_token(jwt(R"({"aud":"client-1","iss":"anything","exp":1764999800})"), expect()));  // 200 s ago
  CHECK_THAT(refusal(jwt(R"({"aud":"client-1","exp":1764990000})"), expect()).what(),
             Catch::Contains("had expired 10000 s ago (is this computer's clock right?)"));
  CHECK_THAT(refusal(jwt(R"({"aud":"client-1","exp":"soon"})"), expect()).what(), Catch::Contains("exp is not a number"));
}

TEST_CASE("identity: what is no JWT is said so, without the token", "[oauth][identity]") {
  CHECK_THAT(refusal("opaque-token-value", expect()).what(),
             Catch::Contains("not a JWT") && !Catch::Contains("opaque-token-value"));
  CHECK_THAT(refusal("a.b.c.d.e", expect()).what(), Catch::Contains("not a JWT"));  // JWE: encrypted, not ours
  CHECK_THAT(refusal("eyJhbGciOiJub25lIn0.!!!.", expect()).what(), Catch::Contains("not base64url"));
  CHECK_THAT(refusal("eyJhbGciOiJub25lIn0." + base64url("[1,2]") + ".", expect()).what(),
             Catch::Contains("not a JSON object"));
  // An unsigned JWT (alg none, empty signature) is read like any other: TLS vouches for it.
  CHECK(read_id_token("eyJhbGciOiJub25lIn0." + base64url(R"({"aud":"client-1","preferred_username":"a"})") + ".", expect())
            .names == std::vector<std::string>{"a"});
}

TEST_CASE("identity: a refresh asks for the scopes without the OpenID ones", "[oauth][identity]") {
  CHECK(refresh_scopes(preset("microsoft")->scopes) ==
        "https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access");
  CHECK(refresh_scopes("openid  email profile") == "");
  CHECK(refresh_scopes("mail offline_access") == "mail offline_access");
}

TEST_CASE("identity: the token answer keeps the id_token", "[oauth][identity]") {
  auto t = parse_token_response(200, R"({"token_type":"Bearer","access_token":"AT","id_token":"h.p.s"})",
                                Grant::authorization_code, "info");
  CHECK(t.id_token == "h.p.s");
}
