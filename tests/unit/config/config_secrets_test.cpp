// A password or client_secret written into the config file is refused, like an open password
// file, when others can read the file: at the key's FILE:LINE:COL, with the chmod and the
// password_file way out, never the secret. The group may read it (0640 root:postbridge).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace pb::config;
using namespace pb::config::test;

namespace {

// The problems of `text` written as postbridge.toml with `mode`.
std::vector<std::string> problems_at_mode(const TempDir& dir, const std::string& text, unsigned mode) {
  auto file = dir.write("postbridge.toml", text, mode);
  try {
    load(file);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

const std::string kInlineAccount =  // password on line 5, column 12
    "[[account]]\n"
    "name = \"info\"\n"
    "host = \"pop3.example.net\"\n"
    "username = \"info@firma.de\"\n"
    "password = \"" + std::string(kSecret) + "\"\n"
    "deliver_to = [\"info@firma.local\"]\n";

}  // namespace

TEST_CASE("config secrets: an inline password in a file others can read is refused, with the fix",
          "[config][secrets]") {
  TempDir dir;
  const std::string file = (dir.path() / "postbridge.toml").string();
  for (unsigned mode : {0644u, 0604u, 0666u, 0602u}) {
    auto ps = problems_at_mode(dir, kInlineAccount, mode);
    INFO("mode " << std::oct << mode << "\n" << joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], StartsWith(at(dir, 5, 12, "account[0].password")));
    char shown[8];
    std::snprintf(shown, sizeof shown, "%04o", mode);
    CHECK_THAT(ps[0], Contains(file + " is accessible by other users (mode " + shown + ") and holds this password"));
    CHECK_THAT(ps[0], Contains("restrict it with: chmod 640 " + file));
    CHECK_THAT(ps[0], Contains("named by password_file"));
    CHECK_THAT(ps[0], !Contains(kSecret));
  }
}

TEST_CASE("config secrets: the owner and the group may read a config with an inline password",
          "[config][secrets]") {
  TempDir dir;
  for (unsigned mode : {0640u, 0600u, 0660u, 0400u}) {
    INFO("mode " << std::oct << mode);
    CHECK(problems_at_mode(dir, kInlineAccount, mode).empty());
  }
}

TEST_CASE("config secrets: [local] and smarthost passwords and a client_secret likewise", "[config][secrets]") {
  TempDir dir;
  const std::string text =
      "[local]\nusername = \"gw\"\npassword = \"local-pw\"\ntls = \"starttls\"\n\n"  // line 3
      "[[smarthost]]\nname = \"strato\"\nhost = \"smtp.example.net\"\nusername = \"s@firma.de\"\n"
      "password = \"smart-pw\"\nsenders = [\"*@firma.de\"]\n\n"  // line 10
      "[[account]]\nname = \"office365\"\nhost = \"outlook.office365.com\"\nauth = \"xoauth2\"\n"
      "username = \"info@firma.de\"\ndeliver_to = [\"info@firma.local\"]\n"
      "[account.oauth2]\nprovider = \"google\"\nclient_id = \"x\"\nclient_secret = \"app-secret\"\n";  // line 22
  auto ps = problems_at_mode(dir, text, 0644);
  INFO(joined(ps));
  REQUIRE(ps.size() == 3);
  CHECK_THAT(ps[0], StartsWith(at(dir, 3, 12, "local.password")));
  CHECK_THAT(ps[1], StartsWith(at(dir, 10, 12, "smarthost[0].password")));
  CHECK_THAT(ps[2], StartsWith(at(dir, 22, 17, "account[0].oauth2.client_secret")));
  CHECK_THAT(ps[2], Contains("holds this client secret"));
  CHECK_THAT(ps[2], Contains("named by client_secret_file"));
  CHECK(problems_at_mode(dir, text, 0640).empty());
}

TEST_CASE("config secrets: a config without inline secrets may be readable by all", "[config][secrets]") {
  TempDir dir;
  dir.write("info.secret", std::string(kSecret) + "\n", 0600);
  const std::string text = account("env") + "\n" +
                           "[[account]]\nname = \"file\"\nhost = \"pop.example.org\"\nusername = \"u\"\n"
                           "password_file = \"info.secret\"\ndeliver_to = [\"a@x.y\"]\n";
  CHECK(problems_at_mode(dir, text, 0644).empty());
  // The shipped example is such a file, whatever mode a checkout gives it (usually 0644).
  CHECK_NOTHROW(load(PB_TEST_DATA "/../config/postbridge.toml"));
}

TEST_CASE("config secrets: a password given twice is reported once, not also as open", "[config][secrets]") {
  TempDir dir;
  auto ps = problems_at_mode(dir, account("info", "password = \"x\"\n"), 0644);
  INFO(joined(ps));
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], Contains("already given by 'password_env'"));
}
