// route_for_sender precedence: exact address > "*@domain" > default, case rules, IDN domains,
// the null sender, and no route at all. Smarthosts are built as the config loader builds them.
#include "routing/sender_route.hpp"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using pb::config::SenderPattern;
using pb::config::Smarthost;
using pb::routing::route_for_sender;

namespace {

// Patterns as the configuration stores them: lower-cased ASCII, "" local part = any.
Smarthost host(std::string name, std::vector<SenderPattern> senders, bool is_default = false) {
  Smarthost h;
  h.name = std::move(name);
  h.senders = std::move(senders);
  h.is_default = is_default;
  return h;
}

SenderPattern exact(std::string local, std::string domain) {
  return {std::move(local), std::move(domain)};
}
SenderPattern domain(std::string d) { return {"", std::move(d)}; }

// The office setup of the seeds: two providers and a business relay as the default.
const std::vector<Smarthost> kOffice{
    host("strato", {domain("firma.de"), exact("info", "zweitfirma.de")}),
    host("gmx", {exact("chef", "firma.de"), domain("gmx.de")}),
    host("business", {domain("zweitfirma.de"), domain("müller-bau.de"), domain("xn--mller-kva.de")},
         true),
    host("literal", {domain("[192.0.2.1]"), exact("\"a@b\"", "quoted.de")}),
};

struct Case {
  const char* sender;
  std::optional<std::string> route;
  const char* why;
};

const Case kCases[] = {
    {"chef@firma.de", "gmx", "exact address beats *@firma.de on another smarthost"},
    {"CHEF@Firma.DE", "gmx", "exact match ignores ASCII case in local part and domain"},
    {"Chef@firma.de", "gmx", "mixed-case local part"},
    {"buchhaltung@firma.de", "strato", "*@firma.de"},
    {"buchhaltung@FIRMA.DE", "strato", "*@domain ignores domain case"},
    {"info@zweitfirma.de", "strato", "exact address beats *@zweitfirma.de, even on a default"},
    {"verkauf@zweitfirma.de", "business", "*@zweitfirma.de on the default smarthost"},
    {"anna@gmx.de", "gmx", "*@gmx.de"},
    {"a@sub.firma.de", "business", "*@firma.de does not take subdomains: default"},
    {"a@firma.de.evil.example", "business", "suffix tricks do not match: default"},
    {"a@irma.de", "business", "no partial-domain match: default"},
    {"chef@firma.dev", "business", "exact match is whole-domain: default"},
    {"jörg@müller-bau.de", "business", "UTF-8 local part and IDN domain (U-label)"},
    {"a@MÜLLER-bau.de", "business", "non-ASCII letters are compared as written, falls to default"},
    {"a@xn--mller-kva.de", "business", "A-label form listed separately"},
    {"x@[192.0.2.1]", "literal", "address-literal domain"},
    {"\"a@b\"@quoted.de", "literal", "quoted local part containing '@': last '@' splits"},
    {"\"A@B\"@QUOTED.de", "literal", "quoted local part, case-insensitive"},
    {"", "business", "null sender (bounce) goes to the default"},
    {"postmaster", "business", "no '@' at all: default"},
    {"@firma.de", "strato", "empty local part still has the domain"},
    {"unknown@elsewhere.example", "business", "unknown domain: default"},
};

}  // namespace

TEST_CASE("routing: precedence table (exact > *@domain > default)", "[routing]") {
  for (const auto& c : kCases) {
    INFO("sender '" << c.sender << "': " << c.why);
    CHECK(route_for_sender(kOffice, c.sender) == c.route);
  }
}

TEST_CASE("routing: without a default, unmatched senders have no route", "[routing]") {
  const std::vector<Smarthost> hosts{host("strato", {domain("firma.de")}),
                                     host("gmx", {exact("chef", "firma.de")})};
  CHECK(route_for_sender(hosts, "chef@firma.de") == "gmx");
  CHECK(route_for_sender(hosts, "a@firma.de") == "strato");
  CHECK(route_for_sender(hosts, "a@other.example") == std::nullopt);
  CHECK(route_for_sender(hosts, "") == std::nullopt);  // a bounce with no default: refused
  CHECK(route_for_sender(hosts, "a@sub.firma.de") == std::nullopt);
}

TEST_CASE("routing: no smarthosts at all", "[routing]") {
  CHECK(route_for_sender({}, "a@firma.de") == std::nullopt);
  CHECK(route_for_sender({}, "") == std::nullopt);
}

TEST_CASE("routing: a default-only smarthost takes everything", "[routing]") {
  const std::vector<Smarthost> hosts{host("only", {}, true)};
  for (const char* s : {"a@firma.de", "", "x@[10.0.0.1]", "jörg@müller.de"}) {
    INFO(s);
    CHECK(route_for_sender(hosts, s) == "only");
  }
}

TEST_CASE("routing: list order decides only between duplicates", "[routing]") {
  // The configuration refuses duplicates; the function still answers deterministically.
  const std::vector<Smarthost> hosts{
      host("first", {domain("firma.de")}, true),
      host("second", {domain("firma.de"), exact("a", "firma.de")}, true)};
  CHECK(route_for_sender(hosts, "b@firma.de") == "first");
  CHECK(route_for_sender(hosts, "a@firma.de") == "second");  // exact still beats domain
  CHECK(route_for_sender(hosts, "b@x.de") == "first");       // first default
}

TEST_CASE("routing: patterns as written in the configuration file", "[routing]") {
  // Upper case and IDN in the file; the loader normalises, the router matches.
  std::string tmpl = (std::filesystem::temp_directory_path() / "pb-route-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()));
  std::filesystem::path dir = tmpl;
  ::setenv("PB_ROUTE_TEST_PW", "x", 1);
  std::ofstream(dir / "postbridge.toml") << R"([[smarthost]]
name = "a"
host = "smtp.example.net"
username = "u"
password_env = "PB_ROUTE_TEST_PW"
senders = ["Chef@Firma.DE", "*@Müller.DE"]

[[smarthost]]
name = "b"
host = "smtp.example.org"
username = "u"
password_env = "PB_ROUTE_TEST_PW"
senders = ["*@FIRMA.de"]
default = true
)";
  auto cfg = pb::config::load(dir / "postbridge.toml");
  std::filesystem::remove_all(dir);
  CHECK(route_for_sender(cfg.smarthosts, "chef@firma.de") == "a");
  CHECK(route_for_sender(cfg.smarthosts, "CHEF@FIRMA.DE") == "a");
  CHECK(route_for_sender(cfg.smarthosts, "info@firma.de") == "b");
  CHECK(route_for_sender(cfg.smarthosts, "jörg@müller.de") == "a");
  CHECK(route_for_sender(cfg.smarthosts, "") == "b");
}

TEST_CASE("routing: a relay login's senders limit whom it may send as", "[routing]") {
  using pb::config::SenderPattern;
  using pb::routing::sender_allowed;
  const std::vector<SenderPattern> scanner{{"scanner", "firma.de"}, {"", "scans.firma.de"}};
  CHECK(sender_allowed({}, "boss@firma.de"));  // no list: any sender
  CHECK(sender_allowed(scanner, "scanner@firma.de"));
  CHECK(sender_allowed(scanner, "Scanner@FIRMA.de"));
  CHECK(sender_allowed(scanner, "floor2@scans.firma.de"));
  CHECK(sender_allowed(scanner, ""));  // its own DSN
  CHECK_FALSE(sender_allowed(scanner, "boss@firma.de"));
  CHECK_FALSE(sender_allowed(scanner, "scanner@firma.de.evil.example"));
  CHECK_FALSE(sender_allowed(scanner, "scanner"));
  CHECK_FALSE(sender_allowed(scanner, "x@sub.scans.firma.de"));
}
