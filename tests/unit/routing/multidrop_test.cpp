// The multidrop routing table: header sets as providers and senders really write them -> the local
// recipients each message must reach (exactly those, each once), where the decision came from,
// and whether it is held as a loop. The same table drives the Dovecot integration test's
// expectations in spirit (tests/integration/test_multidrop.sh uses a subset as real mail).
#include "routing/multidrop.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "mail/headers.hpp"

using pb::config::Multidrop;
using pb::config::MultidropRule;
using pb::routing::route_multidrop;

namespace {

constexpr const char* kHost = "gw.firma.local";

// The gateway's loop key (the service keeps its own in STATE_DIR/loop.key).
const pb::routing::LoopMarker kMarker(pb::routing::LoopMarker::Key{1, 2, 3, 4, 5, 6, 7, 8, 9});
std::string mark() { return "mark=" + kMarker.make(kHost); }
// One of our Received: stamps, as fetcher and listener write them.
std::string stamp(const std::string& with, int id) {
  return "Received: from office by gw.firma.local (postbridge " + mark() + ") with " + with + " id " +
         std::to_string(id) + "; Tue, 1 Dec 2026 08:0" + std::to_string(id) + ":00 +0100\n";
}

// The example configuration, as the loader stores it (comparable forms).
Multidrop office() {
  Multidrop md;
  md.domains = {"firma.de", "xn--mller-kva.de"};
  md.rewrite_domain = "firma.local";
  md.map = {MultidropRule{"info@firma.de", {"anna@firma.local", "ben@firma.local"}, 1},
            MultidropRule{"chef@firma.de", {"ceo@firma.local"}, 2}};
  md.default_recipient = "postmaster@firma.local";
  return md;
}

// Header text with "\n" line ends (continuations start with a space or tab) -> fields.
pb::routing::HeaderFields fields_of(const std::string& head) {
  pb::mail::HeaderCollector h;
  std::size_t start = 0;
  while (start <= head.size()) {
    std::size_t nl = head.find('\n', start);
    if (nl == std::string::npos) nl = head.size();
    h.feed_line(std::string_view(head).substr(start, nl - start));
    start = nl + 1;
  }
  h.feed_line("");
  return h.fields();
}

struct Case {
  const char* name;
  std::string head;
  std::vector<std::string> want;  // local recipients, any order, each exactly once
  std::string source;             // "" = default_recipient
  bool held = false;
};

const std::string kProviderTrace =
    "Received: from mx01.provider.example (mx01.provider.example [192.0.2.10])\n"
    "\tby mailin.provider.example (Postfix) with ESMTPS id 4Xk9\n"
    "\tfor <info@firma.de>; Tue, 1 Dec 2026 08:00:00 +0100\n";
const std::string kSenderPart =
    "From: Kunde <kunde@example.com>\nSubject: Angebot\nMessage-ID: <m1@example.com>\n";

const std::vector<Case> kTable = {
    // --- the provider's envelope header names the real recipient, Bcc included ---------------
    {"Bcc recipient via Delivered-To (To names someone else)",
     "Delivered-To: anna@firma.de\n" + kProviderTrace + kSenderPart + "To: info@firma.de\n", {"anna@firma.local"},
     "Delivered-To"},
    {"Bcc recipient while To names only other domains",
     "Delivered-To: ben@firma.de\n" + kSenderPart + "To: kunde2@example.org\nCc: chef@example.net\n",
     {"ben@firma.local"}, "Delivered-To"},
    {"mapped address fans out to two users", "Delivered-To: info@firma.de\n" + kSenderPart + "To: info@firma.de\n",
     {"anna@firma.local", "ben@firma.local"}, "Delivered-To"},
    {"mapped address to one user", "Delivered-To: chef@firma.de\n" + kSenderPart, {"ceo@firma.local"}, "Delivered-To"},
    {"forwarding chain: only the topmost Delivered-To counts",
     "Delivered-To: anna@firma.de\n" + kProviderTrace + "Delivered-To: old.anna@gmx.example\n" +
         "Received: from mx.gmx.example by gmx.example; Tue, 1 Dec 2026 07:59:00 +0100\n" + kSenderPart +
         "To: old.anna@gmx.example\n",
     {"anna@firma.local"}, "Delivered-To"},
    {"forwarding chain inside our domain: the final hop wins",
     "Delivered-To: ben@firma.de\n" + kProviderTrace + "Delivered-To: chef@firma.de\n" + kProviderTrace + kSenderPart,
     {"ben@firma.local"}, "Delivered-To"},
    {"forged Delivered-To below the provider's is ignored",
     "Delivered-To: info@firma.de\n" + kProviderTrace + "Delivered-To: chef@firma.de\n" + kSenderPart +
         "To: info@firma.de\n",
     {"anna@firma.local", "ben@firma.local"}, "Delivered-To"},
    {"Delivered-To in upper case", "Delivered-To: ANNA@FIRMA.DE\n" + kSenderPart, {"anna@firma.local"},
     "Delivered-To"},
    {"Delivered-To in mixed case, header name in upper case", "DELIVERED-TO: Anna@Firma.De\n" + kSenderPart,
     {"anna@firma.local"}, "Delivered-To"},
    {"header name in lower case, no space after the colon", "delivered-to:ben@firma.de\n" + kSenderPart,
     {"ben@firma.local"}, "Delivered-To"},
    {"Delivered-To with a display name and brackets", "Delivered-To: \"Anna\" <anna@firma.de>\n" + kSenderPart,
     {"anna@firma.local"}, "Delivered-To"},
    {"IDN domain in UTF-8", "Delivered-To: jörg@müller.de\n" + kSenderPart, {"jörg@firma.local"}, "Delivered-To"},
    {"IDN domain as A-label", "Delivered-To: joerg@xn--mller-kva.de\n" + kSenderPart, {"joerg@firma.local"},
     "Delivered-To"},
    {"IDN domain in upper-case UTF-8", "Delivered-To: lisa@MÜLLER.DE\n" + kSenderPart, {"lisa@firma.local"},
     "Delivered-To"},
    {"provider-internal Delivered-To, recipient in X-Original-To",
     "Delivered-To: catchall-4711@mailbox.provider.example\nX-Original-To: ben@firma.de\n" + kSenderPart +
         "To: info@firma.de\n",
     {"ben@firma.local"}, "X-Original-To"},
    {"Exim Envelope-To with two recipients", "Envelope-To: anna@firma.de, ben@firma.de\n" + kSenderPart,
     {"anna@firma.local", "ben@firma.local"}, "Envelope-To"},
    {"X-Envelope-To in angle brackets", "X-Envelope-To: <chef@firma.de>\n" + kSenderPart, {"ceo@firma.local"},
     "X-Envelope-To"},
    {"X-Rcpt-To", "X-Rcpt-To: anna@firma.de\n" + kSenderPart, {"anna@firma.local"}, "X-Rcpt-To"},
    {"mailing-list mail: the list is in To, the member in Delivered-To",
     "Delivered-To: anna@firma.de\n" + kProviderTrace +
         "List-Id: <team.lists.example.org>\nList-Unsubscribe: <mailto:leave@lists.example.org>\n" + kSenderPart +
         "To: team@lists.example.org\nSender: team-bounces@lists.example.org\n",
     {"anna@firma.local"}, "Delivered-To"},
    {"one copy even when Delivered-To and To name the same user",
     "Delivered-To: info@firma.de\n" + kSenderPart + "To: anna@firma.de, info@firma.de\nCc: ben@firma.de\n",
     {"anna@firma.local", "ben@firma.local"}, "Delivered-To"},
    {"envelope header names only other domains: default, not To",
     "Delivered-To: someone@other.example\n" + kSenderPart + "To: anna@firma.de\n", {"postmaster@firma.local"}, ""},
    {"garbage in Delivered-To: default, To is not trusted instead",
     "Delivered-To: not an address at all\n" + kSenderPart + "To: anna@firma.de\n", {"postmaster@firma.local"}, ""},
    {"empty Delivered-To", "Delivered-To: \n" + kSenderPart + "To: anna@firma.de\n", {"postmaster@firma.local"}, ""},
    {"a subdomain is not ours", "Delivered-To: anna@sub.firma.de\n" + kSenderPart, {"postmaster@firma.local"}, ""},
    {"a look-alike domain is not ours", "Delivered-To: anna@firma.de.evil.example\n" + kSenderPart,
     {"postmaster@firma.local"}, ""},
    {"an address literal is not ours", "Delivered-To: anna@[192.0.2.1]\n" + kSenderPart, {"postmaster@firma.local"},
     ""},

    // --- no envelope header: Received "for", then To/Cc -----------------------------------------
    {"Received for <addr> beats To",
     "Received: from a.example by mx.provider.example with ESMTP id 1 for <ben@firma.de>; Tue, 1 Dec 2026 08:00:00 "
     "+0100\n" +
         kSenderPart + "To: info@firma.de\n",
     {"ben@firma.local"}, "Received"},
    {"Received for, folded, with comments (Postfix style)",
     "Received: from mail.example.com (mail.example.com [198.51.100.7])\n\t(using TLSv1.3 with cipher "
     "TLS_AES_256_GCM_SHA384 (256/256 bits))\n\tby mx.provider.example (Postfix) with ESMTPS id 4Xk9\n\tfor "
     "<anna@firma.de>; Tue, 1 Dec 2026 08:00:00 +0100\n" +
         kSenderPart,
     {"anna@firma.local"}, "Received"},
    {"Received for without brackets (Exim style)",
     "Received: from a.example ([198.51.100.7]) by mx.provider.example with esmtps id 1kX for chef@firma.de; Tue, "
     "1 Dec 2026 08:00:00 +0100\n" +
         kSenderPart,
     {"ceo@firma.local"}, "Received"},
    {"Received for another domain is passed over, a lower one names ours",
     "Received: by mx2.provider.example for <x@gmx.example>; Tue, 1 Dec 2026 08:00:00 +0100\n"
     "Received: by mx1.provider.example for <anna@firma.de>; Tue, 1 Dec 2026 07:59:00 +0100\n" +
         kSenderPart + "To: ben@firma.de\n",
     {"anna@firma.local"}, "Received"},
    {"Received for multiple recipients names nobody: To/Cc",
     "Received: from a by mx.provider.example for multiple recipients; Tue, 1 Dec 2026 08:00:00 +0100\n" +
         kSenderPart + "To: anna@firma.de\nCc: ben@firma.de\n",
     {"anna@firma.local", "ben@firma.local"}, "To/Cc"},
    {"To and Cc, foreign addresses never delivered",
     kSenderPart + "To: anna@firma.de, kunde@example.com\nCc: partner@example.org, ben@firma.de\n",
     {"anna@firma.local", "ben@firma.local"}, "To/Cc"},
    {"quoted display name with a comma", kSenderPart + "To: \"Schmidt, Anna\" <anna@firma.de>, Kunde <k@example.com>\n",
     {"anna@firma.local"}, "To/Cc"},
    {"unquoted comma in a display name", kSenderPart + "To: Schmidt, Anna <anna@firma.de>\n", {"anna@firma.local"},
     "To/Cc"},
    {"group syntax", kSenderPart + "To: Team: anna@firma.de, ben@firma.de;, kunde@example.com\n",
     {"anna@firma.local", "ben@firma.local"}, "To/Cc"},
    {"empty group (undisclosed recipients): default", kSenderPart + "To: undisclosed-recipients:;\n",
     {"postmaster@firma.local"}, ""},
    {"encoded-word display name", kSenderPart + "To: =?UTF-8?Q?M=C3=BCller=2C_J=C3=B6rg?= <joerg@firma.de>\n",
     {"joerg@firma.local"}, "To/Cc"},
    {"encoded word with raw specials inside", kSenderPart + "To: =?utf-8?q?Anna,Ben@firma?= <anna@firma.de>\n",
     {"anna@firma.local"}, "To/Cc"},
    {"base64 encoded word and UTF-8 display name",
     kSenderPart + "To: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@firma.de>, Jörg Müller <lisa@firma.de>\n",
     {"joerg@firma.local", "lisa@firma.local"}, "To/Cc"},
    {"comments around and inside addresses", kSenderPart + "To: anna@firma.de (Anna Schmidt), ben(Ben)@firma.de\n",
     {"anna@firma.local", "ben@firma.local"}, "To/Cc"},
    {"quoted local part", kSenderPart + "To: \"anna.schmidt\"@firma.de, \"john doe\"@firma.de\n",
     {"anna.schmidt@firma.local", "\"john doe\"@firma.local"}, "To/Cc"},
    {"folded To over three lines", kSenderPart + "To: anna@firma.de,\n\tben@firma.de,\n  chef@firma.de\n",
     {"anna@firma.local", "ben@firma.local", "ceo@firma.local"}, "To/Cc"},
    {"upper/lower case repeats give one copy", kSenderPart + "To: anna@firma.de, ANNA@firma.de\nCc: Anna@FIRMA.de\n",
     {"anna@firma.local"}, "To/Cc"},
    {"map target also named directly: one copy", kSenderPart + "To: info@firma.de, anna@firma.de\n",
     {"anna@firma.local", "ben@firma.local"}, "To/Cc"},
    {"Resent-To of a forwarded message", kSenderPart + "To: kunde@example.com\nResent-To: ben@firma.de\n",
     {"ben@firma.local"}, "To/Cc"},
    {"obsolete route address", kSenderPart + "To: <@relay.example:anna@firma.de>\n", {"anna@firma.local"}, "To/Cc"},
    {"missing closing bracket", kSenderPart + "To: Anna <anna@firma.de\n", {"anna@firma.local"}, "To/Cc"},
    {"name and address without brackets", kSenderPart + "To: Anna Schmidt anna@firma.de\n", {"anna@firma.local"},
     "To/Cc"},
    {"address used as its own display name", kSenderPart + "To: anna@firma.de <anna@firma.de>\n",
     {"anna@firma.local"}, "To/Cc"},
    {"Bcc header is not a source", kSenderPart + "To: kunde@example.com\nBcc: anna@firma.de\n",
     {"postmaster@firma.local"}, ""},
    {"mailing-list mail without an envelope header: default", kSenderPart + "To: team@lists.example.org\n",
     {"postmaster@firma.local"}, ""},
    {"no recipient header at all", kSenderPart, {"postmaster@firma.local"}, ""},
    {"garbage recipient headers", kSenderPart + "To: <<<>>> ;;; @@ ,,, \"unclosed\nCc: (unclosed comment\n",
     {"postmaster@firma.local"}, ""},
    {"control bytes and stray specials", kSenderPart + std::string("To: \x01\x02 ) ] \\ \x7f\n"),
     {"postmaster@firma.local"}, ""},

    // --- loops -------------------------------------------------------------------------------------
    {"our loop header: held, recipients kept for a release",
     "Delivered-To: anna@firma.de\n" + kProviderTrace + "X-Postbridge-Loop: gw.firma.local " + mark() + "\n" +
         kSenderPart,
     {"anna@firma.local"}, "Delivered-To", true},
    {"three of our Received stamps: held",
     "Delivered-To: anna@firma.de\n" + stamp("ESMTP", 3) +
         "Received: from pop.provider.example\n\tby GW.firma.local (postbridge\n\t" + mark() +
         ") with POP3S id 2; Tue, 1 Dec 2026 08:02:00 +0100\n" + stamp("ESMTP", 1) + kSenderPart,
     {"anna@firma.local"}, "Delivered-To", true},
    {"two of our stamps are within loop_limit",
     "Delivered-To: anna@firma.de\n" + stamp("ESMTP", 3) + stamp("ESMTP", 1) + kSenderPart,
     {"anna@firma.local"}, "Delivered-To"},
    {"a forged loop header and unmarked stamps with our name: delivered",
     "Delivered-To: anna@firma.de\nX-Postbridge-Loop: gw.firma.local\n"
     "Received: from office by gw.firma.local (postbridge) with ESMTP id 3; Tue, 1 Dec 2026 08:03:00 +0100\n"
     "Received: from office by gw.firma.local (postbridge) with ESMTP id 2; Tue, 1 Dec 2026 08:02:00 +0100\n"
     "Received: from office by gw.firma.local (postbridge) with ESMTP id 1; Tue, 1 Dec 2026 08:01:00 +0100\n" +
         kSenderPart,
     {"anna@firma.local"}, "Delivered-To"},
    {"another postbridge's stamps and loop header are not ours",
     "Delivered-To: anna@firma.de\nX-Postbridge-Loop: gw.other.example\n"
     "Received: by gw.other.example (postbridge) with ESMTP id 3; Tue, 1 Dec 2026 08:03:00 +0100\n"
     "Received: by gw.other.example (postbridge) with ESMTP id 2; Tue, 1 Dec 2026 08:02:00 +0100\n"
     "Received: by gw.other.example (postbridge) with ESMTP id 1; Tue, 1 Dec 2026 08:01:00 +0100\n" +
         kSenderPart,
     {"anna@firma.local"}, "Delivered-To"},
};

std::multiset<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("multidrop: the routing table", "[multidrop]") {
  REQUIRE(kTable.size() >= 40);
  const Multidrop md = office();
  for (const Case& c : kTable) {
    INFO(c.name);
    auto d = route_multidrop(md, fields_of(c.head), kHost, &kMarker);
    INFO(d.summary());
    CHECK(as_set(d.addresses()) == as_set(c.want));
    CHECK(d.source == c.source);
    CHECK(d.held.empty() == !c.held);
    for (const auto& r : d.recipients) CHECK_FALSE(r.reason.empty());
  }
}

TEST_CASE("multidrop: reasons name the header and the original address", "[multidrop]") {
  auto d = route_multidrop(office(), fields_of("Delivered-To: info@firma.de\nTo: x@example.com\n"), kHost, &kMarker);
  REQUIRE(d.recipients.size() == 2);
  CHECK(d.recipients[0].reason == "via Delivered-To (info@firma.de, map)");
  CHECK(d.summary().find("anna@firma.local via Delivered-To (info@firma.de, map)") == 0);

  d = route_multidrop(office(), fields_of("To: Anna <ANNA@firma.de>, kunde@example.com\n"), kHost, &kMarker);
  REQUIRE(d.recipients.size() == 1);
  CHECK(d.recipients[0].reason == "via To (ANNA@firma.de)");
  CHECK(d.summary().find("kunde@example.com in To is not in our domains: not delivered") != std::string::npos);

  d = route_multidrop(office(), fields_of("Subject: x\n"), kHost, &kMarker);
  CHECK(d.recipients.at(0).reason ==
        "default_recipient: no envelope header, and no address of firma.de, müller.de in Received: for, To or Cc");
}

TEST_CASE("multidrop: without rewrite_domain the address is delivered as written, normalised", "[multidrop]") {
  Multidrop md = office();
  md.rewrite_domain.clear();
  auto d = route_multidrop(md, fields_of("Delivered-To: Anna@Firma.DE\n"), kHost, &kMarker);
  CHECK(d.addresses() == std::vector<std::string>{"anna@firma.de"});
  d = route_multidrop(md, fields_of("Delivered-To: jörg@Müller.de\n"), kHost, &kMarker);
  CHECK(d.addresses() == std::vector<std::string>{"jörg@xn--mller-kva.de"});
  d = route_multidrop(md, fields_of("Delivered-To: info@firma.de\n"), kHost, &kMarker);  // the map still applies
  CHECK(as_set(d.addresses()) == as_set({"anna@firma.local", "ben@firma.local"}));
}

TEST_CASE("multidrop: a percent hack or bang path of our domain never reaches the office server", "[multidrop]") {
  // The office server (Postfix: allow_percent_hack, swap_bangpath) would send these on to
  // target.example, relaying for anyone who writes them into the envelope.
  for (const char* rcpt : {"victim%target.example@firma.de", "target.example!victim@firma.de",
                           "\"victim@target.example\"@firma.de", "a%b%target.example@firma.de"}) {
    for (bool rewrite : {true, false}) {
      Multidrop md = office();
      if (!rewrite) md.rewrite_domain.clear();
      INFO(rcpt << (rewrite ? " with rewrite_domain" : " as written"));
      auto d = route_multidrop(md, fields_of(std::string("Delivered-To: ") + rcpt + "\nTo: anna@firma.de\n"), kHost, &kMarker);
      INFO(d.summary());
      CHECK(d.addresses() == std::vector<std::string>{"postmaster@firma.local"});
      CHECK(d.recipients.at(0).reason.find("not delivered as written") != std::string::npos);
      CHECK(d.summary().find("percent hack") != std::string::npos);
    }
  }
  // The same address in To/Cc (no envelope header) is kept back as well.
  auto d = route_multidrop(office(), fields_of("To: victim%target.example@firma.de\n"), kHost, &kMarker);
  CHECK(d.addresses() == std::vector<std::string>{"postmaster@firma.local"});
  // Next to a plain address of ours, only the plain one is delivered.
  d = route_multidrop(office(), fields_of("To: victim%target.example@firma.de, ben@firma.de\n"), kHost, &kMarker);
  CHECK(d.addresses() == std::vector<std::string>{"ben@firma.local"});
  // An explicit map entry names its own targets, so it still applies.
  Multidrop md = office();
  md.map.push_back(pb::config::MultidropRule{"sales%eu@firma.de", {"sales@firma.local"}, 3});
  d = route_multidrop(md, fields_of("Delivered-To: sales%eu@firma.de\n"), kHost, &kMarker);
  CHECK(d.addresses() == std::vector<std::string>{"sales@firma.local"});
}

TEST_CASE("multidrop: an empty envelope_headers list goes straight to Received and To/Cc", "[multidrop]") {
  Multidrop md = office();
  md.envelope_headers.clear();
  auto d = route_multidrop(md, fields_of("Delivered-To: anna@firma.de\nTo: ben@firma.de\n"), kHost, &kMarker);
  CHECK(d.addresses() == std::vector<std::string>{"ben@firma.local"});
  CHECK(d.source == "To/Cc");
}

TEST_CASE("multidrop: envelope_headers order decides", "[multidrop]") {
  Multidrop md = office();
  md.envelope_headers = {"X-Original-To", "Delivered-To"};
  auto d = route_multidrop(md, fields_of("Delivered-To: anna@firma.de\nX-Original-To: ben@firma.de\n"), kHost, &kMarker);
  CHECK(d.addresses() == std::vector<std::string>{"ben@firma.local"});
  CHECK(d.source == "X-Original-To");
}

TEST_CASE("multidrop: loop_limit is configurable", "[multidrop]") {
  Multidrop md = office();
  md.loop_limit = 1;
  auto d = route_multidrop(md, fields_of("Delivered-To: anna@firma.de\n" + stamp("ESMTP", 1)), kHost, &kMarker);
  CHECK(d.held.empty());
  d = route_multidrop(md, fields_of("Delivered-To: anna@firma.de\n" + stamp("ESMTP", 2) + stamp("POP3S", 1)), kHost,
                      &kMarker);
  CHECK(d.held.find("passed this postbridge (gw.firma.local) 2 times") != std::string::npos);
  CHECK(d.summary().find("held: mail loop") == 0);
}

TEST_CASE("multidrop: loop marks: only our key, our host name and distinct stamps count", "[multidrop]") {
  using pb::routing::LoopMarker;
  const LoopMarker other(LoopMarker::Key{9, 9, 9});
  const std::string forged = "X-Postbridge-Loop: gw.firma.local mark=" + other.make(kHost) + "\n";
  auto d = route_multidrop(office(), fields_of("Delivered-To: anna@firma.de\n" + forged), kHost, &kMarker);
  CHECK(d.held.empty());
  CHECK(d.summary().find("without a valid mark: ignored") != std::string::npos);
  // A mark made for another host name does not pass for ours.
  d = route_multidrop(office(),
                      fields_of("Delivered-To: anna@firma.de\nX-Postbridge-Loop: gw.firma.local mark=" +
                                kMarker.make("gw.other.example") + "\n"),
                      kHost, &kMarker);
  CHECK(d.held.empty());
  // One real stamp copied three times is one stamp: a sender who got one of our messages cannot
  // make a loop of it.
  const std::string one = stamp("ESMTP", 1);
  d = route_multidrop(office(), fields_of("Delivered-To: anna@firma.de\n" + one + one + one), kHost, &kMarker);
  CHECK(d.held.empty());
  // A damaged mark fails; so does everything without a marker (no key: nothing is a loop).
  std::string damaged = "X-Postbridge-Loop: gw.firma.local " + mark();
  damaged[damaged.size() - 3] = damaged[damaged.size() - 3] == 'A' ? 'B' : 'A';
  d = route_multidrop(office(), fields_of("Delivered-To: anna@firma.de\n" + damaged + "\n"), kHost, &kMarker);
  CHECK(d.held.empty());
  const std::string real = "X-Postbridge-Loop: gw.firma.local " + mark() + "\n";
  CHECK_FALSE(route_multidrop(office(), fields_of("Delivered-To: anna@firma.de\n" + real), kHost, &kMarker).held.empty());
  CHECK(route_multidrop(office(), fields_of("Delivered-To: anna@firma.de\n" + real), kHost, nullptr).held.empty());
}

TEST_CASE("multidrop: a header bomb costs bounded work and still routes", "[multidrop]") {
  std::string to = "To: ";
  for (int i = 0; i < 5000; ++i) to += "user" + std::to_string(i) + "@spam.example, ";
  to += "anna@firma.de\n";
  auto d = route_multidrop(office(), fields_of("Delivered-To: ben@firma.de\n" + to), kHost, &kMarker);
  CHECK(d.addresses() == std::vector<std::string>{"ben@firma.local"});
  d = route_multidrop(office(), fields_of(to), kHost, &kMarker);  // ours is past the 1,000-address cap
  CHECK(d.addresses() == std::vector<std::string>{"postmaster@firma.local"});
  CHECK(d.notes.size() <= 21);
}
