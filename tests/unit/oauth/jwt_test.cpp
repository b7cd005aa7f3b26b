// The assertions of the logins that need no person: a JWT postbridge builds verifies with the
// certificate's public key, carries the header and claims Microsoft and Google ask for, goes in the
// token request as RFC 7523 says, and a key that cannot sign is refused in plain words.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <map>

#include "oauth/app_only.hpp"
#include "oauth/grant.hpp"
#include "oauth/jwt.hpp"
#include "test_keys.hpp"
#include "util/base64.hpp"

using namespace pb;
using namespace pb::oauth;
using Catch::Matchers::Contains;

namespace {

// The JSON object of part `n` (0 header, 1 claims) of a compact JWT.
boost::json::object part(const std::string& token, int n) {
  std::size_t from = 0;
  for (int i = 0; i < n; ++i) from = token.find('.', from) + 1;
  auto text = base64::decode_url(token.substr(from, token.find('.', from) - from));
  REQUIRE(text);
  return boost::json::parse(*text).as_object();
}

std::string str(const boost::json::object& o, const char* key) { return std::string(o.at(key).as_string()); }

std::string field(const std::vector<std::pair<std::string, std::string>>& f, const std::string& key) {
  for (const auto& [k, v] : f)
    if (k == key) return v;
  return "";
}

struct Fixture {
  test_keys::Key key = test_keys::rsa_key();
  std::string key_pem = test_keys::private_pem(key.get());
  std::string cert_pem = test_keys::certificate_pem(key.get());
};

Fixture& fixture() {
  static Fixture f;  // one RSA key for the file: generating one takes a while
  return f;
}

AppCredentials microsoft_app() {
  auto cert = jwt::Certificate::from_pem(fixture().cert_pem);
  AppCredentials app;
  app.grant = AppGrant::client_credentials;
  app.private_key_pem = fixture().key_pem;
  app.x5t = cert.x5t;
  app.x5t_s256 = cert.x5t_s256;
  return app;
}

constexpr const char* kTokenUrl = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

}  // namespace

TEST_CASE("jwt: a client assertion verifies with the certificate's key and says what Microsoft asks", "[oauth][jwt]") {
  std::string token = client_assertion(microsoft_app(), "11111111-2222", kTokenUrl, 1'700'000'000, "jti-1");
  CHECK(test_keys::verifies(token, fixture().key.get()));
  auto header = part(token, 0);
  CHECK(str(header, "alg") == "RS256");
  CHECK(str(header, "typ") == "JWT");
  CHECK(str(header, "x5t") == microsoft_app().x5t);
  CHECK(str(header, "x5t#S256") == microsoft_app().x5t_s256);
  auto claims = part(token, 1);
  CHECK(str(claims, "aud") == kTokenUrl);
  CHECK(str(claims, "iss") == "11111111-2222");
  CHECK(str(claims, "sub") == "11111111-2222");
  CHECK(str(claims, "jti") == "jti-1");
  CHECK(claims.at("nbf").as_int64() == 1'700'000'000);
  CHECK(claims.at("iat").as_int64() == 1'700'000'000);
  CHECK(claims.at("exp").as_int64() - claims.at("iat").as_int64() <= 600);
}

TEST_CASE("jwt: x5t is the base64url SHA-1 of the DER certificate", "[oauth][jwt]") {
  auto cert = jwt::Certificate::from_pem(fixture().cert_pem);
  // DER from PEM by hand: the lines between the markers, base64-decoded.
  std::string pem = fixture().cert_pem;
  auto begin = pem.find('\n') + 1, end = pem.find("-----END");
  auto der = base64::decode(pem.substr(begin, end - begin));
  REQUIRE(der);
  unsigned char sha1[20];
  unsigned len = 0;
  EVP_Digest(der->data(), der->size(), sha1, &len, EVP_sha1(), nullptr);
  CHECK(cert.x5t == base64::encode_url(std::string(reinterpret_cast<char*>(sha1), len)));
  CHECK(cert.x5t.size() == 27);       // 20 bytes, no padding
  CHECK(cert.x5t_s256.size() == 43);  // 32 bytes
  CHECK(cert.matches(jwt::PrivateKey::from_pem(fixture().key_pem)));
}

TEST_CASE("jwt: a certificate and another key do not match", "[oauth][jwt]") {
  auto other = test_keys::rsa_key();
  auto cert = jwt::Certificate::from_pem(fixture().cert_pem);
  CHECK_FALSE(cert.matches(jwt::PrivateKey::from_pem(test_keys::private_pem(other.get()))));
}

TEST_CASE("jwt: the client credentials request carries a fresh assertion, never a secret", "[oauth][jwt]") {
  auto f = app_token_fields(microsoft_app(), "11111111-2222", "", kTokenUrl, "https://outlook.office365.com/.default",
                            1'700'000'000);
  CHECK(field(f, "grant_type") == "client_credentials");
  CHECK(field(f, "client_id") == "11111111-2222");
  CHECK(field(f, "scope") == "https://outlook.office365.com/.default");
  CHECK(field(f, "client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  CHECK(test_keys::verifies(field(f, "client_assertion"), fixture().key.get()));
  CHECK(field(f, "client_secret").empty());
  auto again = app_token_fields(microsoft_app(), "11111111-2222", "", kTokenUrl, "s", 1'700'000'000);
  CHECK(part(field(f, "client_assertion"), 1).at("jti") != part(field(again, "client_assertion"), 1).at("jti"));
}

TEST_CASE("jwt: the client credentials request with a secret instead of a certificate", "[oauth][jwt]") {
  AppCredentials app;
  app.grant = AppGrant::client_credentials;
  auto f = app_token_fields(app, "cid", "s3cret", kTokenUrl, "https://outlook.office365.com/.default", 0);
  CHECK(field(f, "client_secret") == "s3cret");
  CHECK(field(f, "client_assertion").empty());
  CHECK(field(f, "grant_type") == "client_credentials");
}

TEST_CASE("jwt: a service account assertion is the JWT bearer grant Google asks for", "[oauth][jwt]") {
  AppCredentials app;
  app.grant = AppGrant::service_account;
  app.private_key_pem = fixture().key_pem;
  app.key_id = "0123abcd";
  app.issuer = "mail@project.iam.gserviceaccount.com";
  app.subject = "info@firma.de";
  auto f = app_token_fields(app, "", "", "https://oauth2.googleapis.com/token", "https://mail.google.com/", 1'700'000'000);
  CHECK(field(f, "grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer");
  CHECK(field(f, "client_id").empty());
  std::string token = field(f, "assertion");
  CHECK(test_keys::verifies(token, fixture().key.get()));
  auto header = part(token, 0);
  CHECK(str(header, "alg") == "RS256");
  CHECK(str(header, "kid") == "0123abcd");
  auto claims = part(token, 1);
  CHECK(str(claims, "iss") == "mail@project.iam.gserviceaccount.com");
  CHECK(str(claims, "sub") == "info@firma.de");
  CHECK(str(claims, "scope") == "https://mail.google.com/");
  CHECK(str(claims, "aud") == "https://oauth2.googleapis.com/token");
  CHECK(claims.at("exp").as_int64() - claims.at("iat").as_int64() <= 3600);
}

TEST_CASE("jwt: keys that cannot sign RS256 are refused in words, never quoted", "[oauth][jwt]") {
  auto ec = test_keys::ec_key();
  std::string ec_pem = test_keys::private_pem(ec.get());
  CHECK_THROWS_WITH(jwt::PrivateKey::from_pem(ec_pem), Contains("not an RSA key"));
  CHECK_THROWS_WITH(jwt::PrivateKey::from_pem(test_keys::private_pem(fixture().key.get(), "passphrase")),
                    Contains("protected by a passphrase"));
  CHECK_THROWS_WITH(jwt::PrivateKey::from_pem(fixture().cert_pem), Contains("holds no PEM private key"));
  std::string cut = fixture().key_pem.substr(0, 200) + "\n-----END PRIVATE KEY-----\n";
  CHECK_THROWS_WITH(jwt::PrivateKey::from_pem(cut), Contains("cannot read"));
  auto small = test_keys::rsa_key(1024);
  CHECK_THROWS_WITH(jwt::PrivateKey::from_pem(test_keys::private_pem(small.get())), Contains("1024 bits"));
  CHECK_THROWS_WITH(jwt::Certificate::from_pem(fixture().key_pem), Contains("holds no PEM certificate"));
  try {
    jwt::PrivateKey::from_pem(cut);
  } catch (const jwt::KeyError& e) {
    CHECK_THAT(std::string(e.what()), !Contains(fixture().key_pem.substr(40, 40)));
  }
}

TEST_CASE("jwt: a service account key file is read field by field", "[oauth][jwt]") {
  boost::json::object o{{"type", "service_account"},      {"client_email", "a@p.iam.gserviceaccount.com"},
                        {"client_id", "1234"},            {"private_key", fixture().key_pem},
                        {"private_key_id", "kid1"},       {"token_uri", "https://oauth2.googleapis.com/token"}};
  auto k = parse_service_account_key(boost::json::serialize(o));
  CHECK(k.client_email == "a@p.iam.gserviceaccount.com");
  CHECK(k.private_key_id == "kid1");
  CHECK(k.token_uri == "https://oauth2.googleapis.com/token");
  o.erase("client_email");
  CHECK_THROWS_WITH(parse_service_account_key(boost::json::serialize(o)), Contains("has no \"client_email\""));
  CHECK_THROWS_WITH(parse_service_account_key("{not json"), Contains("is not a JSON object"));
}

TEST_CASE("grant: an app-only refusal is a config problem with the provider's words", "[oauth][grant]") {
  try {
    parse_token_response(401,
                         R"({"error":"invalid_client","error_description":"AADSTS700027: Client assertion contains an invalid signature."})",
                         Grant::app_only, "account info");
    FAIL("no TokenError");
  } catch (const TokenError& e) {
    CHECK(e.kind() == TokenFailure::client);
    CHECK_THAT(std::string(e.what()), Contains("AADSTS700027"));
    CHECK_THAT(std::string(e.what()), !Contains("oauth login"));
  }
}
