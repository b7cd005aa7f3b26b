// [account.multidrop]: the issue's example loads into comparable forms (IDN domains as A-labels,
// map keys lower-cased), defaults are filled in, and every mistake names FILE:LINE:COL and key.
#include <catch2/catch.hpp>

#include "config_fixture.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace pb::config;
using namespace pb::config::test;

namespace {

// An account without deliver_to, followed by its [account.multidrop] body.
std::string multidrop_account(const std::string& body) {
  return "[service]\npostmaster = \"admin@firma.local\"\n\n"
         "[[account]]\n"
         "name = \"domain\"\n"
         "host = \"pop3.example.net\"\n"
         "username = \"catchall@firma.de\"\n"
         "password_env = \"PB_TEST_PW\"\n"
         "[account.multidrop]\n" +
         body;
}

}  // namespace

TEST_CASE("config multidrop: the issue's example", "[config][multidrop]") {
  TempDir dir;
  auto file = dir.write("postbridge.toml", multidrop_account(R"(domains = ["firma.de", "Müller.DE"]
rewrite_domain = "firma.local"
map = { "Info@Firma.de" = ["anna@firma.local", "ben@firma.local"], "chef@firma.de" = ["ceo@firma.local"] }
default_recipient = "postmaster@firma.local"
envelope_headers = ["Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "X-Rcpt-To"]
)"));
  Config cfg = load(file);
  REQUIRE(cfg.accounts.size() == 1);
  const Account& a = cfg.accounts[0];
  CHECK(a.deliver_to.empty());
  REQUIRE(a.multidrop);
  const Multidrop& m = *a.multidrop;
  CHECK(m.domains == std::vector<std::string>{"firma.de", "xn--mller-kva.de"});
  CHECK(m.rewrite_domain == "firma.local");
  REQUIRE(m.map.size() == 2);
  REQUIRE(m.find("info@firma.de"));
  CHECK(m.find("info@firma.de")->targets == std::vector<std::string>{"anna@firma.local", "ben@firma.local"});
  CHECK(m.find("chef@firma.de")->targets == std::vector<std::string>{"ceo@firma.local"});
  CHECK(m.default_recipient == "postmaster@firma.local");
  CHECK(m.envelope_headers.size() == 5);
  CHECK(m.loop_limit == 2);
  CHECK(m.duplicate_window == std::chrono::hours(24));
  CHECK(m.is_ours("xn--mller-kva.de"));
  CHECK_FALSE(m.is_ours("müller.de"));  // callers compare A-labels

  // `postbridge check` shows it as TOML that says the same.
  auto shown = render_masked(cfg);
  CHECK_THAT(shown, Contains("[account.multidrop]\ndomains = [\"firma.de\", \"xn--mller-kva.de\"]"));
  CHECK_THAT(shown, Contains("map = { \"info@firma.de\" = [\"anna@firma.local\", \"ben@firma.local\"], "
                             "\"chef@firma.de\" = [\"ceo@firma.local\"] }"));
  CHECK_THAT(shown, Contains("duplicate_window = \"1d\""));
  CHECK_THAT(shown, !Contains("deliver_to"));
  CHECK_THAT(shown, !Contains(kSecret));
  auto again = dir.write("again.toml", shown);
  (void)again;  // the masked password makes it not loadable as is; the structure is checked above
}

TEST_CASE("config multidrop: defaults", "[config][multidrop]") {
  TempDir dir;
  Config cfg = load(dir.write("postbridge.toml", multidrop_account("domains = \"firma.de\"\n")));
  const Multidrop& m = *cfg.accounts.at(0).multidrop;
  CHECK(m.domains == std::vector<std::string>{"firma.de"});  // a lone string is a list of one
  CHECK(m.rewrite_domain.empty());
  CHECK(m.map.empty());
  CHECK(m.default_recipient == "admin@firma.local");  // [service] postmaster
  CHECK(m.envelope_headers ==
        std::vector<std::string>{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "X-Rcpt-To"});

  cfg = load(dir.write("postbridge.toml", multidrop_account("domains = [\"firma.de\"]\nenvelope_headers = []\n"
                                                            "duplicate_window = 0\nloop_limit = 5\n"
                                                            "map = { \"a@firma.de\" = \"b@firma.local\" }\n")));
  const Multidrop& m2 = *cfg.accounts.at(0).multidrop;
  CHECK(m2.envelope_headers.empty());
  CHECK(m2.duplicate_window.count() == 0);
  CHECK(m2.loop_limit == 5);
  CHECK(m2.find("a@firma.de")->targets == std::vector<std::string>{"b@firma.local"});
  CHECK_THAT(render_masked(cfg), Contains("duplicate_window = \"0\"\n"));
}

TEST_CASE("config multidrop: duplicate_window 0 is off however it is written", "[config][multidrop]") {
  TempDir dir;
  for (const char* off : {"0", "\"0\"", "\"0s\"", "\"0ms\"", "\"0m\"", "\"0h0m\""}) {
    INFO(off);
    Config cfg = load(dir.write("postbridge.toml", multidrop_account(std::string("domains = [\"firma.de\"]\n"
                                                                                 "duplicate_window = ") +
                                                                     off + "\n")));
    CHECK(cfg.accounts.at(0).multidrop->duplicate_window == pb::Duration::zero());
  }
  Config cfg = load(dir.write("postbridge.toml",
                              multidrop_account("domains = [\"firma.de\"]\nduplicate_window = \"90\"\n")));
  CHECK(cfg.accounts.at(0).multidrop->duplicate_window == std::chrono::seconds(90));  // a bare number: seconds
}

TEST_CASE("config multidrop: mistakes name file, line, column and key", "[config][multidrop]") {
  TempDir dir;
  struct Bad {
    std::string body;
    int line, col;
    std::string key, fragment;
  };
  // Line 9 is the first line of the [account.multidrop] body (see multidrop_account).
  const Bad table[] = {
      {"rewrite_domain = \"firma.local\"\n", 9, 1, "account[0].multidrop.domains", "missing; list the domains"},
      {"domains = []\n", 10, 11, "account[0].multidrop.domains", "is empty"},
      {"domains = [\"@firma.de\"]\n", 10, 12, "account[0].multidrop.domains[0]", "is not a domain name"},
      {"domains = [\"firma.de\", \"FIRMA.DE\"]\n", 10, 24, "account[0].multidrop.domains[1]", "listed twice"},
      {"domains = [\"firma.de\"]\nrewrite_domain = \"firma local\"\n", 11, 18, "account[0].multidrop.rewrite_domain",
       "is not a domain name"},
      {"domains = [\"firma.de\"]\nmap = { \"info@other.de\" = \"a@firma.local\" }\n", 11, 27,
       "account[0].multidrop.map.\"info@other.de\"", "is not in one of the domains"},
      {"domains = [\"firma.de\"]\nmap = { \"info\" = \"a@firma.local\" }\n", 11, 18, "account[0].multidrop.map.\"info\"",
       "is not a valid mail address"},
      {"domains = [\"firma.de\"]\nmap = { \"info@firma.de\" = [\"anna\"] }\n", 11, 28,
       "account[0].multidrop.map.\"info@firma.de\"[0]", "is not a valid mail address"},
      {"domains = [\"firma.de\"]\nmap = { \"info@firma.de\" = [] }\n", 11, 27, "account[0].multidrop.map.\"info@firma.de\"",
       "is empty"},
      {"domains = [\"firma.de\"]\nmap = { \"info@firma.de\" = 3 }\n", 11, 27, "account[0].multidrop.map.\"info@firma.de\"",
       "expected an address or a list of addresses, got integer"},
      {"domains = [\"firma.de\"]\nmap = { \"Info@firma.de\" = \"a@x.de\", \"info@FIRMA.de\" = \"b@x.de\" }\n", 11, 55,
       "account[0].multidrop.map.\"info@FIRMA.de\"", "mapped twice"},
      {"domains = [\"firma.de\"]\nmap = [\"info@firma.de\"]\n", 11, 7, "account[0].multidrop.map", "expected a table"},
      {"domains = [\"firma.de\"]\ndefault_recipient = \"postmaster\"\n", 11, 21, "account[0].multidrop.default_recipient",
       "is not a valid mail address"},
      {"domains = [\"firma.de\"]\nenvelope_headers = [\"Delivered-To:\"]\n", 11, 21,
       "account[0].multidrop.envelope_headers[0]", "is not a header name"},
      {"domains = [\"firma.de\"]\nenvelope_headers = [\"Delivered-To\", \"delivered-to\"]\n", 11, 37,
       "account[0].multidrop.envelope_headers[1]", "listed twice"},
      {"domains = [\"firma.de\"]\nloop_limit = 0\n", 11, 14, "account[0].multidrop.loop_limit", "out of range"},
      {"domains = [\"firma.de\"]\nduplicate_window = \"a day\"\n", 11, 20, "account[0].multidrop.duplicate_window",
       "is not a duration"},
      {"domains = [\"firma.de\"]\nduplicate_window = \"500ms\"\n", 11, 20, "account[0].multidrop.duplicate_window",
       "'500ms' is too short; the minimum is 1s (\"0\" switches it off)"},
      {"domains = [\"firma.de\"]\nduplicate_window = 86400\n", 11, 20, "account[0].multidrop.duplicate_window",
       "86400 has no unit; write a duration as a string like \"86400s\""},
      {"domains = [\"firma.de\"]\nduplicate_window = false\n", 11, 20, "account[0].multidrop.duplicate_window",
       "expected a string like \"5m\", got boolean"},
      {"domains = [\"firma.de\"]\nenvelope_header = [\"X-Original-To\"]\n", 11, 1,
       "account[0].multidrop.envelope_header", "unknown key; did you mean 'envelope_headers'?"},
  };
  for (const auto& b : table) {
    INFO(b.body);
    auto ps = problems(dir, multidrop_account(b.body));
    INFO(joined(ps));
    REQUIRE(ps.size() == 1);
    CHECK_THAT(ps[0], StartsWith(at(dir, b.line, b.col, b.key)));
    CHECK_THAT(ps[0], Contains(b.fragment));
  }
}

TEST_CASE("config multidrop: deliver_to and multidrop exclude each other", "[config][multidrop]") {
  TempDir dir;
  auto ps = problems(dir, account("info", "[account.multidrop]\ndomains = [\"firma.de\"]\n"));
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], StartsWith(at(dir, 6, 14, "account[0].deliver_to")));
  CHECK_THAT(ps[0], Contains("remove deliver_to"));

  ps = problems(dir, "[[account]]\nname = \"x\"\nhost = \"h.example\"\nusername = \"u\"\npassword_env = \"PB_TEST_PW\"\n"
                     "multidrop = 1\n");
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], StartsWith(at(dir, 6, 13, "account[0].multidrop")));
  CHECK_THAT(ps[0], Contains("expected a table"));

  // Without either, the hint names both ways.
  ps = problems(dir, "[[account]]\nname = \"x\"\nhost = \"h.example\"\nusername = \"u\"\npassword_env = \"PB_TEST_PW\"\n");
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], Contains("[account.multidrop]"));
}
