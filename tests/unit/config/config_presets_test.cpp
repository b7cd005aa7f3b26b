// Provider presets (`provider = "strato"`) and systemd credentials (`password_file =
// "credential:NAME"`): what they fill, that written keys win, and the errors an admin reads.
#include <stdlib.h>

#include <catch2/catch.hpp>

#include "config/presets.hpp"
#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace pb::config;
using namespace pb::config::test;

namespace {

Config load_text(const TempDir& dir, const std::string& text) {
  return load(dir.write("postbridge.toml", text));
}

// An account / smarthost without host, using `provider` and the extra keys.
std::string preset_account(const std::string& provider, const std::string& extra = "") {
  return "[[account]]\nname = \"info\"\nprovider = \"" + provider +
         "\"\nusername = \"info@firma.de\"\npassword_env = \"PB_TEST_PW\"\n"
         "deliver_to = [\"info@firma.local\"]\n" +
         extra;
}
std::string preset_smarthost(const std::string& provider, const std::string& extra = "") {
  return "[[smarthost]]\nname = \"out\"\nprovider = \"" + provider +
         "\"\nusername = \"info@firma.de\"\npassword_env = \"PB_TEST_PW\"\ndefault = true\n" + extra;
}

struct Expected {
  const char* provider;
  const char* pop3;
  const char* smtp;
  std::uint16_t smtp_port;
  TlsMode smtp_tls;
  int per_hour, per_day;
};

// Sets CREDENTIALS_DIRECTORY for one test and restores the previous state afterwards.
class CredentialsDir {
 public:
  explicit CredentialsDir(const char* value) {
    if (const char* old = std::getenv("CREDENTIALS_DIRECTORY")) old_ = old;
    if (value)
      ::setenv("CREDENTIALS_DIRECTORY", value, 1);
    else
      ::unsetenv("CREDENTIALS_DIRECTORY");
  }
  ~CredentialsDir() {
    if (old_.empty())
      ::unsetenv("CREDENTIALS_DIRECTORY");
    else
      ::setenv("CREDENTIALS_DIRECTORY", old_.c_str(), 1);
  }
  CredentialsDir(const CredentialsDir&) = delete;
  CredentialsDir& operator=(const CredentialsDir&) = delete;

 private:
  std::string old_;
};

}  // namespace

TEST_CASE("config presets: each provider fills host, port, tls and its send limits", "[config][presets]") {
  const std::vector<Expected> all{
      {"strato", "pop3.strato.de", "smtp.strato.de", 465, TlsMode::implicit, 0, 0},
      {"ionos", "pop.ionos.de", "smtp.ionos.de", 465, TlsMode::implicit, 500, 0},
      {"t-online", "securepop.t-online.de", "securesmtp.t-online.de", 465, TlsMode::implicit, 0, 0},
      {"gmx", "pop.gmx.net", "mail.gmx.net", 465, TlsMode::implicit, 0, 0},
      {"webde", "pop3.web.de", "smtp.web.de", 587, TlsMode::starttls, 0, 0},
      {"gmail", "pop.gmail.com", "smtp.gmail.com", 465, TlsMode::implicit, 0, 500},
      {"microsoft365", "outlook.office365.com", "smtp.office365.com", 587, TlsMode::starttls, 0, 0},
  };
  REQUIRE(provider_names().size() == all.size());
  TempDir dir;
  for (const Expected& e : all) {
    INFO(e.provider);
    Config cfg = load_text(dir, preset_account(e.provider) + "\n" + preset_smarthost(e.provider));
    const Account& a = cfg.accounts.at(0);
    CHECK(a.host == e.pop3);
    CHECK(a.port == 995);
    CHECK(a.tls == TlsMode::implicit);
    CHECK(a.preset.provider == e.provider);
    CHECK(a.preset.keys == std::vector<std::string>{"host", "tls", "port"});
    const Smarthost& h = cfg.smarthosts.at(0);
    CHECK(h.host == e.smtp);
    CHECK(h.port == e.smtp_port);
    CHECK(h.tls == e.smtp_tls);
    CHECK(h.max_per_hour == e.per_hour);
    CHECK(h.max_per_day == e.per_day);
    CHECK(h.preset.filled("max_per_hour") == (e.per_hour > 0));
    CHECK(h.preset.filled("max_per_day") == (e.per_day > 0));
  }
}

TEST_CASE("config presets: keys written in the table win", "[config][presets]") {
  TempDir dir;
  Config cfg = load_text(dir, preset_account("strato", "host = \"pop3.intern.example\"\nport = 1995\n") +
                                  "\n" +
                                  preset_smarthost("ionos",
                                                   "host = \"smtp.1und1.de\"\nmax_per_hour = 0\n"
                                                   "max_per_day = 300\n"));
  const Account& a = cfg.accounts.at(0);
  CHECK(a.host == "pop3.intern.example");
  CHECK(a.port == 1995);
  CHECK(a.tls == TlsMode::implicit);  // from the preset: 1995 is no port Strato documents
  CHECK(a.preset.keys == std::vector<std::string>{"tls"});
  const Smarthost& h = cfg.smarthosts.at(0);
  CHECK(h.host == "smtp.1und1.de");
  CHECK(h.port == 465);
  CHECK(h.max_per_hour == 0);  // 0 switches the preset's limit off
  CHECK(h.max_per_day == 300);
  CHECK_FALSE(h.preset.filled("max_per_hour"));
  CHECK_FALSE(h.preset.filled("host"));
}

TEST_CASE("config presets: tls picks the provider's port, a port picks its tls", "[config][presets]") {
  TempDir dir;
  Config cfg = load_text(dir, preset_smarthost("strato", "tls = \"starttls\"\n"));
  CHECK(cfg.smarthosts[0].port == 587);
  CHECK(cfg.smarthosts[0].tls == TlsMode::starttls);

  cfg = load_text(dir, preset_smarthost("strato", "port = 587\n"));  // 587 at Strato is STARTTLS
  CHECK(cfg.smarthosts[0].tls == TlsMode::starttls);
  CHECK(cfg.smarthosts[0].preset.keys == std::vector<std::string>{"host", "tls"});

  cfg = load_text(dir, preset_smarthost("gmail", "tls = \"implicit\"\n"));
  CHECK(cfg.smarthosts[0].port == 465);

  // A mode the provider documents no port for: an error unless the port is given too.
  auto ps = problems(dir, preset_smarthost("webde", "tls = \"implicit\"\n"));
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], StartsWith(at(dir, 7, 7, "smarthost[0].tls")));
  CHECK_THAT(ps[0], Contains("web.de documents its SMTP server only with tls = \"starttls\" (port 587)"));
  cfg = load_text(dir, preset_smarthost("webde", "tls = \"implicit\"\nport = 465\n"));
  CHECK(cfg.smarthosts[0].port == 465);

  ps = problems(dir, preset_account("gmx", "tls = \"starttls\"\n"));
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], StartsWith(at(dir, 7, 7, "account[0].tls")));
  CHECK_THAT(ps[0], Contains("only with tls = \"implicit\" (port 995); remove tls"));
}

TEST_CASE("config presets: an unknown provider names line, column and the allowed values", "[config][presets]") {
  TempDir dir;
  auto ps = problems(dir, preset_smarthost("strto"));
  REQUIRE(ps.size() == 1);  // no second "host: missing" for the same mistake
  CHECK(ps[0] == at(dir, 3, 12, "smarthost[0].provider") +
                     "'strto' is not allowed; use \"strato\", \"ionos\", \"t-online\", \"gmx\", "
                     "\"webde\", \"gmail\" or \"microsoft365\"; did you mean 'strato'?");
  ps = problems(dir, preset_account("1und1"));
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], StartsWith(at(dir, 3, 12, "account[0].provider") + "'1und1' is not allowed"));
  ps = problems(dir, account("info", "provider = 5\n"));
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], StartsWith(at(dir, 7, 12, "account[0].provider") + "expected one of \"strato\""));
}

TEST_CASE("config presets: postbridge check shows the resolved values and where they came from", "[config][presets]") {
  TempDir dir;
  Config cfg = load_text(dir, preset_account("strato") + "\n" + preset_smarthost("gmail", "tls = \"starttls\"\n"));
  std::string out = render_masked(cfg);
  INFO(out);
  CHECK_THAT(out, Contains("provider = \"strato\"\nhost = \"pop3.strato.de\"  # from provider preset strato\n"
                           "port = 995  # from provider preset strato\n"
                           "tls = \"implicit\"  # from provider preset strato\n"));
  CHECK_THAT(out, Contains("port = 587  # from provider preset gmail\ntls = \"starttls\"\n"));
  CHECK_THAT(out, Contains("max_per_day = 500  # from provider preset gmail\n"));
  // Loading the output again gives the same servers.
  TempDir again;
  Config back = load(again.write("postbridge.toml", out));
  CHECK(back.accounts.at(0).host == "pop3.strato.de");
  CHECK(back.smarthosts.at(0).port == 587);
  CHECK(back.smarthosts.at(0).max_per_day == 500);
}

TEST_CASE("config credentials: password_file = \"credential:NAME\" reads $CREDENTIALS_DIRECTORY/NAME", "[config][credentials]") {
  TempDir dir;
  // systemd makes credentials read-only for the service; even 0644 is accepted (no chmod lasts).
  dir.write("creds/strato", std::string(kSecret) + "\n", 0644);
  CredentialsDir env((dir.path() / "creds").c_str());
  std::string text = account("info");
  text.replace(text.find("password_env = \"PB_TEST_PW\""), 27, "password_file = \"credential:strato\"");
  text += "\n[local]\nusername = \"gw\"\npassword_file = \"credential:strato\"\nallow_plaintext = true\n";
  Config cfg = load_text(dir, text);
  CHECK(cfg.accounts.at(0).password.value == kSecret);
  CHECK(cfg.accounts.at(0).password.source == "credential strato");
  CHECK(cfg.local.password.source == "credential strato");
  std::string out = render_masked(cfg);
  CHECK_THAT(out, Contains("password = \"****\"  # from credential strato"));
  CHECK_THAT(out, !Contains(kSecret));
}

TEST_CASE("config credentials: the errors say what the unit needs", "[config][credentials]") {
  TempDir dir;
  std::string text = preset_smarthost("strato");
  text.replace(text.find("password_env = \"PB_TEST_PW\""), 27, "password_file = \"credential:strato\"");

  {
    CredentialsDir env(nullptr);
    auto ps = problems(dir, text);
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], StartsWith(at(dir, 5, 17, "smarthost[0].password_file") + "credential strato"));
    CHECK_THAT(ps[0], Contains("CREDENTIALS_DIRECTORY is not set"));
    CHECK_THAT(ps[0], Contains("add LoadCredential=strato:/etc/postbridge/strato.secret to the "
                               "[Service] section of postbridge.service"));
  }
  {
    CredentialsDir env(dir.path().c_str());
    auto ps = problems(dir, text);
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], StartsWith(at(dir, 5, 17, "smarthost[0].password_file") +
                                 "credential strato is not in " + dir.path().string() +
                                 " (No such file or directory); add LoadCredential=strato:"));
    std::string bad = text;
    bad.replace(bad.find("credential:strato"), 17, "credential:../x");
    ps = problems(dir, bad);
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], Contains("'../x' is not a credential name"));
  }
}

TEST_CASE("config credentials: TLS key and certificate files may be credentials", "[config][credentials]") {
  TempDir dir;
  dir.write("creds/relay.pem", "-----BEGIN CERTIFICATE-----\n", 0444);
  dir.write("creds/relay.key", "-----BEGIN PRIVATE KEY-----\n", 0440);  // group-readable: still ok
  CredentialsDir env((dir.path() / "creds").c_str());
  Config cfg = load_text(dir, "[relay]\ntls_cert_file = \"credential:relay.pem\"\n"
                              "tls_key_file = \"credential:relay.key\"\n");
  CHECK(cfg.relay.tls_cert_file == (dir.path() / "creds/relay.pem").string());
  CHECK(cfg.relay.tls_key_file == (dir.path() / "creds/relay.key").string());
  auto ps = problems(dir, "[web]\ntls_cert_file = \"credential:web.pem\"\ntls_key_file = \"credential:web.key\"\n");
  REQUIRE(ps.size() == 2);
  CHECK_THAT(ps[0], Contains("add LoadCredential=web.pem:/etc/postbridge/web.pem"));
  CHECK_THAT(ps[1], Contains("add LoadCredential=web.key:/etc/postbridge/web.key"));
}
