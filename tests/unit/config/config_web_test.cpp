// [web] and [[web.user]]: defaults, switching off, HTTPS and logins, and the refusal to open the
// status page to the network without both; hashes never appear in messages or render_masked.
#include <toml++/toml.h>

#include <catch2/catch.hpp>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace pb::config;
using namespace pb::config::test;

namespace {

Config load_text(const TempDir& dir, const std::string& text) {
  try {
    return load(dir.write("postbridge.toml", text));
  } catch (const ConfigError& e) {
    FAIL_CHECK(e.what());
    throw;
  }
}

std::string web_user(const std::string& name, const std::string& hash = kSecretHash) {
  return "[[web.user]]\nname = \"" + name + "\"\npassword_hash = \"" + hash + "\"\n";
}

const std::string kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const std::string kKey = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
const std::string kTls = "tls_cert_file = \"web.pem\"\ntls_key_file = \"web.key\"\n";

void write_tls(const TempDir& dir) {
  dir.write("web.pem", kPem, 0644);
  dir.write("web.key", kKey, 0600);
}

}  // namespace

TEST_CASE("config web: defaults to loopback without login", "[config][web]") {
  TempDir dir;
  for (const char* text : {"", "[web]\n"}) {
    Config cfg = load_text(dir, text);
    REQUIRE(cfg.web.enabled());
    CHECK(*cfg.web.listen == pb::inet::Endpoint{"127.0.0.1", 8025});
    CHECK_FALSE(cfg.web.tls());
    CHECK_FALSE(cfg.web.login_required());
    CHECK(cfg.web.users.empty());
  }
}

TEST_CASE("config web: an empty listen switches the page off", "[config][web]") {
  TempDir dir;
  Config cfg = load_text(dir, "[web]\nlisten = \"\"\n");
  CHECK_FALSE(cfg.web.enabled());
}

TEST_CASE("config web: loopback with logins asks for them, HTTPS optional", "[config][web]") {
  TempDir dir;
  Config cfg = load_text(dir, "[web]\nlisten = \"[::1]:9000\"\n" + web_user("admin") + web_user("chef"));
  CHECK(cfg.web.listen->str() == "[::1]:9000");
  CHECK(cfg.web.login_required());
  REQUIRE(cfg.web.users.size() == 2);
  CHECK(cfg.web.find_user("admin")->password_hash == kSecretHash);
  CHECK(cfg.web.find_user("chef")->source_line == 6);
  // Names match in any case, like the relay's (they are unique regardless of case).
  CHECK(cfg.web.find_user("Admin") == &cfg.web.users[0]);
  CHECK(cfg.web.find_user("CHEF") == &cfg.web.users[1]);
  CHECK(cfg.web.find_user("admin2") == nullptr);
}

TEST_CASE("config web: the network with logins and HTTPS", "[config][web]") {
  TempDir dir;
  write_tls(dir);
  Config cfg = load_text(dir, "[web]\nlisten = \"192.168.1.5:8443\"\n" + kTls + web_user("admin"));
  CHECK(cfg.web.tls());
  CHECK(cfg.web.tls_cert_file == (dir.path() / "web.pem").string());
  CHECK(cfg.web.tls_key_file == (dir.path() / "web.key").string());
  CHECK(cfg.web.login_required());
}

TEST_CASE("config web: hostnames, the names the page is opened under", "[config][web]") {
  TempDir dir;
  CHECK(load_text(dir, "[web]\n").web.hostnames.empty());
  Config cfg = load_text(dir, "[web]\nhostnames = [\"GW.Firma.Local.\", \"gw.firma.local:8443\", \"[fd00::5]:8025\", "
                              "\"192.168.1.5\"]\n");
  REQUIRE(cfg.web.hostnames.size() == 4);
  CHECK(cfg.web.hostnames[0] == pb::inet::HostPort{"gw.firma.local", std::nullopt, false});
  CHECK(cfg.web.hostnames[1] == pb::inet::HostPort{"gw.firma.local", 8443, false});
  CHECK(cfg.web.hostnames[2] == pb::inet::HostPort{"fd00::5", 8025, true});
  CHECK(cfg.web.hostnames[3].ip);
  CHECK(load_text(dir, "[web]\nhostnames = \"gw.firma.local\"\n").web.hostnames.size() == 1);  // one name alone
  CHECK_THAT(render_masked(cfg), Contains("hostnames = [\"gw.firma.local\", \"gw.firma.local:8443\", \"[fd00::5]:8025\", "
                                          "\"192.168.1.5\"]\n"));
}

TEST_CASE("config web error: hostnames that are not one name", "[config][web][errors]") {
  TempDir dir;
  const std::string example = "without http://, e.g. \"gw.firma.local\" or \"gw.firma.local:8443\"";
  check_single(problems(dir, "[web]\nhostnames = [\"https://gw.firma.local\"]\n"), at(dir, 2, 14, "web.hostnames[0]"),
               "'https://gw.firma.local' has a scheme; write the name as in the browser's address bar " + example);
  check_single(problems(dir, "[web]\nhostnames = [\"gw.firma.local\", \"gw.firma.local/status\"]\n"),
               at(dir, 2, 32, "web.hostnames[1]"), "'gw.firma.local/status' has a path");
  check_single(problems(dir, "[web]\nhostnames = [\"*.firma.local\"]\n"), at(dir, 2, 14, "web.hostnames[0]"),
               "'*.firma.local' is a wildcard; list each name the page is opened under");
  check_single(problems(dir, "[web]\nhostnames = [\"gw.firma.local:99999\"]\n"), at(dir, 2, 14, "web.hostnames[0]"),
               "'gw.firma.local:99999' is not a host name or address with an optional port");
  check_single(problems(dir, "[web]\nhostnames = [\"\"]\n"), at(dir, 2, 14, "web.hostnames[0]"), "is empty");
  check_single(problems(dir, "[web]\nhostnames = [\"gw.firma.local\", \"GW.firma.local.\"]\n"),
               at(dir, 2, 32, "web.hostnames[1]"), "'GW.firma.local.' is listed twice");
  check_single(problems(dir, "[web]\nhostnames = [8443]\n"), at(dir, 2, 14, "web.hostnames[0]"),
               "expected a string, got integer");
  check_single(problems(dir, "[web]\nhostnames = 8443\n"), at(dir, 2, 13, "web.hostnames"),
               "expected a list like [\"gw.firma.local\"], got integer");
}

TEST_CASE("config web error: the network without login or HTTPS is refused", "[config][web][errors]") {
  TempDir dir;
  write_tls(dir);
  const std::string open = "the status page would be open to the network";
  check_single(problems(dir, "[web]\nlisten = \"0.0.0.0:8025\"\n"), at(dir, 2, 10, "web.listen"),
               "'0.0.0.0:8025' is not a loopback address and there is neither a login nor HTTPS: " + open);
  check_single(problems(dir, "[web]\nlisten = \"192.168.1.5:8025\"\n" + kTls), at(dir, 2, 10, "web.listen"),
               "no [[web.user]] login is defined: " + open);
  auto ps = problems(dir, "[web]\nlisten = \"gateway.firma.local:8025\"\n" + web_user("admin"));
  check_single(ps, at(dir, 2, 10, "web.listen"), "HTTPS is not set up: " + open);
  CHECK_THAT(joined(ps), !Contains(kSecretHash));
}

TEST_CASE("config web error: bad listen, TLS halves, users", "[config][web][errors]") {
  TempDir dir;
  write_tls(dir);
  check_single(problems(dir, "[web]\nlisten = \"127.0.0.1\"\n"), at(dir, 2, 10, "web.listen"),
               "'127.0.0.1' is not an address with a port; use \"127.0.0.1:8025\"");
  check_single(problems(dir, "[web]\nlisten = [\"127.0.0.1:8025\"]\n"), at(dir, 2, 10, "web.listen"),
               "expected a string, got array");
  check_single(problems(dir, "[web]\ntls_cert_file = \"web.pem\"\n"), at(dir, 2, 17, "web.tls_cert_file"),
               "is set but tls_key_file is not; HTTPS needs the certificate");
  check_single(problems(dir, "[web]\ntls_key_file = \"web.key\"\n"), at(dir, 2, 16, "web.tls_key_file"),
               "is set but tls_cert_file is not");
  check_single(problems(dir, "[web]\nport = 8025\n"), at(dir, 2, 1, "web.port"), "unknown key");

  // A plain-text password is refused and never echoed.
  auto ps = problems(dir, "[[web.user]]\nname = \"admin\"\npassword_hash = \"" + std::string(kSecret) + "\"\n");
  check_single(ps, at(dir, 3, 17, "web.user[0].password_hash"), "is not a password hash; a plain-text password");
  CHECK_THAT(joined(ps), !Contains(kSecret));
  // A hash cut short when pasting: the message lists the kinds that work, as for [[relay.user]].
  ps = problems(dir, web_user("admin", std::string(kSecretHash).substr(0, 50)));
  check_single(ps, at(dir, 3, 17, "web.user[0].password_hash"),
               "is not a complete password hash of a supported kind (yescrypt \"$y$\", bcrypt \"$2b$\"");
  CHECK_THAT(joined(ps), !Contains(std::string(kSecretHash).substr(0, 50)));
  check_single(problems(dir, "[[web.user]]\nname = \"admin\"\npassword = \"x\"\n"),
               at(dir, 3, 12, "web.user[0].password"), "status page logins are checked against a password hash");
  check_single(problems(dir, "[[web.user]]\nname = \"admin\"\n"), at(dir, 1, 1, "web.user[0].password_hash"),
               "missing; create one with `postbridge hash-password`");
  check_single(problems(dir, "[[web.user]]\nname = \"a b\"\npassword_hash = \"" + std::string(kSecretHash) + "\"\n"),
               at(dir, 2, 8, "web.user[0].name"), "'a b' is not allowed");
  check_single(problems(dir, web_user("admin") + web_user("ADMIN")), at(dir, 5, 8, "web.user[1].name"),
               "'ADMIN' is already used by the login at line 1");
  check_single(problems(dir, "[web]\nuser = \"admin\"\n"), at(dir, 2, 8, "web.user"),
               "expected [[web.user]] sections, got string");
}

TEST_CASE("config web error: keys outside a section and near-miss names point to [web]", "[config][web][errors]") {
  TempDir dir;
  check_single(problems(dir, "tls_key_file = \"x\"\n"), at(dir, 1, 1, "tls_key_file"),
               "it belongs under [relay] or [web]");
  check_single(problems(dir, "[webpage]\nlisten = \"\"\n"), at(dir, 1, 2, "webpage"), "did you mean 'web'?");
  check_single(problems(dir, "[[user]]\nname = \"x\"\n"), at(dir, 1, 3, "user"), "or [web] (as [[web.user]])");
}

TEST_CASE("config web: render_masked shows [web] without hashes and loads back", "[config][web]") {
  TempDir dir;
  Config cfg = load_text(dir, "[web]\nlisten = \"127.0.0.2:8080\"\n" + web_user("admin"));
  std::string out = render_masked(cfg);
  INFO(out);
  CHECK_THAT(out, !Contains(kSecretHash));
  CHECK_THAT(out, Contains("[web]\nlisten = \"127.0.0.2:8080\"\n"));
  CHECK_THAT(out, Contains("[[web.user]]\n# defined at line 3\nname = \"admin\"\npassword_hash = \"****\""));
  toml::table parsed;
  REQUIRE_NOTHROW(parsed = toml::parse(std::string_view(out), std::string_view("rendered")));
  CHECK(parsed["web"]["user"][0]["name"].value_or(std::string()) == "admin");

  Config off = load_text(dir, "[web]\nlisten = \"\"\n");
  CHECK_THAT(render_masked(off), Contains("[web]\nlisten = \"\"\n"));
}
