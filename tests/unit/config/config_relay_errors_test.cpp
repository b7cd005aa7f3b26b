// Mistakes in [relay], [[relay.user]] and [[smarthost]]: each asserts the exact FILE:LINE:COL,
// the dotted key and the explanation an admin will read; secrets never appear in a message.
#include <catch2/catch.hpp>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace pb::config;
using namespace pb::config::test;

namespace {

std::string user(const std::string& name, const std::string& hash = kSecretHash) {
  return "[[relay.user]]\nname = \"" + name + "\"\npassword_hash = \"" + hash + "\"\n";
}

const std::string kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const std::string kKey = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

}  // namespace

// ---------------------------------------------------------------------------------------------
// [relay]

TEST_CASE("config relay error: bad listen entries", "[config][relay][errors]") {
  TempDir dir;
  auto ps = problems(dir,
                     "[relay]\nlisten = [\"127.0.0.1\", \"127.0.0.1:2525\", "
                     "\"127.0.0.1:2525\", 25]\n");
  INFO(joined(ps));
  REQUIRE(ps.size() == 3);
  CHECK_THAT(ps[0], StartsWith(at(dir, 2, 11, "relay.listen[0]") +
                               "'127.0.0.1' is not an address with a port; use "
                               "\"127.0.0.1:2525\", \"[::1]:2525\""));
  CHECK_THAT(ps[1],
             StartsWith(at(dir, 2, 42, "relay.listen[2]") + "'127.0.0.1:2525' is listed twice"));
  CHECK_THAT(ps[2],
             StartsWith(at(dir, 2, 60, "relay.listen[3]") + "expected a string, got integer"));

  check_single(problems(dir, "[relay]\nlisten = 2525\n"), at(dir, 2, 10, "relay.listen"),
               "expected a list like [\"127.0.0.1:2525\"], got integer");
  for (const char* bad : {"::1:2525", "[::1]", "[127.0.0.1]:25", "mail server:25", "127.0.0.1:0",
                          "127.0.0.1:65536", "256.0.0.1:25"}) {
    INFO(bad);
    check_single(problems(dir, "[relay]\nlisten = [\"" + std::string(bad) + "\"]\n"),
                 at(dir, 2, 11, "relay.listen[0]"), "is not an address with a port");
  }
}

TEST_CASE("config relay error: bad allow_networks entries", "[config][relay][errors]") {
  TempDir dir;
  auto ps = problems(dir,
                     "[relay]\nallow_networks = [\"10.0.0.1/8\", \"office\", \"fe80::1/10\", "
                     "\"10.0.0.0/8\", \"10.0.0.0/8\"]\n");
  INFO(joined(ps));
  REQUIRE(ps.size() == 4);
  CHECK_THAT(ps[0], StartsWith(at(dir, 2, 19, "relay.allow_networks[0]") +
                               "'10.0.0.1/8' has address bits set beyond the /8 prefix; did you "
                               "mean \"10.0.0.0/8\"?"));
  CHECK_THAT(ps[1], StartsWith(at(dir, 2, 33, "relay.allow_networks[1]") +
                               "'office' is not an address or address range; use a range like "
                               "\"192.168.1.0/24\""));
  CHECK_THAT(ps[2], StartsWith(at(dir, 2, 43, "relay.allow_networks[2]") +
                               "'fe80::1/10' has address bits set beyond the /10 prefix; did you "
                               "mean \"fe80::/10\"?"));
  CHECK_THAT(ps[3], StartsWith(at(dir, 2, 71, "relay.allow_networks[4]") +
                               "'10.0.0.0/8' is listed twice"));
}

TEST_CASE("config relay error: an open relay is refused", "[config][relay][errors]") {
  TempDir dir;
  auto text =
      "[relay]\nlisten = [\"192.168.1.5:2525\"]\n"
      "allow_networks = [\"192.168.1.0/24\", \"0.0.0.0/0\"]\n";
  auto ps = problems(dir, text);
  check_single(
      ps, at(dir, 3, 37, "relay.allow_networks[1]"),
      "'0.0.0.0/0' lets anyone on the internet (or a large part of it) send mail "
      "through your smarthosts without a login while postbridge listens on 192.168.1.5:2525: that "
      "would be an open relay");
  // Every form of "everyone": all IPv4, all IPv6, IPv4-mapped, wider than any private range.
  for (const char* open : {"::/0", "0.0.0.0/1", "8.0.0.0/7", "::ffff:0:0/96", "::/2", "2000::/3"}) {
    INFO(open);
    check_single(problems(dir, "[relay]\nlisten = [\"0.0.0.0:25\"]\nallow_networks = [\"" +
                                   std::string(open) + "\"]\n"),
                 at(dir, 3, 19, "relay.allow_networks[0]"), "that would be an open relay");
  }
  // Private ranges are fine.
  for (const char* ok : {"10.0.0.0/8", "172.16.0.0/12", "fc00::/7", "2001:db8::/32"}) {
    INFO(ok);
    CHECK(problems(dir, "[relay]\nlisten = [\"0.0.0.0:25\"]\nallow_networks = [\"" +
                            std::string(ok) + "\"]\n")
              .empty());
  }
}

TEST_CASE("config relay error: allow_networks is judged as a whole, IPv4-mapped ranges as IPv4",
          "[config][relay][errors]") {
  TempDir dir;
  const std::string head = "[relay]\nlisten = [\"0.0.0.0:25\"]\nallow_networks = ";
  // All of IPv4 written as two IPv4-mapped halves: each half alone is half the internet.
  auto ps = problems(dir, head + "[\"::ffff:0.0.0.0/97\", \"::ffff:128.0.0.0/97\"]\n");
  INFO(joined(ps));
  REQUIRE(ps.size() == 2);
  CHECK_THAT(ps[0], StartsWith(at(dir, 3, 19, "relay.allow_networks[0]") +
                               "'::ffff:0.0.0.0/97' lets anyone on the internet (or a large part of it) send "
                               "mail through your smarthosts without a login while postbridge listens on "
                               "0.0.0.0:25: that would be an open relay"));
  CHECK_THAT(ps[1], StartsWith(at(dir, 3, 40, "relay.allow_networks[1]") + "'::ffff:128.0.0.0/97' lets anyone"));
  // All of global IPv6 in two halves.
  ps = problems(dir, head + "[\"2000::/4\", \"3000::/4\"]\n");
  INFO(joined(ps));
  REQUIRE(ps.size() == 2);
  CHECK_THAT(ps[1], StartsWith(at(dir, 3, 31, "relay.allow_networks[1]") + "'3000::/4' lets anyone"));
  // Pieces too small to matter alone, but a /8's worth of public IPv4 together: the key is named.
  check_single(problems(dir, head + "[\"192.168.1.0/24\", \"11.0.0.0/9\", \"::ffff:11.128.0.0/105\"]\n"),
               at(dir, 3, 18, "relay.allow_networks"),
               "'11.0.0.0/9', '::ffff:11.128.0.0/105' together let anyone on a large part of the internet send "
               "mail through your smarthosts without a login while postbridge listens on 0.0.0.0:25: that would "
               "be an open relay");
  // The same for a /32's worth of global IPv6 in two /33s.
  check_single(problems(dir, head + "[\"2a01:4f8::/33\", \"2a01:4f8:8000::/33\"]\n"),
               at(dir, 3, 18, "relay.allow_networks"), "together let anyone on a large part of the internet");
  // Overlaps count once; private and documentation ranges count nothing.
  for (const char* ok : {"[\"11.0.0.0/9\", \"11.0.0.0/10\", \"::ffff:11.0.0.0/106\"]",
                         "[\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\", \"100.64.0.0/10\", \"fc00::/7\"]",
                         "[\"2001:db8::/32\", \"2a01:4f8::/33\", \"203.0.113.0/24\", \"198.51.100.7\"]"}) {
    INFO(ok);
    CHECK(problems(dir, head + ok + "\n").empty());
  }
}

TEST_CASE("config relay error: a non-loopback listener needs networks or logins",
          "[config][relay][errors]") {
  TempDir dir;
  check_single(problems(dir, "[relay]\nlisten = [\"127.0.0.1:2525\", \"192.168.1.5:2525\"]\n"),
               at(dir, 2, 29, "relay.listen[1]"),
               "'192.168.1.5:2525' is not a loopback address, but no other machine could send "
               "through it: allow_networks is loopback only (the default) and no "
               "[[relay.user]] login is defined");
  check_single(problems(dir, "[relay]\nlisten = \"mail.firma.local:25\"\n"),
               at(dir, 2, 10, "relay.listen"), "is not a loopback address");
  // Logins alone are only usable from other machines over TLS.
  check_single(problems(dir, "[relay]\nlisten = [\"192.168.1.5:2525\"]\n" + user("scanner")),
               at(dir, 2, 11, "relay.listen[0]"),
               "other machines could only send by logging in, which is offered over TLS only");
}

TEST_CASE("config relay error: listen_tls needs a certificate, its own ports, and the open-relay guard",
          "[config][relay][errors]") {
  TempDir dir;
  dir.write("c.pem", kPem);
  dir.write("c.key", kKey, 0600);
  check_single(problems(dir, "[relay]\nlisten_tls = [\"127.0.0.1:465\"]\n"), at(dir, 2, 15, "relay.listen_tls[0]"),
               "implicit TLS starts with the TLS handshake, which needs a certificate: set tls_cert_file");
  check_single(problems(dir, "[relay]\nlisten_tls = \"127.0.0.1:465\"\n"), at(dir, 2, 14, "relay.listen_tls"),
               "needs a certificate");
  const std::string tls = "tls_cert_file = \"c.pem\"\ntls_key_file = \"c.key\"\n";
  check_single(problems(dir, "[relay]\nlisten = [\"127.0.0.1:465\"]\nlisten_tls = [\"127.0.0.1:465\"]\n" + tls),
               at(dir, 3, 15, "relay.listen_tls[0]"),
               "'127.0.0.1:465' is in listen as well; one port speaks either plain SMTP with STARTTLS");
  check_single(problems(dir, "[relay]\nlisten_tls = [\"127.0.0.1:465\", \"127.0.0.1:465\"]\n" + tls),
               at(dir, 2, 32, "relay.listen_tls[1]"), "'127.0.0.1:465' is listed twice");
  check_single(problems(dir, "[relay]\nlisten_tls = [\"465\"]\n" + tls), at(dir, 2, 15, "relay.listen_tls[0]"),
               "'465' is not an address with a port");
  // The open-relay guard covers implicit-TLS addresses exactly like plain ones.
  check_single(problems(dir, "[relay]\nlisten_tls = [\"0.0.0.0:465\"]\nallow_networks = [\"0.0.0.0/0\"]\n" + tls),
               at(dir, 3, 19, "relay.allow_networks[0]"),
               "'0.0.0.0/0' lets anyone on the internet (or a large part of it) send mail through your "
               "smarthosts without a login while postbridge listens on 0.0.0.0:465: that would be an open relay");
  check_single(problems(dir, "[relay]\nlisten_tls = [\"127.0.0.1:465\", \"192.168.1.5:465\"]\n" + tls),
               at(dir, 2, 32, "relay.listen_tls[1]"),
               "'192.168.1.5:465' is not a loopback address, but no other machine could send through it");
  CHECK(problems(dir, "[relay]\nlisten_tls = [\"192.168.1.5:465\"]\n" + tls + user("scanner")).empty());
}

TEST_CASE("config relay error: bare_line_feeds takes Postfix's words", "[config][relay][errors]") {
  TempDir dir;
  check_single(problems(dir, "[relay]\nbare_line_feeds = \"refuse\"\n"), at(dir, 2, 19, "relay.bare_line_feeds"),
               "'refuse' is not allowed; use \"normalize\" or \"reject\"");
}

TEST_CASE("config relay error: certificate and key files", "[config][relay][errors]") {
  TempDir dir;
  dir.write("c.pem", kPem);
  dir.write("c.key", kKey, 0600);
  check_single(
      problems(dir, "[relay]\ntls_cert_file = \"c.pem\"\n"), at(dir, 2, 17, "relay.tls_cert_file"),
      "is set but tls_key_file is not; STARTTLS needs the certificate and its private key");
  check_single(problems(dir, "[relay]\ntls_key_file = \"c.key\"\n"),
               at(dir, 2, 16, "relay.tls_key_file"), "is set but tls_cert_file is not");
  check_single(problems(dir, "[relay]\ntls_cert_file = \"nope.pem\"\ntls_key_file = \"c.key\"\n"),
               at(dir, 2, 17, "relay.tls_cert_file"),
               (dir.path() / "nope.pem").string() + " does not exist or is not a file");

  auto open_key = dir.write("open.key", kKey, 0644);
  check_single(problems(dir, "[relay]\ntls_cert_file = \"c.pem\"\ntls_key_file = \"open.key\"\n"),
               at(dir, 3, 16, "relay.tls_key_file"),
               "is accessible by other users (mode 0644); a private key must stay private: "
               "chmod 600 " +
                   open_key.string());
  // Swapped: each file is refused for what it lacks.
  dir.write("pem.key", kPem, 0600);
  auto ps = problems(dir, "[relay]\ntls_cert_file = \"c.key\"\ntls_key_file = \"pem.key\"\n");
  INFO(joined(ps));
  REQUIRE(ps.size() == 2);
  CHECK_THAT(ps[0], StartsWith(at(dir, 2, 17, "relay.tls_cert_file")));
  CHECK_THAT(ps[0], Contains("holds no PEM certificate"));
  CHECK_THAT(ps[1], StartsWith(at(dir, 3, 16, "relay.tls_key_file")));
  CHECK_THAT(ps[1], Contains("holds no PEM private key (\"-----BEGIN ... PRIVATE KEY-----\"); "
                             "are tls_cert_file and tls_key_file swapped?"));
  dir.write("enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n", 0600);
  check_single(problems(dir, "[relay]\ntls_cert_file = \"c.pem\"\ntls_key_file = \"enc.key\"\n"),
               at(dir, 3, 16, "relay.tls_key_file"),
               "is protected by a passphrase, which postbridge cannot ask for");
}

TEST_CASE("config relay error: limits and durations", "[config][relay][errors]") {
  TempDir dir;
  check_single(problems(dir, "[relay]\nmax_recipients = 50\n"),
               at(dir, 2, 18, "relay.max_recipients"), "50 is out of range; allowed 100..100000");
  check_single(problems(dir, "[relay]\nmax_connections = 0\n"),
               at(dir, 2, 19, "relay.max_connections"), "allowed 1..1000");
  check_single(problems(dir, "[relay]\nmax_message_size = \"huge\"\n"),
               at(dir, 2, 20, "relay.max_message_size"), "'huge' is not a size");
  check_single(problems(dir, "[relay]\ncommand_timeout = \"0s\"\n"),
               at(dir, 2, 19, "relay.command_timeout"), "too short; the minimum is 1s");
  check_single(problems(dir, "[relay]\ndelay_notice_after = \"5d\"\n"),
               at(dir, 2, 22, "relay.delay_notice_after"),
               "'5d' is not shorter than max_queue_time ('5d'), so the notice would never be sent");
  check_single(problems(dir, "[relay]\ndelay_notice_after = 5\n"),
               at(dir, 2, 22, "relay.delay_notice_after"),
               "5 has no unit; write a duration as a string like \"5s\" or \"5m\" (only 0, "
               "which switches it off, may stand without quotes)");
  check_single(problems(dir, "[relay]\ndelay_notice_after = -1\n"),
               at(dir, 2, 22, "relay.delay_notice_after"),
               "-1 has no unit; write a duration as a string like \"5s\" or \"5m\"");
  check_single(problems(dir, "[relay]\ndelay_notice_after = \"500ms\"\n"),
               at(dir, 2, 22, "relay.delay_notice_after"),
               "'500ms' is too short; the minimum is 1s (\"0\" switches it off)");
  check_single(problems(dir, "[relay]\ndelay_notice_after = \"never\"\n"),
               at(dir, 2, 22, "relay.delay_notice_after"),
               "'never' is not a duration; use a number with a unit: \"500ms\", \"30s\", \"5m\", "
               "\"1h\", \"2d\" or combined like \"1h30m\" (\"0\" switches it off)");
  // A key without an off switch keeps refusing 0.
  check_single(problems(dir, "[relay]\ndata_timeout = 0\n"), at(dir, 2, 16, "relay.data_timeout"),
               "expected a string like \"5m\", got integer");
  check_single(problems(dir, "[relay]\nmax_queue_time = \"30s\"\n"),
               at(dir, 2, 18, "relay.max_queue_time"), "the minimum is 1m");
  check_single(problems(dir, "[[relay]]\nlisten = []\n"), at(dir, 1, 1, "relay"),
               "expected a section [relay], got array");
}

// ---------------------------------------------------------------------------------------------
// [[relay.user]]

TEST_CASE("config relay error: a plain-text password is refused and never shown",
          "[config][relay][errors]") {
  TempDir dir;
  auto ps = problems(dir, user("scanner", "Sommer2024!"));
  check_single(ps, at(dir, 3, 17, "relay.user[0].password_hash"),
               "is not a password hash; a plain-text password is refused here: create one with "
               "`postbridge hash-password`");
  CHECK_THAT(ps[0], !Contains("Sommer2024!"));

  // A hash cut short when pasting, and weak or unknown methods.
  for (std::string bad :
       {std::string(kSecretHash).substr(0, 50), std::string("$1$abc$Y1aGp2D9KyzTmRtB7mwj20"),
        std::string("$6$abc$"), std::string("$"), std::string("$x$abc$def")}) {
    INFO(bad);
    ps = problems(dir, user("scanner", bad));
    check_single(ps, at(dir, 3, 17, "relay.user[0].password_hash"),
                 "is not a complete password hash of a supported kind (yescrypt \"$y$\"");
    if (bad.size() > 1) CHECK_THAT(ps[0], !Contains(bad));
  }

  check_single(problems(dir, "[[relay.user]]\nname = \"scanner\"\npassword = \"Sommer2024!\"\n"),
               at(dir, 3, 12, "relay.user[0].password"),
               "relay logins are checked against a password hash, so no plain-text password is "
               "kept; put password_hash = \"$y$...\" here instead");
  check_single(problems(dir, "[[relay.user]]\nname = \"scanner\"\npassword_file = \"x\"\n"),
               at(dir, 3, 17, "relay.user[0].password_file"), "no plain-text password is kept");
}

TEST_CASE("config relay error: relay users", "[config][relay][errors]") {
  TempDir dir;
  check_single(problems(dir, "[[relay.user]]\nname = \"scanner\"\n"),
               at(dir, 1, 1, "relay.user[0].password_hash"),
               "missing; create one with `postbridge hash-password`");
  check_single(
      problems(dir, "[[relay.user]]\npassword_hash = \"" + std::string(kSecretHash) + "\"\n"),
      at(dir, 1, 1, "relay.user[0].name"), "missing; give the login name");
  check_single(problems(dir, user("my scanner")), at(dir, 2, 8, "relay.user[0].name"),
               "'my scanner' is not allowed; use 1 to 64 letters, digits");
  check_single(problems(dir, user("scanner") + user("Scanner")),
               at(dir, 5, 8, "relay.user[1].name"),
               "'Scanner' is already used by the login at line 1; names must be unique");
  check_single(problems(dir, "[relay.user]\nname = \"scanner\"\n"), at(dir, 1, 1, "relay.user"),
               "expected [[relay.user]] sections, got table; write each login as [[relay.user]] "
               "with two brackets");
  check_single(problems(dir, user("scanner") + "pasword_hash = \"x\"\n"),
               at(dir, 4, 1, "relay.user[0].pasword_hash"), "did you mean 'password_hash'?");
  check_single(problems(dir, user("scanner") + "senders = [\"scanner\"]\n"), at(dir, 4, 12, "relay.user[0].senders[0]"),
               "'scanner'");
}

// ---------------------------------------------------------------------------------------------
// [[smarthost]]

TEST_CASE("config smarthost error: missing required keys point at [[smarthost]]",
          "[config][smarthost][errors]") {
  TempDir dir;
  auto ps = problems(dir, "[[smarthost]]\nsenders = [\"*@firma.de\"]\n");
  INFO(joined(ps));
  REQUIRE(ps.size() == 4);
  CHECK_THAT(ps[0], StartsWith(at(dir, 1, 1, "smarthost[0].name") + "missing"));
  CHECK_THAT(ps[1], StartsWith(at(dir, 1, 1, "smarthost[0].host") + "missing; give the "
                                                                    "provider's SMTP server"));
  CHECK_THAT(ps[2], StartsWith(at(dir, 1, 1, "smarthost[0].username") + "missing"));
  CHECK_THAT(ps[3], StartsWith(at(dir, 1, 1, "smarthost[0].password") +
                               "missing; set password_file = \"/etc/postbridge/NAME.secret\""));
  check_single(problems(dir, "[smarthost]\nname = \"a\"\n"), at(dir, 1, 1, "smarthost"),
               "write each smarthost as [[smarthost]] with two brackets");
}

TEST_CASE("config smarthost error: duplicate names and two defaults name both",
          "[config][smarthost][errors]") {
  TempDir dir;
  check_single(problems(dir, smarthost("a") + "\n" + smarthost("A", "[\"x@y.de\"]")),
               at(dir, 9, 8, "smarthost[1].name"),
               "'A' is already used by the smarthost at line 1; names must be unique");
  check_single(problems(dir, smarthost("a", "[\"a@x.de\"]", "default = true\n") + "\n" +
                                 smarthost("b", "[\"b@x.de\"]", "default = true\n")),
               at(dir, 15, 11, "smarthost[1].default"),
               "smarthost 'b' cannot also be the default: smarthost 'a' (line 1) already has "
               "default = true; only one smarthost may");
}

TEST_CASE("config smarthost error: a sender pattern on two smarthosts names both",
          "[config][smarthost][errors]") {
  TempDir dir;
  check_single(problems(dir, smarthost("a", "[\"*@firma.de\"]") + "\n" +
                                 smarthost("b", "[\"x@y.de\", \"*@Firma.DE\"]")),
               at(dir, 13, 22, "smarthost[1].senders[1]"),
               "'*@firma.de' is already routed to smarthost 'a' (line 1); each sender pattern "
               "may belong to one smarthost only");
  check_single(problems(dir, smarthost("a", "[\"*@firma.de\", \"*@FIRMA.de\"]")),
               at(dir, 6, 26, "smarthost[0].senders[1]"), "'*@FIRMA.de' is listed twice");
  // The same address as exact pattern and as part of a domain is fine: exact wins.
  CHECK(problems(dir,
                 smarthost("a", "[\"*@firma.de\"]") + "\n" + smarthost("b", "[\"chef@firma.de\"]"))
            .empty());
}

TEST_CASE("config smarthost error: bad sender patterns", "[config][smarthost][errors]") {
  TempDir dir;
  const std::pair<const char*, const char*> cases[] = {
      {"*@", "'*@' has no domain; use \"*@firma.de\""},
      {"a@*",
       "'a@*' has a '*' in the domain; a '*' may only stand for the whole part before the '@'"},
      {"*@*.firma.de", "list each domain and subdomain separately"},
      {"in*fo@firma.de", "'in*fo@firma.de' has a '*' inside the part before the '@'"},
      {"info @firma.de", "contains a space or control character"},
      {"@firma.de", "has nothing before the '@'; did you mean \"*@firma.de\"?"},
      {"*",
       "'*' would match every sender; to send every other sender through this smarthost, set "
       "default = true instead"},
      {"firma.de", "'firma.de' is not an address; use an address like \"info@firma.de\""},
      {"*@firma_de", "'*@firma_de' has an invalid domain 'firma_de'"},
      {"a..b@firma.de", "is not a valid mail address"},
      {"", "'' is empty"},
  };
  for (auto [pattern, fragment] : cases) {
    INFO(pattern);
    check_single(problems(dir, smarthost("a", "[\"" + std::string(pattern) + "\"]")),
                 at(dir, 6, 12, "smarthost[0].senders[0]"), fragment);
  }
  check_single(problems(dir, smarthost("a", "[5]")), at(dir, 6, 12, "smarthost[0].senders[0]"),
               "expected a string, got integer");
  check_single(problems(dir, smarthost("a", "[]")), at(dir, 6, 11, "smarthost[0].senders"),
               "is empty: this smarthost would relay no mail");
  auto no_senders =
      "[[smarthost]]\nname = \"a\"\nhost = \"smtp.example.net\"\nusername = \"u\"\n"
      "password_env = \"PB_TEST_PW\"\n";
  check_single(problems(dir, no_senders), at(dir, 1, 1, "smarthost[0].senders"),
               "missing; this smarthost would relay no mail; list the envelope senders it takes");
  CHECK(problems(dir, std::string(no_senders) + "default = true\n").empty());
}

TEST_CASE("config smarthost error: pop-before-smtp and its account",
          "[config][smarthost][errors]") {
  TempDir dir;
  std::string pop =
      "[[smarthost]]\nname = \"old\"\nhost = \"mail.example.org\"\n"
      "auth = \"pop-before-smtp\"\ndefault = true\n";
  check_single(problems(dir, account("info") + "\n" + pop + "pop_account = \"infox\"\n"),
               at(dir, 13, 15, "smarthost[0].pop_account"),
               "there is no [[account]] named 'infox'");
  check_single(problems(dir, pop), at(dir, 1, 1, "smarthost[0].pop_account"),
               "missing; auth = \"pop-before-smtp\" needs the [[account]]");
  // The account may come after the smarthost in the file.
  CHECK(problems(dir, pop + "pop_account = \"info\"\n\n" + account("info")).empty());
  check_single(
      problems(dir, account("info") + "\n" + pop + "pop_account = \"info\"\nusername = \"u\"\n"),
      at(dir, 14, 12, "smarthost[0].username"),
      "is not used with auth = \"pop-before-smtp\", which sends no SMTP login");
  check_single(problems(dir, smarthost("a", "[\"*@a.de\"]", "pop_account = \"info\"\n")),
               at(dir, 7, 15, "smarthost[0].pop_account"),
               "is only used with auth = \"pop-before-smtp\"; remove it");
  check_single(problems(dir,
                        "[[smarthost]]\nname = \"lan\"\nhost = \"10.0.0.25\"\nauth = \"none\"\n"
                        "password_env = \"PB_TEST_PW\"\ndefault = true\n"),
               at(dir, 5, 16, "smarthost[0].password_env"), "is not used with auth = \"none\"");
}

TEST_CASE("config smarthost error: clear text, rewriting, limits, enums",
          "[config][smarthost][errors]") {
  TempDir dir;
  auto host = [](const std::string& extra) { return smarthost("a", "[\"*@a.de\"]", extra); };
  check_single(problems(dir, host("tls = \"none\"\n")), at(dir, 7, 7, "smarthost[0].tls"),
               "tls = \"none\": the password would travel over the network in clear text, "
               "readable by anyone on the way; use tls = \"implicit\" (port 465) or "
               "\"starttls\" (port 587)");
  CHECK(problems(dir, host("tls = \"none\"\nallow_plaintext = true\n")).empty());
  check_single(problems(dir,
                        "[[smarthost]]\nname = \"lan\"\nhost = \"10.0.0.25\"\n"
                        "auth = \"none\"\ntls = \"none\"\ndefault = true\n"),
               at(dir, 5, 7, "smarthost[0].tls"),
               "every message would travel over the network in clear text");
  check_single(problems(dir, host("rewrite_from_header = true\n")),
               at(dir, 7, 23, "smarthost[0].rewrite_from_header"), "needs rewrite_sender");
  check_single(problems(dir, host("rewrite_sender = \"Info <info@a.de>\"\n")),
               at(dir, 7, 18, "smarthost[0].rewrite_sender"),
               "'Info <info@a.de>' is not a valid mail address");
  check_single(problems(dir, host("max_connections = 17\n")),
               at(dir, 7, 19, "smarthost[0].max_connections"), "allowed 1..16");
  check_single(problems(dir, host("max_per_hour = -1\n")),
               at(dir, 7, 16, "smarthost[0].max_per_hour"), "allowed 0..1000000");
  check_single(problems(dir, host("max_message_size = \"2 megs\"\n")),
               at(dir, 7, 20, "smarthost[0].max_message_size"), "'2 megs' is not a size");
  check_single(problems(dir, host("auth = \"ntlm\"\n")), at(dir, 7, 8, "smarthost[0].auth"),
               "use \"auto\", \"plain\", \"login\", \"cram-md5\", \"pop-before-smtp\", \"none\", \"xoauth2\" or \"oauthbearer\"");
  check_single(problems(dir,
                        "[[smarthost]]\nname = \"a\"\nhost = \"smtp example\"\n"
                        "auth = \"none\"\ndefault = true\n"),
               at(dir, 3, 8, "smarthost[0].host"),
               "'smtp example' is not a host name or IP address");
  check_single(problems(dir, host("sender = [\"x@y.de\"]\n")), at(dir, 7, 1, "smarthost[0].sender"),
               "did you mean 'senders'?");
}

TEST_CASE("config error: problems from every section in one pass, in file order",
          "[config][relay][smarthost][errors]") {
  TempDir dir;
  auto text = smarthost("a", "[\"*@\"]") + "\n[relay]\nmax_recipients = 5\n\n" +
              account("info", "keep_days = 3\n");
  auto ps = problems(dir, text);
  INFO(joined(ps));
  REQUIRE(ps.size() == 3);
  CHECK_THAT(ps[0], StartsWith(at(dir, 6, 12, "smarthost[0].senders[0]")));
  CHECK_THAT(ps[1], StartsWith(at(dir, 9, 18, "relay.max_recipients")));
  CHECK_THAT(ps[2], StartsWith(at(dir, 17, 13, "account[0].keep_days")));
}

TEST_CASE("config error: relay and smarthost keys outside a section say where they belong",
          "[config][relay][smarthost][errors]") {
  TempDir dir;
  check_single(problems(dir, "senders = [\"*@a.de\"]\n"), at(dir, 1, 1, "senders"),
               "unknown key outside any section; it belongs under [[smarthost]]");
  check_single(problems(dir, "allow_networks = []\n"), at(dir, 1, 1, "allow_networks"),
               "it belongs under [relay]");
  check_single(problems(dir, "[[user]]\nname = \"x\"\n"), at(dir, 1, 3, "user"),
               "unknown section; it belongs under [relay] (as [[relay.user]])");
}
