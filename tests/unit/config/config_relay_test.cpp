// Successful loads of [relay], [[relay.user]] and [[smarthost]]: defaults, every key, sender
// pattern normalisation, and render_masked (valid TOML, never a password or a hash).
#include <toml++/toml.h>

#include <catch2/catch.hpp>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
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

std::string user(const std::string& name, const std::string& hash = kSecretHash) {
  return "[[relay.user]]\nname = \"" + name + "\"\npassword_hash = \"" + hash + "\"\n";
}

}  // namespace

TEST_CASE("config relay: defaults", "[config][relay]") {
  TempDir dir;
  Config cfg = load_text(dir, "[relay]\n");
  const Relay& r = cfg.relay;
  REQUIRE(r.listen.size() == 1);
  CHECK(r.listen[0] == pb::inet::Endpoint{"127.0.0.1", 2525});
  CHECK(r.listen_tls.empty());
  CHECK(r.bare_line_feeds == BareLineFeeds::normalize);
  REQUIRE(r.allow_networks.size() == 2);
  CHECK(r.allow_networks[0].str() == "127.0.0.1/32");
  CHECK(r.allow_networks[1].str() == "::1/128");
  CHECK(r.max_message_size.bytes == 50'000'000);
  CHECK(r.max_recipients == 100);
  CHECK(r.max_connections == 20);
  CHECK(r.max_connections_per_address == 10);  // half of max_connections
  CHECK(r.command_timeout == std::chrono::minutes(5));
  CHECK(r.data_timeout == std::chrono::minutes(10));
  CHECK(r.tls_cert_file.empty());
  CHECK(r.tls_key_file.empty());
  CHECK_FALSE(r.tls());
  CHECK(r.max_queue_time == std::chrono::hours(120));
  CHECK(r.delay_notice_after == std::chrono::hours(4));
  CHECK(r.users.empty());
  CHECK(r.enabled());
}

TEST_CASE("config relay: a login's senders are read like a smarthost's", "[config][relay]") {
  TempDir dir;
  Config cfg = load_text(dir, user("scanner") + "senders = [\"Scanner@Firma.DE\", \"*@scans.firma.de\"]\n" + user("laptop"));
  REQUIRE(cfg.relay.users.size() == 2);
  const auto& s = cfg.relay.users[0].senders;
  REQUIRE(s.size() == 2);
  CHECK(s[0].str() == "scanner@firma.de");
  CHECK(s[1].str() == "*@scans.firma.de");
  CHECK(cfg.relay.users[1].senders.empty());  // no list: any sender
  CHECK_THAT(render_masked(cfg), Contains("senders = [\"scanner@firma.de\", \"*@scans.firma.de\"]"));
}

TEST_CASE("config relay: an empty listen list switches the listener off", "[config][relay]") {
  TempDir dir;
  Config cfg = load_text(dir, "[relay]\nlisten = []\n");
  CHECK(cfg.relay.listen.empty());
  CHECK_FALSE(cfg.relay.enabled());
}

TEST_CASE("config relay: listen_tls alone keeps the listener on", "[config][relay]") {
  TempDir dir;
  dir.write("c.pem", "-----BEGIN CERTIFICATE-----\n");
  dir.write("c.key", "-----BEGIN EC PRIVATE KEY-----\n", 0600);
  Config cfg = load_text(dir, "[relay]\nlisten = []\nlisten_tls = \"127.0.0.1:465\"\ntls_cert_file = \"c.pem\"\n"
                              "tls_key_file = \"c.key\"\n");
  CHECK(cfg.relay.listen.empty());
  REQUIRE(cfg.relay.listen_tls.size() == 1);
  CHECK(cfg.relay.listen_tls[0] == pb::inet::Endpoint{"127.0.0.1", 465});
  CHECK(cfg.relay.enabled());
}

TEST_CASE("config relay: every key is read", "[config][relay]") {
  TempDir dir;
  dir.write("relay.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  dir.write("relay.key", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", 0600);
  std::string text = R"([relay]
listen = ["127.0.0.1:2525", "[::1]:2525", "192.168.1.5:25", "localhost:10025"]
listen_tls = ["192.168.1.5:465", "[::1]:465"]
bare_line_feeds = "reject"
allow_networks = ["192.168.1.0/24", "fd00::/8", "10.1.2.3"]
max_message_size = "20MiB"
max_recipients = 500
max_connections = 5
command_timeout = "2m"
data_timeout = "15m"
tls_cert_file = "relay.pem"
tls_key_file = "relay.key"
max_queue_time = "3d"
delay_notice_after = 0
)" + user("scanner") +
                     user("laptop@firma.de");
  Config cfg = load_text(dir, text);
  const Relay& r = cfg.relay;
  REQUIRE(r.listen.size() == 4);
  CHECK(r.listen[1] == pb::inet::Endpoint{"::1", 2525});
  CHECK(r.listen[1].str() == "[::1]:2525");
  CHECK(r.listen[3] == pb::inet::Endpoint{"localhost", 10025});
  REQUIRE(r.allow_networks.size() == 3);
  CHECK(r.allow_networks[2].str() == "10.1.2.3/32");
  CHECK(r.allow_networks[0].contains("192.168.1.77"));
  CHECK(r.max_message_size.bytes == 20u * 1024 * 1024);
  CHECK(r.max_recipients == 500);
  CHECK(r.max_connections == 5);
  CHECK(r.max_connections_per_address == 3);  // half of 5, rounded up
  CHECK(r.command_timeout == std::chrono::minutes(2));
  CHECK(r.data_timeout == std::chrono::minutes(15));
  CHECK(r.tls_cert_file == (dir.path() / "relay.pem").string());
  CHECK(r.tls_key_file == (dir.path() / "relay.key").string());
  CHECK(r.tls());
  CHECK(r.max_queue_time == std::chrono::hours(72));
  CHECK(r.delay_notice_after == pb::Duration::zero());
  REQUIRE(r.users.size() == 2);
  CHECK(r.users[0].name == "scanner");
  CHECK(r.users[0].password_hash == kSecretHash);
  CHECK(r.users[0].source_line == 15);
  REQUIRE(r.listen_tls.size() == 2);
  CHECK(r.listen_tls[1].str() == "[::1]:465");
  CHECK(r.bare_line_feeds == BareLineFeeds::reject);
  CHECK(r.find_user("laptop@firma.de") == &r.users[1]);
  // AUTH names are unique regardless of case, and match so (a client typing "Scanner" or
  // "LAPTOP@Firma.de" is the same login).
  CHECK(r.find_user("Scanner") == &r.users[0]);
  CHECK(r.find_user("LAPTOP@Firma.de") == &r.users[1]);
  CHECK(r.find_user("scanner2") == nullptr);
}

TEST_CASE("config relay: non-loopback listeners that are allowed", "[config][relay]") {
  TempDir dir;
  // An office network given explicitly.
  CHECK(problems(dir,
                 "[relay]\nlisten = [\"0.0.0.0:2525\"]\nallow_networks = "
                 "[\"192.168.1.0/24\"]\n")
            .empty());
  // No network at all: everyone logs in, over TLS.
  dir.write("c.pem", "-----BEGIN CERTIFICATE-----\n");
  dir.write("c.key", "-----BEGIN EC PRIVATE KEY-----\n", 0600);
  CHECK(problems(dir,
                 "[relay]\nlisten = [\"[::]:587\"]\ntls_cert_file = \"c.pem\"\n"
                 "tls_key_file = \"c.key\"\n" +
                     user("scanner"))
            .empty());
  // 0.0.0.0/0 only matters when other machines can connect.
  CHECK(problems(dir, "[relay]\nallow_networks = [\"0.0.0.0/0\", \"::/0\"]\n").empty());
  // "localhost" and all of 127/8 are loopback.
  CHECK(problems(dir,
                 "[relay]\nlisten = [\"localhost:2525\", \"127.0.0.2:25\", "
                 "\"[::1]:25\"]\n")
            .empty());
}

TEST_CASE("config smarthost: defaults, and the port follows tls", "[config][smarthost]") {
  TempDir dir;
  std::string text =
      smarthost("a") + "\n" + smarthost("b", "[\"b@firma.de\"]", "tls = \"starttls\"\n") + "\n" +
      smarthost("c", "[\"c@firma.de\"]", "tls = \"none\"\nallow_plaintext = true\n") + "\n" +
      smarthost("d", "[\"d@firma.de\"]", "port = 2465\n");
  Config cfg = load_text(dir, text);
  REQUIRE(cfg.smarthosts.size() == 4);
  const Smarthost& a = cfg.smarthosts[0];
  CHECK(a.port == 465);
  CHECK(a.tls == TlsMode::implicit);
  CHECK(a.ca_file.empty());
  CHECK(a.tls_verify);
  CHECK_FALSE(a.allow_plaintext);
  CHECK(a.auth == SmarthostAuth::automatic);
  CHECK(a.pop_account.empty());
  CHECK(a.password.source == "env PB_TEST_PW");
  CHECK_FALSE(a.is_default);
  CHECK(a.rewrite_sender.empty());
  CHECK_FALSE(a.rewrite_from_header);
  CHECK(a.max_per_hour == 0);
  CHECK(a.max_per_day == 0);
  CHECK_FALSE(a.max_message_size.has_value());
  CHECK(a.max_connections == 2);
  CHECK(a.timeout == std::chrono::minutes(5));
  CHECK(a.source_line == 1);
  CHECK(cfg.smarthosts[1].port == 587);
  CHECK(cfg.smarthosts[2].port == 25);
  CHECK(cfg.smarthosts[3].port == 2465);
  CHECK(cfg.smarthosts[3].source_line == 25);
  CHECK(cfg.find_smarthost("c") == &cfg.smarthosts[2]);
  CHECK(cfg.find_smarthost("x") == nullptr);
}

TEST_CASE("config smarthost: every key is read", "[config][smarthost]") {
  TempDir dir;
  dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  std::string text = account("info") + R"(
[[smarthost]]
name = "old-provider"
host = "mail.example.org"
port = 2525
tls = "starttls"
ca_file = "ca.pem"
tls_verify = false
allow_plaintext = false
auth = "pop-before-smtp"
pop_account = "info"
senders = ["Chef@Firma.DE", "*@Müller.Example", "*@[192.0.2.1]"]
default = true
rewrite_sender = "info@firma.de"
rewrite_from_header = true
max_per_hour = 30
max_per_day = 100
max_message_size = "2MB"
max_connections = 1
timeout = "90s"
)";
  Config cfg = load_text(dir, text);
  REQUIRE(cfg.smarthosts.size() == 1);
  const Smarthost& h = cfg.smarthosts[0];
  CHECK(h.name == "old-provider");
  CHECK(h.host == "mail.example.org");
  CHECK(h.port == 2525);
  CHECK(h.tls == TlsMode::starttls);
  CHECK(h.ca_file == (dir.path() / "ca.pem").string());
  CHECK_FALSE(h.tls_verify);
  CHECK(h.auth == SmarthostAuth::pop_before_smtp);
  CHECK(h.pop_account == "info");
  CHECK(h.username.empty());
  CHECK(h.password.empty());
  // Lower-cased ASCII letters; the UTF-8 "ü" is kept as written.
  REQUIRE(h.senders.size() == 3);
  CHECK(h.senders[0] == SenderPattern{"chef", "firma.de"});
  CHECK(h.senders[1] == SenderPattern{"", "müller.example"});
  CHECK(h.senders[1].any_local());
  CHECK(h.senders[1].str() == "*@müller.example");
  CHECK(h.senders[2].str() == "*@[192.0.2.1]");
  CHECK(h.is_default);
  CHECK(h.rewrite_sender == "info@firma.de");
  CHECK(h.rewrite_from_header);
  CHECK(h.max_per_hour == 30);
  CHECK(h.max_per_day == 100);
  REQUIRE(h.max_message_size.has_value());
  CHECK(h.max_message_size->bytes == 2'000'000);
  CHECK(h.max_connections == 1);
  CHECK(h.timeout == std::chrono::seconds(90));
}

TEST_CASE("config smarthost: every auth value", "[config][smarthost]") {
  TempDir dir;
  const std::pair<const char*, SmarthostAuth> cases[] = {{"auto", SmarthostAuth::automatic},
                                                         {"plain", SmarthostAuth::plain},
                                                         {"login", SmarthostAuth::login},
                                                         {"cram-md5", SmarthostAuth::cram_md5}};
  for (auto [name, value] : cases) {
    Config cfg =
        load_text(dir, smarthost("a", "[\"*@a.de\"]", "auth = \"" + std::string(name) + "\"\n"));
    CHECK(cfg.smarthosts[0].auth == value);
    CHECK(std::string(to_string(value)) == name);
  }
  std::string none =
      "[[smarthost]]\nname = \"lan\"\nhost = \"10.0.0.25\"\nauth = \"none\"\n"
      "default = true\n";
  Config cfg = load_text(dir, none);
  CHECK(cfg.smarthosts[0].auth == SmarthostAuth::none);
  CHECK(cfg.smarthosts[0].senders.empty());
  CHECK(cfg.smarthosts[0].tls == TlsMode::implicit);
  CHECK(std::string(to_string(SmarthostAuth::none)) == "none");
  CHECK(std::string(to_string(SmarthostAuth::pop_before_smtp)) == "pop-before-smtp");
}

TEST_CASE("config smarthost: a lone senders string is a one-element list", "[config][smarthost]") {
  TempDir dir;
  Config cfg = load_text(dir, smarthost("a", "\"*@firma.de\""));
  REQUIRE(cfg.smarthosts[0].senders.size() == 1);
  CHECK(cfg.smarthosts[0].senders[0].str() == "*@firma.de");
}

TEST_CASE("config relay: delay_notice_after 0 is off however it is written", "[config][relay]") {
  TempDir dir;
  for (const char* off : {"0", "\"0\"", "\"0s\"", "\"0ms\"", "\"0d\""}) {
    INFO(off);
    Config cfg = load_text(dir, std::string("[relay]\ndelay_notice_after = ") + off + "\n");
    CHECK(cfg.relay.delay_notice_after == pb::Duration::zero());
  }
  CHECK(load_text(dir, "[relay]\ndelay_notice_after = \"3600\"\n").relay.delay_notice_after ==
        std::chrono::hours(1));
  CHECK(load_text(dir, "[relay]\ndelay_notice_after = \"2H30M\"\n").relay.delay_notice_after ==
        std::chrono::minutes(150));
}

TEST_CASE("config relay: render_masked shows relay and smarthosts, never a secret or hash",
          "[config][relay][smarthost]") {
  TempDir dir;
  dir.write("strato.secret", std::string(kSecret) + "\n", 0600);
  dir.write("c.pem", "-----BEGIN CERTIFICATE-----\n");
  dir.write("c.key", "-----BEGIN EC PRIVATE KEY-----\n", 0600);
  std::string text =
      "[relay]\nlisten = [\"127.0.0.1:2525\", \"[::1]:2525\"]\nlisten_tls = [\"127.0.0.1:465\"]\n"
      "tls_cert_file = \"c.pem\"\ntls_key_file = \"c.key\"\nbare_line_feeds = \"reject\"\n"
      "allow_networks = [\"127.0.0.0/8\"]\ndelay_notice_after = \"0\"\n" +
      user("scanner") + "\n" + smarthost("env", "[\"*@firma.de\", \"Chef@x.de\"]") +
      "default = true\nmax_message_size = \"2MB\"\n\n" +
      "[[smarthost]]\nname = \"file\"\nhost = \"smtp.example.org\"\n"
      "tls = \"starttls\"\nusername = \"u\"\npassword_file = \"strato.secret\"\n"
      "senders = [\"a@b.de\"]\n";
  Config cfg = load_text(dir, text);
  std::string out = render_masked(cfg);
  INFO(out);
  CHECK_THAT(out, !Contains(kSecret));
  CHECK_THAT(out, !Contains(kSecretHash));
  CHECK_THAT(out, !Contains("$6$"));
  CHECK_THAT(out, Contains("password_hash = \"****\""));
  CHECK_THAT(out, Contains("password = \"****\"  # from env PB_TEST_PW"));
  CHECK_THAT(
      out, Contains("password = \"****\"  # from file " + (dir.path() / "strato.secret").string()));
  CHECK_THAT(out, Contains("listen = [\"127.0.0.1:2525\", \"[::1]:2525\"]"));
  CHECK_THAT(out, Contains("listen_tls = [\"127.0.0.1:465\"]"));
  CHECK_THAT(out, Contains("bare_line_feeds = \"reject\""));
  CHECK_THAT(out, Contains("allow_networks = [\"127.0.0.0/8\"]"));
  CHECK_THAT(out, Contains("delay_notice_after = \"0\"\n"));  // off, as the example writes it
  CHECK_THAT(out, Contains("max_queue_time = \"5d\""));
  CHECK_THAT(out, Contains("senders = [\"*@firma.de\", \"chef@x.de\"]"));
  CHECK_THAT(out, Contains("port = 587"));
  CHECK_THAT(out, Contains("max_message_size = \"2MB\""));
  CHECK_THAT(out, Contains("max_message_size = \"\""));

  // Valid TOML; without the (masked) user hash it loads back to the same values.
  toml::table parsed;
  REQUIRE_NOTHROW(parsed = toml::parse(std::string_view(out), std::string_view("rendered")));
  CHECK(parsed["relay"]["user"][0]["name"].value_or(std::string()) == "scanner");
  auto cut = out.find("\n[[relay.user]]");
  auto next = out.find("\n[[smarthost]]");
  REQUIRE(cut != std::string::npos);
  REQUIRE(next != std::string::npos);
  std::string without_user = out.substr(0, cut) + out.substr(next);
  TempDir again;
  Config back;
  try {
    back = load(again.write("postbridge.toml", without_user));
  } catch (const ConfigError& e) {
    FAIL(e.what());
  }
  CHECK(back.relay.listen == cfg.relay.listen);
  CHECK(back.relay.listen_tls == cfg.relay.listen_tls);
  CHECK(back.relay.bare_line_feeds == cfg.relay.bare_line_feeds);
  CHECK(back.relay.allow_networks == cfg.relay.allow_networks);
  CHECK(back.relay.delay_notice_after == cfg.relay.delay_notice_after);
  REQUIRE(back.smarthosts.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const Smarthost& a = cfg.smarthosts[i];
    const Smarthost& b = back.smarthosts[i];
    CHECK(b.name == a.name);
    CHECK(b.port == a.port);
    CHECK(b.tls == a.tls);
    CHECK(b.senders == a.senders);
    CHECK(b.is_default == a.is_default);
    CHECK(b.max_message_size == a.max_message_size);
    CHECK(b.password.value == "****");
  }
}
