// One TEST_CASE per class of configuration mistake: each asserts the exact FILE:LINE:COL, the
// dotted key and a fragment of the explanation an admin will read.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace pb::config;
using namespace pb::config::test;

TEST_CASE("config error: TOML syntax error names line and column", "[config][errors]") {
  TempDir dir;
  auto ps = problems(dir, "[service]\nlog_level = \"info\n");
  auto file = (dir.path() / "postbridge.toml").string();
  check_single(ps, file + ":2:18: TOML syntax error: ", "string");
}

TEST_CASE("config error: unknown section suggests the right name", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, "[servce]\nstate_dir = \"var\"\n"), at(dir, 1, 2, "servce"),
               "unknown section; did you mean 'service'?");
  check_single(problems(dir, "[relais]\nlisten = []\n"), at(dir, 1, 2, "relais"),
               "unknown section; did you mean 'relay'?");
  check_single(problems(dir, "[dashboard]\nport = 8080\n"), at(dir, 1, 2, "dashboard"),
               "allowed: [service], [local], [[account]], [relay], [[smarthost]], [web]");
}

TEST_CASE("config error: key outside any section says where it belongs", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, "state_dir = \"var\"\n"), at(dir, 1, 1, "state_dir"),
               "unknown key outside any section; it belongs under [service]");
  check_single(problems(dir, "poll_interval = \"5m\"\n"), at(dir, 1, 1, "poll_interval"),
               "it belongs under [[account]]");
}

TEST_CASE("config error: unknown key with and without a suggestion", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, "[local]\nprot = 25\n"), at(dir, 2, 1, "local.prot"),
               "unknown key; did you mean 'port'?");
  check_single(problems(dir, account("info", "pasword_file = \"x\"\n")),
               at(dir, 7, 1, "account[0].pasword_file"), "did you mean 'password_file'?");
  check_single(problems(dir, account("info", "deliver = [\"a@b\"]\n")),
               at(dir, 7, 1, "account[0].deliver"), "did you mean 'deliver_to'?");  // prefix
  auto ps = problems(dir, "[local]\ncolour = 1\n");
  check_single(ps, at(dir, 2, 1, "local.colour"), "unknown key");
  CHECK_THAT(ps[0], !Contains("did you mean"));
}

TEST_CASE("config error: wrong value types", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, account("info", "poll_interval = 5\n")),
               at(dir, 7, 17, "account[0].poll_interval"),
               "expected a string like \"5m\", got integer");
  check_single(problems(dir, account("info", "keep = \"yes\"\n")), at(dir, 7, 8, "account[0].keep"),
               "expected true or false, got string");
  check_single(problems(dir, "[local]\nport = \"25\"\n"), at(dir, 2, 8, "local.port"),
               "expected a whole number 1..65535, got string");
  check_single(problems(dir, "[service]\nmax_parallel_polls = 2.5\n"),
               at(dir, 2, 22, "service.max_parallel_polls"), "got floating-point number");
  check_single(problems(dir, "[service]\nhostname = 5\n"), at(dir, 2, 12, "service.hostname"),
               "expected a string, got integer");
  check_single(problems(dir, "service = 1\n"), at(dir, 1, 11, "service"),
               "expected a section [service], got integer");
}

TEST_CASE("config error: [account] with one bracket", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, "[account]\nname = \"info\"\n"), at(dir, 1, 1, "account"),
               "write each mailbox as [[account]] with two brackets");
}

TEST_CASE("config error: missing required account keys point at [[account]]", "[config][errors]") {
  TempDir dir;
  auto ps = problems(dir,
                     "[service]\nstate_dir = \"var\"\n\n[[account]]\nname = \"info\"\n"
                     "deliver_to = [\"a@b\"]\n");
  REQUIRE(ps.size() == 3);
  CHECK_THAT(ps[0], StartsWith(at(dir, 4, 1, "account[0].host") + "missing"));
  CHECK_THAT(ps[1], StartsWith(at(dir, 4, 1, "account[0].username") + "missing"));
  CHECK_THAT(ps[2], StartsWith(at(dir, 4, 1, "account[0].password") + "missing"));
  CHECK_THAT(ps[2], Contains("password_file = \"/etc/postbridge/info.secret\""));

  ps = problems(dir,
                "[[account]]\nhost = \"pop3.example.net\"\nusername = \"u\"\n"
                "password_env = \"PB_TEST_PW\"\n");
  REQUIRE(ps.size() == 2);
  CHECK_THAT(ps[0], StartsWith(at(dir, 1, 1, "account[0].name") + "missing"));
  CHECK_THAT(ps[1], StartsWith(at(dir, 1, 1, "account[0].deliver_to") + "missing"));
}

TEST_CASE("config error: bad durations", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, account("info", "timeout = \"5 minutes\"\n")),
               at(dir, 7, 11, "account[0].timeout"), "'5 minutes' is not a duration");
  check_single(problems(dir, account("info", "poll_interval = \"500ms\"\n")),
               at(dir, 7, 17, "account[0].poll_interval"), "too short; the minimum is 1s");
  check_single(problems(dir, "[local]\ntimeout = \"\"\n"), at(dir, 2, 11, "local.timeout"),
               "is not a duration");
}

TEST_CASE("config error: bad sizes", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, account("info", "max_message_size = \"50 megs\"\n")),
               at(dir, 7, 20, "account[0].max_message_size"), "'50 megs' is not a size");
  check_single(problems(dir, account("info", "max_message_size = 0\n")),
               at(dir, 7, 20, "account[0].max_message_size"), "at least 1 byte");
  check_single(problems(dir, account("info", "max_message_size = true\n")),
               at(dir, 7, 20, "account[0].max_message_size"),
               "expected a string like \"50MB\", got boolean");
}

TEST_CASE("config error: ports and integer ranges", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, "[local]\nport = 70000\n"), at(dir, 2, 8, "local.port"),
               "70000 is out of range; allowed 1..65535");
  check_single(problems(dir, account("info", "port = 0\n")), at(dir, 7, 8, "account[0].port"),
               "0 is out of range; allowed 1..65535");
  check_single(problems(dir, "[service]\nmax_parallel_polls = 0\n"),
               at(dir, 2, 22, "service.max_parallel_polls"), "allowed 1..64");
  check_single(problems(dir, "[local]\nmax_connections = 17\n"),
               at(dir, 2, 19, "local.max_connections"), "allowed 1..16");
  check_single(problems(dir, account("info", "keep = true\nkeep_days = -1\n")),
               at(dir, 8, 13, "account[0].keep_days"), "allowed 0..36500");
}

TEST_CASE("config error: bad enum values list the allowed ones", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, "[local]\nprotocol = \"esmtp\"\n"), at(dir, 2, 12, "local.protocol"),
               "'esmtp' is not allowed; use \"smtp\" or \"lmtp\"; did you mean 'smtp'?");
  check_single(problems(dir, account("info", "tls = \"ssl\"\n")), at(dir, 7, 7, "account[0].tls"),
               "use \"none\", \"starttls\" or \"implicit\"");
  check_single(problems(dir, account("info", "auth = \"login\"\n")),
               at(dir, 7, 8, "account[0].auth"), "use \"auto\", \"plain\", \"apop\", \"user\", \"xoauth2\" or \"oauthbearer\"");
  check_single(problems(dir, "[service]\nlog_level = \"verbose\"\n"),
               at(dir, 2, 13, "service.log_level"),
               "use \"error\", \"warning\", \"notice\", \"info\" or \"debug\"");
}

TEST_CASE("config error: invalid account name", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, account("my box")), at(dir, 2, 8, "account[0].name"),
               "'my box' is not allowed; use 1 to 64 letters, digits");
}

TEST_CASE("config error: duplicate account names name the first definition", "[config][errors]") {
  TempDir dir;
  auto text = account("info") + "\n" + account("Info");  // second [[account]] is on line 8
  check_single(problems(dir, text), at(dir, 9, 8, "account[1].name"),
               "'Info' is already used by the account at line 1");
}

TEST_CASE("config error: password given twice", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, account("info", "password = \"x\"\n")),
               at(dir, 7, 12, "account[0].password"),
               "already given by 'password_env' (line 5); use only one of password, "
               "password_file, password_env");
}

TEST_CASE("config error: no password at all", "[config][errors]") {
  TempDir dir;
  auto text =
      "[[account]]\nname = \"info\"\nhost = \"pop3.example.net\"\nusername = \"u\"\n"
      "deliver_to = [\"info@firma.local\"]\n";
  check_single(problems(dir, text), at(dir, 1, 1, "account[0].password"),
               "missing; set password_file");
  check_single(problems(dir, "[local]\nusername = \"gw\"\nallow_plaintext = true\n"),
               at(dir, 2, 12, "local.username"), "is set but no password is");
  check_single(problems(dir, "[local]\npassword_env = \"PB_TEST_PW\"\n"),
               at(dir, 1, 1, "local.username"), "a password is set");
}

TEST_CASE("config error: password environment variable not set", "[config][errors]") {
  TempDir dir;
  ::unsetenv("PB_TEST_UNSET_VAR");
  auto text =
      "[[account]]\nname = \"info\"\nhost = \"pop3.example.net\"\nusername = \"u\"\n"
      "password_env = \"PB_TEST_UNSET_VAR\"\ndeliver_to = [\"info@firma.local\"]\n";
  check_single(problems(dir, text), at(dir, 5, 16, "account[0].password_env"),
               "environment variable PB_TEST_UNSET_VAR is not set or empty");
}

TEST_CASE("config error: tls none without allow_plaintext explains the risk", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, account("info", "tls = \"none\"\n")), at(dir, 7, 7, "account[0].tls"),
               "password would travel over the network in clear text");
  auto local = "[local]\nusername = \"gw\"\npassword_env = \"PB_TEST_PW\"\n";
  check_single(problems(dir, local), at(dir, 2, 12, "local.username"),
               "logging in without TLS: the password would travel over the network in clear text");
  check_single(problems(dir, std::string(local) + "tls = \"none\"\n"), at(dir, 4, 7, "local.tls"),
               "or set allow_plaintext = true");
  CHECK(problems(dir, std::string(local) + "allow_plaintext = true\n").empty());
}

TEST_CASE("config error: keep_days without keep", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, account("info", "keep_days = 7\n")),
               at(dir, 7, 13, "account[0].keep_days"), "only works with keep = true");
  CHECK(problems(dir, account("info", "keep = true\nkeep_days = 7\n")).empty());
}

TEST_CASE("config error: secret file readable by others is refused", "[config][errors]") {
  TempDir dir;
  auto secret = dir.write("info.secret", std::string(kSecret) + "\n", 0644);
  auto text =
      "[[account]]\nname = \"info\"\nhost = \"pop3.example.net\"\nusername = \"u\"\n"
      "password_file = \"info.secret\"\ndeliver_to = [\"info@firma.local\"]\n";
  auto ps = problems(dir, text);
  check_single(ps, at(dir, 5, 17, "account[0].password_file"),
               "(mode 0644); restrict it with: chmod 600 " + secret.string());
  CHECK_THAT(ps[0], !Contains(kSecret));

  ::chmod(secret.c_str(), 0640);  // group-readable is refused too
  check_single(problems(dir, text), at(dir, 5, 17, "account[0].password_file"), "mode 0640");

  ::chmod(secret.c_str(), 0600);
  CHECK(problems(dir, text).empty());
}

TEST_CASE("config error: missing or empty secret file", "[config][errors]") {
  TempDir dir;
  auto text =
      "[[account]]\nname = \"info\"\nhost = \"pop3.example.net\"\nusername = \"u\"\n"
      "password_file = \"info.secret\"\ndeliver_to = [\"info@firma.local\"]\n";
  check_single(problems(dir, text), at(dir, 5, 17, "account[0].password_file"),
               "No such file or directory");
  dir.write("info.secret", "\n", 0600);
  check_single(problems(dir, text), at(dir, 5, 17, "account[0].password_file"), "is empty");
}

// Only the first line is the password; anything on a later line is a mistake that would
// otherwise surface as a rejected login at the provider. The file's text is never echoed.
TEST_CASE("config error: a password file with a second line is refused", "[config][errors]") {
  TempDir dir;
  auto text =
      "[[account]]\nname = \"info\"\nhost = \"pop3.example.net\"\nusername = \"u\"\n"
      "password_file = \"info.secret\"\ndeliver_to = [\"info@firma.local\"]\n";
  std::string shown = (dir.path() / "info.secret").string();
  dir.write("info.secret", std::string(kSecret) + "\nold-password\n", 0600);
  check_single(problems(dir, text), at(dir, 5, 17, "account[0].password_file"),
               shown + " has more than one line (line 2 is not empty); postbridge reads the "
                       "password from the first line only, so put nothing else in the file");
  CHECK_THAT(problems(dir, text).at(0), !Contains(kSecret) && !Contains("old-password"));

  dir.write("info.secret", std::string(kSecret) + "\r\n\n  \n# note\n", 0600);
  check_single(problems(dir, text), at(dir, 5, 17, "account[0].password_file"),
               "(line 4 is not empty)");

  dir.write("info.secret", "\n" + std::string(kSecret) + "\n", 0600);
  check_single(problems(dir, text), at(dir, 5, 17, "account[0].password_file"),
               shown + " has an empty first line (line 2 is not empty); put the password on the "
                       "first line, and nothing else in the file");
}

TEST_CASE("config error: missing ca_file", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, account("info", "ca_file = \"nope.pem\"\n")),
               at(dir, 7, 11, "account[0].ca_file"),
               (dir.path() / "nope.pem").string() + " does not exist or is not a file");
  check_single(problems(dir, "[local]\nca_file = \"/nonexistent/ca.pem\"\n"),
               at(dir, 2, 11, "local.ca_file"), "/nonexistent/ca.pem does not exist");
}

TEST_CASE("config error: invalid deliver_to addresses", "[config][errors]") {
  TempDir dir;
  auto head = std::string(
      "[[account]]\nname = \"info\"\nhost = \"pop3.example.net\"\n"
      "username = \"u\"\npassword_env = \"PB_TEST_PW\"\n");
  auto ps = problems(dir, head + "deliver_to = [\"bad\", \"ok@x.y\", 5, \"ok@x.y\"]\n");
  REQUIRE(ps.size() == 3);
  CHECK_THAT(ps[0], StartsWith(at(dir, 6, 15, "account[0].deliver_to[0]") +
                               "'bad' is not a valid mail address"));
  CHECK_THAT(ps[1], StartsWith(at(dir, 6, 32, "account[0].deliver_to[2]") +
                               "expected an address string, got integer"));
  CHECK_THAT(ps[2],
             StartsWith(at(dir, 6, 35, "account[0].deliver_to[3]") + "'ok@x.y' is listed twice"));

  check_single(problems(dir, head + "deliver_to = [\"Info <info@firma.local>\"]\n"),
               at(dir, 6, 15, "account[0].deliver_to[0]"), "(no name, no <>)");
  check_single(problems(dir, head + "deliver_to = []\n"), at(dir, 6, 14, "account[0].deliver_to"),
               "is empty");
  check_single(problems(dir, head + "deliver_to = 5\n"), at(dir, 6, 14, "account[0].deliver_to"),
               "expected a list of addresses");
}

TEST_CASE("config error: invalid service hostname and postmaster", "[config][errors]") {
  TempDir dir;
  check_single(problems(dir, "[service]\nhostname = \"gw_firma\"\n"),
               at(dir, 2, 12, "service.hostname"), "'gw_firma' is not a valid host name");
  check_single(problems(dir, "[service]\npostmaster = \"Admin <admin@firma.local>\"\n"),
               at(dir, 2, 14, "service.postmaster"), "is not a valid mail address");
  auto text =
      "[[account]]\nname = \"info\"\nhost = \"pop3 example\"\nusername = \"u\"\n"
      "password_env = \"PB_TEST_PW\"\ndeliver_to = [\"info@firma.local\"]\n";
  check_single(problems(dir, text), at(dir, 3, 8, "account[0].host"),
               "'pop3 example' is not a host name or IP address");
}

TEST_CASE("config error: a missing config file is one clear problem", "[config][errors]") {
  TempDir dir;
  auto file = dir.path() / "absent.toml";
  try {
    load(file);
    FAIL("load() accepted a missing file");
  } catch (const ConfigError& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0] ==
          file.string() + ": cannot read the configuration file: No such file or directory");
  }
  try {
    load(dir.path());
    FAIL("load() accepted a folder");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Contains("is a folder, not a file"));
  }
}

TEST_CASE("config error: all problems in one pass, in file order (golden)", "[config][errors]") {
  std::string data = PB_TEST_DATA "/unit/config/data/";
  std::string file = data + "many_errors.toml";
  std::ifstream in(data + "many_errors.expected");
  std::vector<std::string> expected;
  for (std::string line; std::getline(in, line);) {
    for (std::size_t p; (p = line.find("@FILE@")) != std::string::npos;) line.replace(p, 6, file);
    expected.push_back(line);
  }
  REQUIRE(expected.size() > 10);
  ::unsetenv("PB_TEST_UNSET_VAR");
  try {
    load(file);
    FAIL("many_errors.toml loaded");
  } catch (const ConfigError& e) {
    CHECK(e.problems() == expected);
    std::string joined;
    for (auto& p : expected) joined += (joined.empty() ? "" : "\n") + p;
    CHECK(std::string(e.what()) == joined);
    CHECK_THAT(e.what(), !Contains("inline-secret-value"));  // the fixture's inline password
  }
}

// Found by tests/fuzz/config (regressions/config/toml-error-with-newline): toml++ quotes the
// text it stopped at, line end included, and keys are echoed as written; either split one
// problem over two lines of `postbridge check` output and of the log.
TEST_CASE("config error: every problem is one line whatever the file holds", "[config][errors]") {
  TempDir dir;
  auto ps = problems(dir, "[local]\ntls_verify = fal\n");
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], Contains("TOML syntax error: "));
  CHECK_THAT(ps[0], Contains("\\x0A"));
  CHECK(ps[0].find('\n') == std::string::npos);

  ps = problems(dir, "[service]\n\"log\\r\\nlevel\" = \"x\"\nlog_level = \"in\\nfo\"\n");
  REQUIRE(ps.size() == 2);
  for (const auto& p : ps) {
    CHECK(p.find('\n') == std::string::npos);
    CHECK(p.find('\r') == std::string::npos);
  }
  CHECK_THAT(ps[0], Contains("log\\x0D\\x0Alevel: unknown key"));
  CHECK_THAT(ps[1], Contains("'in\\x0Afo' is not allowed"));
}

TEST_CASE("config error: IMAP keys on a POP3 account, POP3 logins on an IMAP one, and bad folder names",
          "[config][errors][imap]") {
  TempDir dir;
  check_single(problems(dir, account("info", "folders = [\"Junk\"]\n")), at(dir, 7, 11, "account[0].folders"),
               "is only used with protocol = \"imap\"");
  check_single(problems(dir, account("info", "move_to = \"Archiv\"\n")), at(dir, 7, 11, "account[0].move_to"),
               "is only used with protocol = \"imap\"");
  check_single(problems(dir, account("info", "protocol = \"imap\"\nauth = \"apop\"\n")),
               at(dir, 8, 8, "account[0].auth"), "is a POP3 login");
  check_single(problems(dir, account("info", "protocol = \"imap\"\nfolders = [\"Entw\xc3\xbcrfe\"]\n")),
               at(dir, 8, 12, "account[0].folders[0]"), "folder names with other letters (umlauts too) are not supported yet");
  check_single(problems(dir, account("info", "protocol = \"imap\"\nfolders = [\"\"]\n")),
               at(dir, 8, 12, "account[0].folders[0]"), "is empty");
  check_single(problems(dir, account("info", "protocol = \"imap\"\nmove_to = \"INBOX\"\n")),
               at(dir, 8, 11, "account[0].move_to"), "is also in folders");
  check_single(problems(dir, account("info", "protocol = \"smtp\"\n")), at(dir, 7, 12, "account[0].protocol"),
               "\"pop3\"");
}
