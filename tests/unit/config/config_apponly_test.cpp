// Logins that need no person in the config: grant = "client_credentials" (Microsoft 365 app-only,
// certificate or secret) and grant = "service_account" (Google): what they fill, and that every
// key, certificate or key file that could not sign fails the load naming file, line and key.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "../oauth/test_keys.hpp"
#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using namespace pb;
using namespace pb::config;
using namespace pb::config::test;

namespace {

struct Keys {
  test_keys::Key key = test_keys::rsa_key();
  std::string key_pem = test_keys::private_pem(key.get());
  std::string cert_pem = test_keys::certificate_pem(key.get());
};
const Keys& keys() {
  static Keys k;
  return k;
}

// A Microsoft 365 account: the [account.oauth2] table starts on line 8.
std::string m365(const std::string& table) {
  return "[[account]]\nname = \"info\"\nprovider = \"microsoft365\"\nauth = \"xoauth2\"\n"
         "username = \"info@firma.de\"\ndeliver_to = [\"info@firma.local\"]\n[account.oauth2]\n" + table;
}
const std::string kTenant = "tenant = \"firma.onmicrosoft.com\"\nclient_id = \"11111111-2222\"\n";

// A Gmail account with a service account: the table starts on line 8.
std::string gmail(const std::string& table) {
  return "[[account]]\nname = \"info\"\nprovider = \"gmail\"\nauth = \"xoauth2\"\n"
         "username = \"info@firma.de\"\ndeliver_to = [\"info@firma.local\"]\n[account.oauth2]\n" + table;
}

std::string service_account_json(const std::string& key_pem, const std::string& token_uri) {
  boost::json::object o{{"type", "service_account"},    {"project_id", "p"},
                        {"private_key_id", "kid-1"},    {"private_key", key_pem},
                        {"client_email", "mail@p.iam.gserviceaccount.com"},
                        {"client_id", "1098765"},       {"token_uri", token_uri}};
  return boost::json::serialize(o);
}

}  // namespace

TEST_CASE("app-only config: a certificate login fills the tenant's token URL and the .default scope", "[config][oauth]") {
  TempDir dir;
  dir.write("app.pem", keys().cert_pem, 0644);
  dir.write("app.key", keys().key_pem, 0600);
  Config cfg = load(dir.write("postbridge.toml", m365("grant = \"client_credentials\"\n" + kTenant +
                                                      "client_certificate_file = \"app.pem\"\n"
                                                      "client_key_file = \"app.key\"\n")));
  const OAuth2& o = *cfg.accounts.at(0).oauth2;
  CHECK(o.grant == OAuthGrant::client_credentials);
  CHECK(o.token_url == "https://login.microsoftonline.com/firma.onmicrosoft.com/oauth2/v2.0/token");
  CHECK(o.scopes == "https://outlook.office365.com/.default");
  CHECK(o.device_authorization_url.empty());
  CHECK(o.authorization_url.empty());
  CHECK(o.private_key.value == keys().key_pem);
  CHECK(o.certificate_x5t.size() == 27);
  CHECK(o.client_secret.empty());
}

TEST_CASE("app-only config: a client secret instead of a certificate", "[config][oauth]") {
  TempDir dir;
  Config cfg = load(dir.write("postbridge.toml",
                              m365("grant = \"client_credentials\"\n" + kTenant + "client_secret_env = \"PB_TEST_PW\"\n")));
  const OAuth2& o = *cfg.accounts.at(0).oauth2;
  CHECK(o.client_secret.value == kSecret);
  CHECK(o.private_key.empty());
}

TEST_CASE("app-only config: the tenant is required and cannot be common", "[config][oauth]") {
  TempDir dir;
  check_single(problems(dir, m365("grant = \"client_credentials\"\nclient_id = \"x\"\nclient_secret_env = \"PB_TEST_PW\"\n")),
               at(dir, 7, 1, "account[0].oauth2.tenant"), "missing; grant = \"client_credentials\" needs the organization's tenant");
  check_single(problems(dir, m365("grant = \"client_credentials\"\ntenant = \"common\"\nclient_id = \"x\"\n"
                                  "client_secret_env = \"PB_TEST_PW\"\n")),
               at(dir, 9, 10, "account[0].oauth2.tenant"), "\"common\" only works when a person signs in");
}

TEST_CASE("app-only config: no certificate and no secret, or both", "[config][oauth]") {
  TempDir dir;
  check_single(problems(dir, m365("grant = \"client_credentials\"\n" + kTenant)), at(dir, 7, 1, "account[0].oauth2.client_certificate_file"),
               "needs the application's certificate");
  dir.write("app.pem", keys().cert_pem, 0644);
  dir.write("app.key", keys().key_pem, 0600);
  check_single(problems(dir, m365("grant = \"client_credentials\"\n" + kTenant + "client_secret_env = \"PB_TEST_PW\"\n"
                                  "client_certificate_file = \"app.pem\"\nclient_key_file = \"app.key\"\n")),
               at(dir, 12, 27, "account[0].oauth2.client_certificate_file"), "not both");
  check_single(problems(dir, m365("grant = \"client_credentials\"\n" + kTenant + "client_certificate_file = \"app.pem\"\n")),
               at(dir, 7, 1, "account[0].oauth2.client_key_file"), "missing; give the private key");
}

TEST_CASE("app-only config: a key that cannot sign is a config error naming file, line and key", "[config][oauth]") {
  TempDir dir;
  dir.write("app.pem", keys().cert_pem, 0644);
  const std::string table = "grant = \"client_credentials\"\n" + kTenant +
                            "client_certificate_file = \"app.pem\"\nclient_key_file = \"app.key\"\n";
  const std::string key_at = at(dir, 12, 19, "account[0].oauth2.client_key_file");
  SECTION("an EC key") {
    auto ec = test_keys::ec_key();
    dir.write("app.key", test_keys::private_pem(ec.get()), 0600);
    check_single(problems(dir, m365(table)), key_at, "not an RSA key");
  }
  SECTION("a passphrase") {
    dir.write("app.key", test_keys::private_pem(keys().key.get(), "secret words"), 0600);
    check_single(problems(dir, m365(table)), key_at, "protected by a passphrase");
  }
  SECTION("readable by others") {
    dir.write("app.key", keys().key_pem, 0644);
    check_single(problems(dir, m365(table)), key_at, "chmod 600");
  }
  SECTION("missing") {
    check_single(problems(dir, m365(table)), key_at, "cannot use");
  }
  SECTION("the key of another certificate") {
    auto other = test_keys::rsa_key();
    dir.write("app.key", test_keys::private_pem(other.get()), 0600);
    auto ps = problems(dir, m365(table));
    check_single(ps, key_at, "is not the private key of the certificate");
    CHECK_THAT(joined(ps), !Contains("PRIVATE KEY"));
  }
  SECTION("a key where the certificate should be") {
    dir.write("app.key", keys().key_pem, 0600);
    dir.write("app.pem", keys().key_pem, 0644);
    check_single(problems(dir, m365(table)), at(dir, 11, 27, "account[0].oauth2.client_certificate_file"),
                 "holds no PEM certificate");
  }
}

TEST_CASE("app-only config: a service account takes issuer, key and token URL from its key file", "[config][oauth]") {
  TempDir dir;
  dir.write("sa.json", service_account_json(keys().key_pem, "http://127.0.0.1:9/token"), 0600);
  Config cfg = load(dir.write("postbridge.toml", gmail("grant = \"service_account\"\nservice_account_file = \"sa.json\"\n")));
  const OAuth2& o = *cfg.accounts.at(0).oauth2;
  CHECK(o.grant == OAuthGrant::service_account);
  CHECK(o.provider == "google");
  CHECK(o.token_url == "http://127.0.0.1:9/token");
  CHECK(o.scopes == "https://mail.google.com/");
  CHECK(o.service_account == "mail@p.iam.gserviceaccount.com");
  CHECK(o.service_account_key_id == "kid-1");
  CHECK(o.client_id == "1098765");
  CHECK(o.subject == "info@firma.de");
  CHECK(o.private_key.value == keys().key_pem);
}

TEST_CASE("app-only config: a service account key file that cannot be used", "[config][oauth]") {
  TempDir dir;
  const std::string table = "grant = \"service_account\"\nservice_account_file = \"sa.json\"\n";
  const std::string file_at = at(dir, 9, 24, "account[0].oauth2.service_account_file");
  SECTION("readable by others") {
    dir.write("sa.json", service_account_json(keys().key_pem, "https://oauth2.googleapis.com/token"), 0640);
    check_single(problems(dir, gmail(table)), file_at, "chmod 600");
  }
  SECTION("a token_uri over plain http to a host name") {
    dir.write("sa.json", service_account_json(keys().key_pem, "http://oauth2.example/token"), 0600);
    check_single(problems(dir, gmail(table)), file_at, "its token_uri");
  }
  SECTION("an EC key") {
    auto ec = test_keys::ec_key();
    dir.write("sa.json", service_account_json(test_keys::private_pem(ec.get()), "https://oauth2.googleapis.com/token"), 0600);
    auto ps = problems(dir, gmail(table));
    check_single(ps, file_at, "its private_key holds a");
    CHECK_THAT(joined(ps), !Contains("PRIVATE KEY-----"));
  }
  SECTION("not JSON") {
    dir.write("sa.json", "not json", 0600);
    check_single(problems(dir, gmail(table)), file_at, "is not a JSON object");
  }
  SECTION("missing") {
    check_single(problems(dir, gmail("grant = \"service_account\"\n")), at(dir, 7, 1, "account[0].oauth2.service_account_file"),
                 "needs the service account's JSON key file");
  }
}

TEST_CASE("app-only config: grants a provider does not offer, keys of another grant", "[config][oauth]") {
  TempDir dir;
  check_single(problems(dir, gmail("grant = \"client_credentials\"\nclient_id = \"x\"\nclient_secret_env = \"PB_TEST_PW\"\n")),
               at(dir, 8, 9, "account[0].oauth2.grant"), "grant = \"service_account\"");
  // (The key file is reported missing too: every problem at once.)
  CHECK_THAT(joined(problems(dir, m365("grant = \"service_account\"\n"))),
             Contains(at(dir, 8, 9, "account[0].oauth2.grant") + "service accounts are Google's"));
  check_single(problems(dir, m365(kTenant + "client_key_file = \"app.key\"\n")),
               at(dir, 10, 19, "account[0].oauth2.client_key_file"), "is only used with grant = \"client_credentials\"");
  check_single(problems(dir, m365("grant = \"sometimes\"\n" + kTenant)), at(dir, 8, 9, "account[0].oauth2.grant"),
               "\"client_credentials\"");
}
