// Successful loads: the shipped example, defaults, relative path resolution, secret sources, and
// render_masked (valid TOML, re-loadable, never the secret).
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <fstream>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using namespace pb::config;
using namespace pb::config::test;

namespace {

Config load_text(const TempDir& dir, const std::string& text) {
  return load(dir.write("postbridge.toml", text));
}

// The shipped example with the commented-out blocks starting at the given header lines
// ("# [[account]]") switched on: "# " is removed up to the next line that is not a comment;
// lines that stay comments inside the block are written "# # ...".
std::string example_with(const std::vector<std::string>& headers) {
  std::ifstream in(PB_TEST_DATA "/../config/postbridge.toml");
  std::string text, line;
  bool in_block = false;
  std::size_t found = 0;
  while (std::getline(in, line)) {
    if (std::find(headers.begin(), headers.end(), line) != headers.end()) {
      in_block = true;
      ++found;
    } else if (in_block && line.rfind("#", 0) != 0) {
      in_block = false;
    }
    if (in_block && line.rfind("# ", 0) == 0 && line.rfind("# #", 0) != 0) line = line.substr(2);
    if (in_block && line == "#") line.clear();
    if (in_block && line.rfind("password_file", 0) == 0) line = "password_env = \"PB_TEST_PW\"";
    text += line + "\n";
  }
  REQUIRE(found == headers.size());
  return text;
}

}  // namespace

TEST_CASE("config: the shipped example config/postbridge.toml loads", "[config]") {
  std::filesystem::path file = PB_TEST_DATA "/../config/postbridge.toml";
  Config cfg;
  try {
    cfg = load(file);
  } catch (const ConfigError& e) {
    FAIL(e.what());
  }
  auto config_dir = std::filesystem::absolute(file).lexically_normal().parent_path();
  CHECK(cfg.file == config_dir / "postbridge.toml");
  CHECK(cfg.service.state_dir == config_dir / "var");
  CHECK(cfg.service.max_parallel_polls == 4);
  CHECK(cfg.service.log_level == "info");
  CHECK(cfg.local.host == "127.0.0.1");
  CHECK(cfg.local.port == 25);
  CHECK(cfg.local.protocol == LocalProtocol::smtp);
  CHECK(cfg.local.tls == TlsMode::none);
  CHECK(cfg.local.username.empty());
  CHECK(cfg.accounts.empty());  // the account example is commented out
  // The relay runs on loopback with its defaults; no smarthost yet.
  REQUIRE(cfg.relay.listen.size() == 1);
  CHECK(cfg.relay.listen[0].str() == "127.0.0.1:2525");
  REQUIRE(cfg.relay.allow_networks.size() == 2);
  CHECK(cfg.relay.allow_networks[0].str() == "127.0.0.1/32");
  CHECK(cfg.relay.allow_networks[1].str() == "::1/128");
  CHECK(cfg.relay.users.empty());
  CHECK_FALSE(cfg.relay.tls());
  CHECK(cfg.smarthosts.empty());
}

TEST_CASE("config: the example's commented-out accounts are valid, single-drop and multidrop", "[config]") {
  TempDir dir;
  Config cfg;
  try {
    cfg = load_text(dir, example_with({"# [[account]]", "# [[account]]   # catch-all"}));
  } catch (const ConfigError& e) {
    FAIL(e.what());
  }
  REQUIRE(cfg.accounts.size() == 2);
  CHECK(cfg.accounts[0].deliver_to == std::vector<std::string>{"info@firma.local"});
  CHECK_FALSE(cfg.accounts[0].multidrop);
  const Account& d = cfg.accounts[1];
  CHECK(d.name == "domain");
  CHECK(d.deliver_to.empty());
  REQUIRE(d.multidrop);
  CHECK(d.multidrop->domains == std::vector<std::string>{"firma.de"});
  CHECK(d.multidrop->rewrite_domain == "firma.local");
  REQUIRE(d.multidrop->map.size() == 2);
  CHECK(d.multidrop->default_recipient == "postmaster@firma.local");
  CHECK(d.multidrop->envelope_headers.size() == 5);
  CHECK(d.multidrop->loop_limit == 2);
  CHECK(d.multidrop->duplicate_window == std::chrono::hours(24));
}

TEST_CASE("config: the example's commented-out OAuth account is valid", "[config][oauth]") {
  TempDir dir;
  Config cfg;
  try {
    cfg = load_text(dir, example_with({"# [[account]]   # OAuth"}));
  } catch (const ConfigError& e) {
    FAIL(e.what());
  }
  REQUIRE(cfg.accounts.size() == 1);
  const Account& a = cfg.accounts[0];
  CHECK(a.name == "office365");
  CHECK(a.auth == Pop3Auth::xoauth2);
  CHECK(a.host == "outlook.office365.com");
  REQUIRE(a.oauth2);
  CHECK(a.oauth2->provider == "microsoft");
  CHECK(a.oauth2->token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token");
}

TEST_CASE("config: the example's commented-out relay user and smarthost are valid", "[config]") {
  std::string text = example_with({"# [[relay.user]]", "# [[smarthost]]"});
  TempDir dir;
  // As shipped, the placeholder is refused: nobody can run with a guessable example password.
  auto ps = problems(dir, text);
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], Contains("relay.user[0].password_hash: is not a password hash"));

  auto at = text.find("PASTE-THE-OUTPUT-OF-postbridge-hash-password-HERE");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("PASTE-THE-OUTPUT-OF-postbridge-hash-password-HERE").size(),
               kSecretHash);
  Config cfg;
  try {
    cfg = load_text(dir, text);
  } catch (const ConfigError& e) {
    FAIL(e.what());
  }
  REQUIRE(cfg.relay.users.size() == 1);
  CHECK(cfg.relay.users[0].name == "scanner");
  CHECK(cfg.relay.users[0].password_hash == kSecretHash);
  REQUIRE(cfg.smarthosts.size() == 1);
  const Smarthost& h = cfg.smarthosts[0];
  CHECK(h.name == "strato");
  CHECK(h.host == "smtp.example.net");
  CHECK(h.port == 465);
  CHECK(h.tls == TlsMode::implicit);
  CHECK(h.auth == SmarthostAuth::automatic);
  CHECK(h.username == "smarthost@firma.de");
  CHECK(h.password.value == kSecret);
  REQUIRE(h.senders.size() == 1);
  CHECK(h.senders[0].str() == "*@firma.de");
  CHECK(h.is_default);
  CHECK_FALSE(h.max_message_size.has_value());
  CHECK(h.max_connections == 2);
}

TEST_CASE("config: the example's commented-out account is complete and valid", "[config]") {
  // Uncomment the [[account]] block of the shipped file and swap the password file for an
  // environment variable: every documented key must then load.
  std::string text = example_with({"# [[account]]"});
  TempDir dir;
  Config cfg;
  try {
    cfg = load_text(dir, text);
  } catch (const ConfigError& e) {
    FAIL(e.what());
  }
  REQUIRE(cfg.accounts.size() == 1);
  const Account& a = cfg.accounts[0];
  CHECK(a.name == "info");
  CHECK(a.host == "pop3.example.net");
  CHECK(a.port == 995);
  CHECK(a.tls == TlsMode::implicit);
  CHECK(a.auth == Pop3Auth::automatic);
  CHECK(a.poll_interval == std::chrono::minutes(5));
  CHECK(a.max_message_size.bytes == 50'000'000);
  CHECK(a.deliver_to == std::vector<std::string>{"info@firma.local"});
}

TEST_CASE("config: an empty file gives all defaults", "[config]") {
  TempDir dir;
  Config cfg = load_text(dir, "");
  CHECK(cfg.service.state_dir == "/var/lib/postbridge");
  std::array<char, 256> host{};
  REQUIRE(::gethostname(host.data(), host.size() - 1) == 0);
  CHECK(cfg.service.hostname == host.data());
  CHECK(cfg.service.postmaster == "postmaster@" + std::string(host.data()));
  CHECK(cfg.service.max_parallel_polls == 4);
  CHECK(cfg.local.port == 25);
  CHECK(cfg.local.timeout == std::chrono::minutes(5));
  CHECK(cfg.local.max_connections == 2);
  CHECK(cfg.accounts.empty());
  CHECK(cfg.relay.enabled());
  CHECK(cfg.relay.listen == std::vector<pb::inet::Endpoint>{{"127.0.0.1", 2525}});
  CHECK(cfg.relay.allow_networks.size() == 2);
  CHECK(cfg.smarthosts.empty());
}

TEST_CASE("config: account defaults, and the port follows tls", "[config]") {
  TempDir dir;
  std::string text = account("a") + "\n" + account("b", "tls = \"starttls\"\n") + "\n" +
                     account("c", "tls = \"none\"\nallow_plaintext = true\n") + "\n" +
                     account("d", "tls = \"starttls\"\nport = 1110\n");
  Config cfg = load_text(dir, text);
  REQUIRE(cfg.accounts.size() == 4);
  const Account& a = cfg.accounts[0];
  CHECK(a.port == 995);
  CHECK(a.tls == TlsMode::implicit);
  CHECK(a.enabled);
  CHECK(a.tls_verify);
  CHECK_FALSE(a.allow_plaintext);
  CHECK(a.auth == Pop3Auth::automatic);
  CHECK(a.poll_interval == std::chrono::minutes(5));
  CHECK(a.timeout == std::chrono::seconds(60));
  CHECK_FALSE(a.keep);
  CHECK(a.keep_days == 0);
  CHECK(a.max_message_size.bytes == 50'000'000);
  CHECK(a.source_line == 1);
  CHECK(cfg.accounts[1].port == 110);
  CHECK(cfg.accounts[2].port == 110);
  CHECK(cfg.accounts[3].port == 1110);
  CHECK(cfg.accounts[3].source_line == 25);
  CHECK(cfg.find_account("c") == &cfg.accounts[2]);
  CHECK(cfg.find_account("x") == nullptr);
}

TEST_CASE("config: every key is read", "[config]") {
  TempDir dir;
  dir.write("ca/provider.pem", "-----BEGIN CERTIFICATE-----\n");
  std::string text = R"([service]
state_dir = "/srv/pb"
hostname = "gw.firma.local"
postmaster = "admin@firma.local"
max_parallel_polls = 8
log_level = "debug"

[local]
host = "mail.firma.local"
port = 24
protocol = "lmtp"
tls = "starttls"
tls_verify = false
ca_file = "ca/provider.pem"
username = "gw"
password = "local-pw"
allow_plaintext = false
max_connections = 4
timeout = "90s"

[[account]]
name = "sales.team_1"
enabled = false
host = "pop.example.org"
port = 9995
tls = "implicit"
ca_file = "ca/provider.pem"
tls_verify = false
allow_plaintext = true
auth = "apop"
username = "sales"
password_env = "PB_TEST_PW"
poll_interval = "1h30m"
timeout = "1500ms"
keep = true
keep_days = 14
max_message_size = "10MiB"
deliver_to = ["a@firma.local", "jörg@firma.local"]
)";
  Config cfg = load_text(dir, text);
  CHECK(cfg.service.state_dir == "/srv/pb");
  CHECK(cfg.service.hostname == "gw.firma.local");
  CHECK(cfg.service.postmaster == "admin@firma.local");
  CHECK(cfg.service.max_parallel_polls == 8);
  CHECK(cfg.service.log_level == "debug");
  CHECK(cfg.local.host == "mail.firma.local");
  CHECK(cfg.local.port == 24);
  CHECK(cfg.local.protocol == LocalProtocol::lmtp);
  CHECK(cfg.local.tls == TlsMode::starttls);
  CHECK_FALSE(cfg.local.tls_verify);
  CHECK(cfg.local.ca_file == (dir.path() / "ca/provider.pem").string());
  CHECK(cfg.local.username == "gw");
  CHECK(cfg.local.password.value == "local-pw");
  CHECK(cfg.local.password.source == "inline");
  CHECK(cfg.local.max_connections == 4);
  CHECK(cfg.local.timeout == std::chrono::seconds(90));
  REQUIRE(cfg.accounts.size() == 1);
  const Account& a = cfg.accounts[0];
  CHECK(a.name == "sales.team_1");
  CHECK_FALSE(a.enabled);
  CHECK(a.host == "pop.example.org");
  CHECK(a.port == 9995);
  CHECK(a.ca_file == (dir.path() / "ca/provider.pem").string());
  CHECK_FALSE(a.tls_verify);
  CHECK(a.allow_plaintext);
  CHECK(a.auth == Pop3Auth::apop);
  CHECK(a.username == "sales");
  CHECK(a.password.value == kSecret);
  CHECK(a.password.source == "env PB_TEST_PW");
  CHECK(a.poll_interval == std::chrono::minutes(90));
  CHECK(a.timeout == std::chrono::milliseconds(1500));
  CHECK(a.keep);
  CHECK(a.keep_days == 14);
  CHECK(a.max_message_size.bytes == 10u * 1024 * 1024);
  CHECK(a.deliver_to == std::vector<std::string>{"a@firma.local", "jörg@firma.local"});
}

TEST_CASE("config: relative paths resolve against the config file's folder", "[config]") {
  TempDir dir;
  dir.write("secrets/info.secret", std::string(kSecret) + "\n", 0600);
  auto text =
      "[service]\nstate_dir = \"var/../state\"\n\n[[account]]\nname = \"info\"\n"
      "host = \"pop3.example.net\"\nusername = \"u\"\n"
      "password_file = \"secrets/info.secret\"\ndeliver_to = [\"info@firma.local\"]\n";
  auto file = dir.write("postbridge.toml", text);

  // Load through a path relative to the working directory: results must still be absolute.
  auto relative = std::filesystem::relative(file);
  REQUIRE(relative.is_relative());
  Config cfg = load(relative);
  CHECK(cfg.file == file);
  CHECK(cfg.service.state_dir == dir.path() / "state");
  REQUIRE(cfg.accounts.size() == 1);
  CHECK(cfg.accounts[0].password.source == "file " + (dir.path() / "secrets/info.secret").string());

  // Problems name the file as it was given.
  dir.write("postbridge.toml", "[local]\nport = 0\n");
  try {
    load(relative);
    FAIL("port 0 accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.problems().at(0), Catch::Matchers::StartsWith(relative.string() + ":2:8: "));
  }
}

TEST_CASE("config: a password file's password is its first line, exactly", "[config]") {
  TempDir dir;
  auto text = account("info").replace(account("info").find("password_env = \"PB_TEST_PW\""), 27,
                                      "password_file = \"pw\"");
  dir.write("pw", "with space \n", 0600);
  CHECK(load_text(dir, text).accounts[0].password.value == "with space ");
  dir.write("pw", "crlf\r\n", 0600);
  CHECK(load_text(dir, text).accounts[0].password.value == "crlf");
  dir.write("pw", "two\n\n", 0600);  // blank lines after it (an editor's) do not count
  CHECK(load_text(dir, text).accounts[0].password.value == "two");
  dir.write("pw", "blank\r\n \t\r\n\n", 0600);
  CHECK(load_text(dir, text).accounts[0].password.value == "blank");
  dir.write("pw", "none", 0400);
  CHECK(load_text(dir, text).accounts[0].password.value == "none");
}

TEST_CASE("config: a lone deliver_to string is a one-element list", "[config]") {
  TempDir dir;
  auto text = account("info");
  text.replace(text.find("[\"info@firma.local\"]"), 20, "\"info@firma.local\"");
  CHECK(load_text(dir, text).accounts[0].deliver_to ==
        std::vector<std::string>{"info@firma.local"});
}

TEST_CASE("config: render_masked is valid TOML, complete, and never shows a secret", "[config]") {
  TempDir dir;
  dir.write("info.secret", std::string(kSecret) + "\n", 0600);
  std::string text =
      "[service]\nstate_dir = \"var\"\nhostname = \"gw.firma.local\"\n\n"
      "[local]\nusername = \"gw\"\npassword = \"" +
      std::string(kSecret) + "\"\ntls = \"starttls\"\n\n" + account("env") +
      "timeout = \"1500ms\"\nmax_message_size = \"10MiB\"\n\n" +
      "[[account]]\nname = \"file\"\nhost = \"pop.example.org\"\nusername = \"u\"\n"
      "password_file = \"info.secret\"\ndeliver_to = [\"a@x.y\", \"\\\"b c\\\"@x.y\"]\n";
  Config cfg = load_text(dir, text);
  std::string out = render_masked(cfg);
  INFO(out);

  CHECK_THAT(out, !Contains(kSecret));
  CHECK_THAT(out, Contains("password = \"****\"  # inline in " + cfg.file.string()));
  CHECK_THAT(out, Contains("password = \"****\"  # from env PB_TEST_PW"));
  CHECK_THAT(out,
             Contains("password = \"****\"  # from file " + (dir.path() / "info.secret").string()));
  CHECK_THAT(out, Contains("state_dir = \"" + (dir.path() / "var").string() + "\""));
  CHECK_THAT(out, Contains("port = 995"));
  CHECK_THAT(out, Contains("timeout = \"1500ms\""));
  CHECK_THAT(out, Contains("max_message_size = \"10MiB\""));
  CHECK_THAT(out, Contains("poll_interval = \"5m\""));

  // Valid TOML, and loading it gives the same configuration back (secrets aside).
  toml::table parsed;
  REQUIRE_NOTHROW(parsed = toml::parse(std::string_view(out), std::string_view("rendered")));
  CHECK(parsed["account"][1]["deliver_to"][1].value_or(std::string()) == "\"b c\"@x.y");
  TempDir again;
  Config back = load(again.write("postbridge.toml", out));
  CHECK(back.service.state_dir == cfg.service.state_dir);
  CHECK(back.service.hostname == cfg.service.hostname);
  CHECK(back.local.tls == cfg.local.tls);
  REQUIRE(back.accounts.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const Account& a = cfg.accounts[i];
    const Account& b = back.accounts[i];
    CHECK(b.name == a.name);
    CHECK(b.port == a.port);
    CHECK(b.timeout == a.timeout);
    CHECK(b.poll_interval == a.poll_interval);
    CHECK(b.max_message_size == a.max_message_size);
    CHECK(b.deliver_to == a.deliver_to);
    CHECK(b.password.value == "****");
  }
}

TEST_CASE("config: to_string spells values as the config file does", "[config]") {
  CHECK(std::string(to_string(TlsMode::none)) == "none");
  CHECK(std::string(to_string(TlsMode::starttls)) == "starttls");
  CHECK(std::string(to_string(TlsMode::implicit)) == "implicit");
  CHECK(std::string(to_string(LocalProtocol::smtp)) == "smtp");
  CHECK(std::string(to_string(LocalProtocol::lmtp)) == "lmtp");
  CHECK(std::string(to_string(Pop3Auth::automatic)) == "auto");
  CHECK(std::string(to_string(Pop3Auth::sasl_plain)) == "plain");
  CHECK(std::string(to_string(Pop3Auth::apop)) == "apop");
  CHECK(std::string(to_string(Pop3Auth::user_pass)) == "user");
}

TEST_CASE("config: the example's commented-out IMAP account is valid", "[config][imap]") {
  TempDir dir;
  Config cfg;
  try {
    cfg = load_text(dir, example_with({"# [[account]]   # IMAP"}));
  } catch (const ConfigError& e) {
    FAIL(e.what());
  }
  REQUIRE(cfg.accounts.size() == 1);
  const Account& a = cfg.accounts[0];
  CHECK(a.protocol == FetchProtocol::imap);
  CHECK(a.port == 993);
  CHECK(a.tls == TlsMode::implicit);
  CHECK(a.folders == std::vector<std::string>{"INBOX", "Junk"});
  CHECK(a.move_to == "Archiv");
}

TEST_CASE("config: IMAP accounts default to INBOX and port 993, or 143 with STARTTLS, and presets know the IMAP host",
          "[config][imap]") {
  TempDir dir;
  Config cfg = load_text(dir, account("a", "protocol = \"imap\"\n") +
                                  account("b", "protocol = \"imap\"\ntls = \"starttls\"\n") +
                                  "[[account]]\nname = \"c\"\nprotocol = \"imap\"\nprovider = \"gmx\"\nusername = \"c\"\n"
                                  "password_env = \"PB_TEST_PW\"\ndeliver_to = [\"c@firma.local\"]\n" +
                                  account("d", ""));
  REQUIRE(cfg.accounts.size() == 4);
  CHECK(cfg.accounts[0].port == 993);
  CHECK(cfg.accounts[0].folders == std::vector<std::string>{"INBOX"});
  CHECK(cfg.accounts[0].move_to.empty());
  CHECK(cfg.accounts[1].port == 143);
  CHECK(cfg.accounts[2].host == "imap.gmx.net");
  CHECK(cfg.accounts[2].port == 993);
  CHECK(cfg.accounts[3].protocol == FetchProtocol::pop3);
  CHECK(cfg.accounts[3].port == 995);
  // postbridge check shows them, and its output loads again as the same accounts.
  std::string out = render_masked(cfg);
  CHECK_THAT(out, Contains("protocol = \"imap\"\n"));
  CHECK_THAT(out, Contains("folders = [\"INBOX\"]\n"));
  TempDir again;
  Config back = load(again.write("postbridge.toml", out));
  CHECK(back.accounts.at(1).protocol == FetchProtocol::imap);
  CHECK(back.accounts.at(1).tls == TlsMode::starttls);
}
