// OAuth logins in the config (auth = "xoauth2" / "oauthbearer" with [account.oauth2] /
// [smarthost.oauth2]): what the presets fill, which keys belong together, the words of each
// mistake, and that the client secret never shows.
#include <catch2/catch.hpp>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace pb::config;
using namespace pb::config::test;

namespace {

Config load_text(const TempDir& dir, const std::string& text) { return load(dir.write("postbridge.toml", text)); }

// An OAuth account (no password) with `auth_line` and the given [account.oauth2] body.
std::string oauth_account(const std::string& head, const std::string& table) {
  return "[[account]]\nname = \"info\"\n" + head + "username = \"info@firma.de\"\n" +
         "deliver_to = [\"info@firma.local\"]\n" + (table.empty() ? "" : "[account.oauth2]\n" + table);
}

}  // namespace

TEST_CASE("oauth config: the Microsoft 365 preset fills endpoints and scopes", "[config][oauth]") {
  TempDir dir;
  Config cfg = load_text(dir, oauth_account("provider = \"microsoft365\"\nauth = \"xoauth2\"\n",
                                            "client_id = \"11111111-2222-3333-4444-555555555555\"\n"
                                            "tenant = \"firma.onmicrosoft.com\"\n"));
  const Account& a = cfg.accounts.at(0);
  REQUIRE(a.oauth2);
  CHECK(a.auth == Pop3Auth::xoauth2);
  CHECK(oauth_mechanism(a.auth) == "XOAUTH2");
  CHECK(a.password.empty());
  CHECK(a.oauth2->provider == "microsoft");  // from provider = "microsoft365"
  CHECK(a.oauth2->token_url == "https://login.microsoftonline.com/firma.onmicrosoft.com/oauth2/v2.0/token");
  CHECK_THAT(a.oauth2->device_authorization_url, Contains("/devicecode"));
  CHECK_THAT(a.oauth2->scopes, Contains("POP.AccessAsUser.All"));
  CHECK_THAT(a.oauth2->scopes, Contains("offline_access"));
  CHECK(a.oauth2->client_secret.empty());
  CHECK(a.host == "outlook.office365.com");
}

TEST_CASE("oauth config: Google has no device flow, written keys win over the preset", "[config][oauth]") {
  TempDir dir;
  Config cfg = load_text(dir, oauth_account("host = \"pop.gmail.com\"\nauth = \"oauthbearer\"\n",
                                            "provider = \"google\"\nclient_id = \"abc.apps.googleusercontent.com\"\n"
                                            "client_secret_env = \"PB_TEST_PW\"\n"
                                            "scopes = \"https://mail.google.com/ openid\"\n"));
  const OAuth2& o = *cfg.accounts.at(0).oauth2;
  CHECK(o.token_url == "https://oauth2.googleapis.com/token");
  CHECK(o.device_authorization_url.empty());
  CHECK_THAT(o.authorization_url, StartsWith("https://accounts.google.com/"));
  CHECK(o.scopes == "https://mail.google.com/ openid");
  CHECK(o.client_secret.value == kSecret);
  CHECK(o.client_secret.source == "env PB_TEST_PW");
}

TEST_CASE("oauth config: a smarthost with OAuth needs the mailbox name, not a password", "[config][oauth]") {
  TempDir dir;
  Config cfg = load_text(dir, "[[smarthost]]\nname = \"m365\"\nprovider = \"microsoft365\"\nauth = \"xoauth2\"\n"
                              "username = \"info@firma.de\"\ndefault = true\n"
                              "[smarthost.oauth2]\nclient_id = \"app\"\n");
  const Smarthost& s = cfg.smarthosts.at(0);
  REQUIRE(s.oauth2);
  CHECK(oauth_mechanism(s.auth) == "XOAUTH2");
  CHECK(s.oauth2->provider == "microsoft");
  CHECK_THAT(s.oauth2->scopes, Contains("SMTP.Send"));

  auto ps = problems(dir, "[[smarthost]]\nname = \"m365\"\nprovider = \"microsoft365\"\nauth = \"xoauth2\"\n"
                          "default = true\n[smarthost.oauth2]\nclient_id = \"app\"\n");
  INFO(joined(ps));
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], Contains("smarthost[0].username: missing; give the mailbox the token belongs to"));
}

TEST_CASE("oauth config: mistakes name the key and say what to do", "[config][oauth]") {
  TempDir dir;
  SECTION("auth = xoauth2 without the table") {
    auto ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n", ""));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("account[0].oauth2: missing; auth = \"xoauth2\" needs an [account.oauth2] table"));
  }
  SECTION("a table without OAuth") {
    auto ps = problems(dir, account("info", "[account.oauth2]\nprovider = \"google\"\nclient_id = \"x\"\n"));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("account[0].oauth2: is only used with auth = \"xoauth2\" or \"oauthbearer\""));
  }
  SECTION("a password next to OAuth") {
    auto ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\npassword_env = \"PB_TEST_PW\"\n",
                                          "provider = \"google\"\nclient_id = \"x\"\n"));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("account[0].password_env: is not used with auth = \"xoauth2\", which logs in with an "
                               "OAuth token"));
  }
  SECTION("no provider, no client id") {
    auto ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n", "scopes = \"x\"\n"));
    INFO(joined(ps));
    REQUIRE(ps.size() == 2);
    CHECK_THAT(joined(ps), Contains("account[0].oauth2.provider: missing; say who issues the tokens"));
    CHECK_THAT(joined(ps), Contains("account[0].oauth2.client_id: missing; give the application (client) id"));
  }
  SECTION("custom needs its endpoints; http only to loopback") {
    auto ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n",
                                          "provider = \"custom\"\nclient_id = \"x\"\n"));
    INFO(joined(ps));
    CHECK(ps.size() == 3);
    CHECK_THAT(joined(ps), Contains("oauth2.token_url: missing"));
    CHECK_THAT(joined(ps), Contains("oauth2.scopes: missing"));
    CHECK_THAT(joined(ps), Contains("oauth2.device_authorization_url: missing"));
    ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n",
                                     "provider = \"custom\"\nclient_id = \"x\"\nscopes = \"pop\"\n"
                                     "token_url = \"http://idp.example.net/token\"\n"
                                     "device_authorization_url = \"http://127.0.0.1:9/device\"\n"));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("account[0].oauth2.token_url: "));
    CHECK_THAT(ps[0], Contains("https"));
  }
  SECTION("tenant belongs to Microsoft; unknown provider") {
    auto ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n",
                                          "provider = \"google\"\nclient_id = \"x\"\ntenant = \"common\"\n"));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("account[0].oauth2.tenant: is only used with provider = \"microsoft\""));
    ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n",
                                     "provider = \"gogle\"\nclient_id = \"x\"\n"));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("did you mean 'google'?"));
  }
  SECTION("two client secrets; a secret file others can read") {
    auto ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n",
                                          "provider = \"google\"\nclient_id = \"x\"\nclient_secret = \"a\"\n"
                                          "client_secret_env = \"PB_TEST_PW\"\n"));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("the client_secret is already given by 'client_secret'"));
    CHECK_THAT(ps[0], Contains("use only one of client_secret, client_secret_file, client_secret_env"));
    dir.write("client.secret", std::string(kSecret) + "\n", 0644);
    ps = problems(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n",
                                     "provider = \"google\"\nclient_id = \"x\"\nclient_secret_file = \"client.secret\"\n"));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("account[0].oauth2.client_secret_file: "));
    CHECK_THAT(ps[0], Contains("chmod 600"));
  }
}

TEST_CASE("oauth config: the shown config masks the client secret", "[config][oauth]") {
  TempDir dir;
  dir.write("client.secret", std::string(kSecret) + "\n", 0600);
  Config cfg = load_text(dir, oauth_account("host = \"pop.example.net\"\nauth = \"xoauth2\"\n",
                                            "provider = \"google\"\nclient_id = \"x\"\nclient_secret_file = \"client.secret\"\n"));
  CHECK(cfg.accounts.at(0).oauth2->client_secret.value == kSecret);
  std::string shown = render_masked(cfg);
  CHECK_THAT(shown, Contains("[account.oauth2]"));
  CHECK_THAT(shown, Contains("client_secret = \"****\""));
  CHECK_THAT(shown, Contains("auth = \"xoauth2\""));
  CHECK_THAT(shown, !Contains(kSecret));
  CHECK_THAT(shown, !Contains("password = "));
  // What it shows loads again (the masked secret aside).
  CHECK_THAT(shown, Contains("token_url = \"https://oauth2.googleapis.com/token\""));
}
