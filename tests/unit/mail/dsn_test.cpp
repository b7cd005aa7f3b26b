// DSN tests: every report is parsed back with a small MIME splitter written here (headers,
// boundary, three parts, quoted-printable) and checked field by field: RFC 3464 fields, folding
// of multi-line diagnostics, CRLF everywhere, 7-bit, lines <= 998, the original headers intact,
// no header injection; plus is_bounce().
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mail/dsn.hpp"
#include "mail/headers.hpp"

using namespace pb::mail;

namespace {

// ---------------------------------------------------------------------------------------------
// A minimal MIME reader, independent of the builder.

struct Entity {
  std::vector<std::pair<std::string, std::string>> fields;  // name (lower case), unfolded value
  std::string raw_head;
  std::string body;
  std::string get(const std::string& name) const {
    for (const auto& [n, v] : fields)
      if (n == name) return v;
    return {};
  }
  int count(const std::string& name) const {
    int n = 0;
    for (const auto& f : fields) n += f.first == name ? 1 : 0;
    return n;
  }
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Field blocks (RFC 5322 2.2): unfolding removes CRLF before WSP.
std::vector<std::pair<std::string, std::string>> parse_fields(const std::string& head) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    REQUIRE(eol != std::string::npos);
    std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') {
      REQUIRE_FALSE(out.empty());
      out.back().second += line;
      continue;
    }
    std::size_t colon = line.find(':');
    REQUIRE(colon != std::string::npos);
    out.emplace_back(lower(line.substr(0, colon)), line.substr(colon + 1));
  }
  for (auto& f : out) f.second = trim(f.second);
  return out;
}

Entity parse_entity(const std::string& text) {
  Entity e;
  std::size_t sep = text.find("\r\n\r\n");
  REQUIRE(sep != std::string::npos);
  e.raw_head = text.substr(0, sep + 2);
  e.fields = parse_fields(e.raw_head);
  e.body = text.substr(sep + 4);
  return e;
}

std::string param(const std::string& value, const std::string& name) {
  std::size_t pos = lower(value).find(name + "=");
  REQUIRE(pos != std::string::npos);
  std::string v = value.substr(pos + name.size() + 1);
  if (!v.empty() && v[0] == '"') return v.substr(1, v.find('"', 1) - 1);
  return v.substr(0, v.find_first_of("; \t"));
}

// RFC 2046 5.1.1: parts are between "\r\n--boundary" delimiter lines; "--boundary--" closes.
std::vector<std::string> split_multipart(const std::string& body, const std::string& boundary) {
  const std::string delim = "\r\n--" + boundary;
  std::string b = "\r\n" + body;  // the first delimiter may open the body
  std::vector<std::string> parts;
  std::size_t pos = b.find(delim);
  REQUIRE(pos != std::string::npos);
  while (true) {
    pos += delim.size();
    if (b.compare(pos, 2, "--") == 0) break;
    REQUIRE(b.compare(pos, 2, "\r\n") == 0);
    pos += 2;
    std::size_t next = b.find(delim, pos);
    REQUIRE(next != std::string::npos);
    parts.push_back(b.substr(pos, next - pos));
    pos = next;
  }
  return parts;
}

std::string qp_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out.push_back(s[i]);
      continue;
    }
    if (s.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;
      continue;
    }
    REQUIRE(i + 2 < s.size());
    out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

// message/delivery-status: groups of fields separated by empty lines (RFC 3464 2.1).
std::vector<Entity> status_groups(const std::string& body) {
  std::vector<Entity> groups;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find("\r\n\r\n", pos);
    std::string block = body.substr(pos, end == std::string::npos ? std::string::npos : end + 2 - pos);
    Entity g;
    g.raw_head = block;
    g.fields = parse_fields(block);
    groups.push_back(g);
    if (end == std::string::npos) break;
    pos = end + 4;
  }
  return groups;
}

struct Parsed {
  Entity top;
  std::string boundary;
  std::vector<Entity> parts;
};

// Checks the transport-level promises on the raw message, then splits it. Only a returned 8-bit
// original (eight_bit_ok) may bring 8-bit bytes.
Parsed parse_dsn(const std::string& msg, bool eight_bit_ok = false) {
  for (std::size_t i = 0; i < msg.size(); ++i) {
    auto u = static_cast<unsigned char>(msg[i]);
    INFO("offset " << i);
    if (!eight_bit_ok) REQUIRE(u < 0x80);  // 7-bit
    REQUIRE(u != 0);
    if (u == '\n') REQUIRE((i > 0 && msg[i - 1] == '\r'));
    if (u == '\r') REQUIRE((i + 1 < msg.size() && msg[i + 1] == '\n'));
  }
  std::size_t start = 0;
  while (start < msg.size()) {
    std::size_t eol = msg.find("\r\n", start);
    REQUIRE(eol != std::string::npos);  // ends with CRLF
    REQUIRE(eol - start <= 998);
    start = eol + 2;
  }
  Parsed p;
  p.top = parse_entity(msg);
  std::string ct = p.top.get("content-type");
  REQUIRE(lower(ct).rfind("multipart/report;", 0) == 0);
  CHECK(lower(param(ct, "report-type")) == "delivery-status");
  p.boundary = param(ct, "boundary");
  REQUIRE(!p.boundary.empty());
  for (const std::string& raw : split_multipart(p.top.body, p.boundary)) p.parts.push_back(parse_entity(raw));
  // The boundary appears only as delimiters: once per part, plus the close.
  std::size_t n = 0;
  for (std::size_t at = msg.find(p.boundary); at != std::string::npos; at = msg.find(p.boundary, at + 1)) ++n;
  CHECK(n == p.parts.size() + 2);  // + the Content-Type parameter
  return p;
}

std::string unfolded_field(const Entity& group, const std::string& name) { return group.get(lower(name)); }

const std::string kOriginalHeaders =
    "Received: from pc1.firma.local (pc1 [192.168.1.20])\r\n"
    "\tby mail.firma.local with ESMTP id 4711;\r\n"
    "\tTue, 24 Nov 2026 14:05:00 +0100\r\n"
    "From: \"Anna Schmidt\" <anna@firma.de>\r\n"
    "To: kunde@example.org, nobody@gmail.example\r\n"
    "Subject: =?UTF-8?Q?Angebot_f=C3=BCr_M=C3=BCller?=\r\n"
    "Message-ID: <abc@firma.local>\r\n";

const std::string kGmail3Lines =
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
    "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
    "550 5.1.1 unnecessary spaces. Learn more at https://support.google.com/mail/?p=NoSuchUser";

DsnInput failed_input() {
  DsnInput in;
  in.reporting_mta = "relay.firma.local";
  in.postmaster = "postmaster@firma.de";
  in.to = "anna@firma.de";
  in.envid = "QQ314159";
  in.arrival = 1795525500;
  in.now = 1795525900;
  in.original_headers = kOriginalHeaders + "\r\n";  // with the empty line: tolerated
  in.explanation = "The provider refuses this sender address.\nDer Anbieter lehnt diese Absenderadresse ab.";
  DsnRecipient r1;
  r1.original = "rfc822;nobody+sales@gmail.example";  // ORCPT=rfc822;nobody+2Bsales@... as stored
  r1.final_recipient = "nobody+sales@gmail.example";
  r1.action = "failed";
  r1.status = "5.1.1";
  r1.remote_mta = "smtp.gmail.example";
  r1.diagnostic = kGmail3Lines;
  r1.last_attempt = 1795525890;
  DsnRecipient r2;
  r2.original = "kunde@example.org";
  r2.final_recipient = "kunde@example.org";
  r2.action = "failed";
  r2.status = "";  // derived from the reply: 5.7.1
  r2.remote_mta = "smtp.example.net";
  r2.diagnostic = "554 5.7.1 rejected";
  in.recipients = {r1, r2};
  return in;
}

}  // namespace

TEST_CASE("dsn: a failed report parses back with every required field") {
  DsnInput in = failed_input();
  std::string msg = build_dsn(in);
  Parsed p = parse_dsn(msg);
  const Entity& top = p.top;

  CHECK(top.get("from") == "\"Mail Delivery System\" <postmaster@firma.de>");
  CHECK(top.get("to") == "<anna@firma.de>");
  CHECK(top.get("subject") == "Undelivered Mail Returned to Sender");
  CHECK(top.get("date") == rfc5322_date(in.now));
  CHECK(top.get("mime-version") == "1.0");
  CHECK(top.get("auto-submitted") == "auto-replied");
  std::string mid = top.get("message-id");
  CHECK(mid.front() == '<');
  CHECK(mid.back() == '>');
  CHECK(mid.find("@relay.firma.local>") != std::string::npos);
  for (const char* f : {"from", "to", "subject", "date", "message-id", "mime-version", "content-type", "auto-submitted"})
    CHECK(top.count(f) == 1);

  REQUIRE(p.parts.size() == 3);
  // Part 1: the human-readable text, both languages.
  const Entity& text = p.parts[0];
  CHECK(lower(text.get("content-type")) == "text/plain; charset=utf-8");
  CHECK(lower(text.get("content-transfer-encoding")) == "quoted-printable");
  std::string words = qp_decode(text.body);
  CHECK(words.find("The provider refuses this sender address.\r\nDer Anbieter lehnt diese Absenderadresse ab.") == 0);
  CHECK(words.find("<nobody+sales@gmail.example>: not delivered") != std::string::npos);
  CHECK(words.find("<kunde@example.org>: nicht zugestellt") != std::string::npos);
  CHECK(words.find("The server smtp.gmail.example answered:") != std::string::npos);
  CHECK(words.find("Der Server smtp.gmail.example antwortete:") != std::string::npos);
  CHECK(words.find("    550-5.1.1 double-checking the recipient's email address for typos or\r\n") != std::string::npos);
  CHECK(words.find("Subject of your message: \"Angebot f\xC3\xBCr M\xC3\xBC" "ller\"") != std::string::npos);
  CHECK(words.find("Check it for typing errors") != std::string::npos);        // 5.1.1 advice
  CHECK(words.find("Tippfehler") != std::string::npos);
  CHECK(words.find("Regel des Mail-Anbieters") != std::string::npos);          // 5.7.1 advice (German)
  CHECK(words.find("Empf\xC3\xA4nger") != std::string::npos);                  // UTF-8 survives QP
  for (std::size_t at = 0, nl; (nl = text.body.find("\r\n", at)) != std::string::npos; at = nl + 2)
    CHECK(nl - at <= 76);  // RFC 2045 6.7 (5)

  // Part 2: the delivery status.
  const Entity& ds = p.parts[1];
  CHECK(lower(ds.get("content-type")) == "message/delivery-status");
  std::vector<Entity> groups = status_groups(ds.body);
  REQUIRE(groups.size() == 3);
  CHECK(unfolded_field(groups[0], "Reporting-MTA") == "dns; relay.firma.local");
  CHECK(unfolded_field(groups[0], "Original-Envelope-Id") == "QQ314159");
  CHECK(unfolded_field(groups[0], "Arrival-Date") == rfc5322_date(in.arrival));

  const Entity& g1 = groups[1];
  CHECK(unfolded_field(g1, "Original-Recipient") == "rfc822; nobody+sales@gmail.example");
  CHECK(unfolded_field(g1, "Final-Recipient") == "rfc822; nobody+sales@gmail.example");
  CHECK(unfolded_field(g1, "Action") == "failed");
  CHECK(unfolded_field(g1, "Status") == "5.1.1");
  CHECK(unfolded_field(g1, "Remote-MTA") == "dns; smtp.gmail.example");
  CHECK(unfolded_field(g1, "Last-Attempt-Date") == rfc5322_date(1795525890));
  CHECK(g1.count("will-retry-until") == 0);

  const Entity& g2 = groups[2];
  CHECK(g2.count("original-recipient") == 0);  // same as the final recipient
  CHECK(unfolded_field(g2, "Status") == "5.7.1");
  CHECK(unfolded_field(g2, "Diagnostic-Code") == "smtp; 554 5.7.1 rejected");
  CHECK(g2.count("last-attempt-date") == 0);

  // Part 3: the original headers, byte for byte (7-bit here), without the empty line.
  const Entity& orig = p.parts[2];
  CHECK(lower(orig.get("content-type")) == "text/rfc822-headers");
  CHECK(orig.count("content-transfer-encoding") == 0);
  CHECK(orig.body == kOriginalHeaders);
}

TEST_CASE("dsn: a 3-line diagnostic is folded line by line, each within 78 columns") {
  std::string msg = build_dsn(failed_input());
  Parsed p = parse_dsn(msg);
  std::string body = p.parts[1].body;
  std::size_t start = body.find("Diagnostic-Code:");
  REQUIRE(start != std::string::npos);
  // The raw field: first line plus continuation lines, each starting with white space.
  std::vector<std::string> lines;
  std::size_t pos = start;
  while (true) {
    std::size_t eol = body.find("\r\n", pos);
    lines.push_back(body.substr(pos, eol - pos));
    pos = eol + 2;
    if (pos >= body.size() || (body[pos] != ' ' && body[pos] != '\t')) break;
  }
  REQUIRE(lines.size() >= 3);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i].size() <= 78);
    if (i > 0) CHECK((lines[i][0] == ' ' || lines[i][0] == '\t'));
    CHECK(trim(lines[i]).size() > 0);  // no whitespace-only line (RFC 5322 3.2.2)
  }
  // Each reply line starts its own physical line.
  int starts = 0;
  for (const std::string& l : lines) starts += (l.find(" 550-5.1.1 ") == 0 || l.find(" 550 5.1.1 ") == 0) ? 1 : 0;
  CHECK(starts == 2);
  CHECK(lines[0].rfind("Diagnostic-Code: smtp; 550-5.1.1 The email account", 0) == 0);
  // Unfolded, it is the reply with its line breaks as single spaces.
  Entity g = status_groups(body)[1];
  CHECK(unfolded_field(g, "Diagnostic-Code") ==
        "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "550-5.1.1 double-checking the recipient's email address for typos or "
        "550 5.1.1 unnecessary spaces. Learn more at https://support.google.com/mail/?p=NoSuchUser");
}

TEST_CASE("dsn: delayed report") {
  DsnInput in = failed_input();
  in.recipients.resize(1);
  in.recipients[0].action = "delayed";
  in.recipients[0].status = "4.4.1";
  in.recipients[0].diagnostic = "connect to smtp.example.net:25: Connection refused";
  in.recipients[0].will_retry_until = in.arrival + 5 * 86400;
  in.explanation.clear();
  Parsed p = parse_dsn(build_dsn(in));
  CHECK(p.top.get("subject") == "Delayed Mail (still being retried)");
  std::vector<Entity> groups = status_groups(p.parts[1].body);
  REQUIRE(groups.size() == 2);
  CHECK(unfolded_field(groups[1], "Action") == "delayed");
  CHECK(unfolded_field(groups[1], "Status") == "4.4.1");
  CHECK(unfolded_field(groups[1], "Will-Retry-Until") == rfc5322_date(in.arrival + 5 * 86400));
  CHECK(unfolded_field(groups[1], "Diagnostic-Code") == "X-Postbridge; connect to smtp.example.net:25: Connection refused");
  std::string words = qp_decode(p.parts[0].body);
  CHECK(words.rfind("This is the mail system at relay.firma.local.", 0) == 0);
  CHECK(words.find("Nothing is lost") != std::string::npos);
  CHECK(words.find("Retried until: " + rfc5322_date(in.arrival + 5 * 86400)) != std::string::npos);
  CHECK(words.find("verz\xC3\xB6gert") != std::string::npos);

  // Invalid or missing status: from the reply's enhanced code with the action's class, else X.0.0.
  in.recipients[0].status = "4.1";
  CHECK(unfolded_field(status_groups(parse_dsn(build_dsn(in)).parts[1].body)[1], "Status") == "4.0.0");
  in.recipients[0].diagnostic = "451 4.7.1 rate limited";
  CHECK(unfolded_field(status_groups(parse_dsn(build_dsn(in)).parts[1].body)[1], "Status") == "4.7.1");
  in.recipients[0].action = "failed";  // expired after temporary errors: a 5.x.x failure
  CHECK(unfolded_field(status_groups(parse_dsn(build_dsn(in)).parts[1].body)[1], "Status") == "5.7.1");
  in.recipients[0].diagnostic = kGmail3Lines;  // "550-5.1.1 ..." first line of a multi-line reply
  CHECK(unfolded_field(status_groups(parse_dsn(build_dsn(in)).parts[1].body)[1], "Status") == "5.1.1");
  in.recipients[0].action = "delayed";
  in.recipients[0].diagnostic = "connect to smtp.example.net:25: Connection refused";
  // One failed recipient among delayed ones makes it an undelivered report.
  DsnRecipient f = in.recipients[0];
  f.action = "failed";
  f.status = "";
  in.recipients.push_back(f);
  Parsed q = parse_dsn(build_dsn(in));
  CHECK(q.top.get("subject") == "Undelivered Mail Returned to Sender");
  CHECK(unfolded_field(status_groups(q.parts[1].body)[2], "Status") == "5.0.0");
}

TEST_CASE("dsn: a report to the postmaster speaks to the postmaster, not to a sender") {
  DsnInput in = failed_input();
  in.to_postmaster = true;
  in.recipients.resize(1);
  in.recipients[0].status = "5.1.1";
  in.recipients[0].diagnostic = "550 5.1.1 <nobody@firma.local> User doesn't exist";
  std::string words = qp_decode(parse_dsn(build_dsn(in)).parts[0].body);
  CHECK(words.find("A message could not be delivered to the recipients below.") != std::string::npos);
  CHECK(words.find("Subject of the message: ") != std::string::npos);
  CHECK(words.find("What to do: The receiving server does not know this address. Create the mailbox or an "
                   "alias there") != std::string::npos);
  CHECK(words.find("Eine Nachricht konnte") != std::string::npos);
  CHECK(words.find("Your message") == std::string::npos);
  CHECK(words.find("your message") == std::string::npos);
  CHECK(words.find("Please check the address") == std::string::npos);
  CHECK(words.find("Ihre Nachricht") == std::string::npos);

  SECTION("and a delayed one tells the postmaster there is nothing to do yet") {
    in.recipients[0].action = "delayed";
    in.recipients[0].status = "4.4.1";
    std::string delayed = qp_decode(parse_dsn(build_dsn(in)).parts[0].body);
    CHECK(delayed.find("A message has not been delivered yet") != std::string::npos);
    CHECK(delayed.find("What to do: Nothing yet: delivery is retried automatically.") != std::string::npos);
    CHECK(delayed.find("You will get another message") == std::string::npos);
  }
}

TEST_CASE("dsn: 8-bit input stays 8-bit safe") {
  DsnInput in = failed_input();
  std::string headers8 = "From: \"J\xC3\xBCrgen\" <j@firma.de>\r\nSubject: Gr\xFC\xDF" "e (latin-1)\r\n";
  in.original_headers = headers8;
  in.recipients[0].final_recipient = "j\xC3\xBCrgen@b\xC3\xBC" "ro.example";
  in.recipients[0].original = "";
  in.recipients[0].diagnostic = std::string("550 5.1.1 Empf\xC3\xA4nger unbekannt\0 ok", 34);
  in.explanation = "Zustellung fehlgeschlagen: \xC3\xA4\xC3\xB6\xC3\xBC\xE2\x82\xAC, broken \xFF byte";
  std::string msg = build_dsn(in);
  Parsed p = parse_dsn(msg);  // checks 7-bit, CRLF, <= 998
  REQUIRE(p.parts.size() == 3);
  // Original headers: quoted-printable, decoded byte for byte.
  CHECK(lower(p.parts[2].get("content-transfer-encoding")) == "quoted-printable");
  CHECK(qp_decode(p.parts[2].body) == headers8);
  // RFC 6533 utf-8 address type in the 7-bit report; HEXPOINT has no leading zeros.
  Entity g1 = status_groups(p.parts[1].body)[1];
  CHECK(unfolded_field(g1, "Final-Recipient") == "utf-8; j\\x{FC}rgen@b\\x{FC}ro.example");
  CHECK(unfolded_field(g1, "Diagnostic-Code") == "smtp; 550 5.1.1 Empf\\xC3\\xA4nger unbekannt ok");
  // The text part is valid UTF-8: good sequences kept, the stray byte replaced.
  std::string words = qp_decode(p.parts[0].body);
  CHECK(words.find("\xC3\xA4\xC3\xB6\xC3\xBC\xE2\x82\xAC, broken \xEF\xBF\xBD byte") != std::string::npos);
  CHECK(words.find("Empf\xC3\xA4nger unbekannt") != std::string::npos);
  CHECK(words.find('\0') == std::string::npos);
}

// Found by tests/fuzz/dsn_received (regressions/dsn_received/orcpt-8bit-type): the address type
// of an ORCPT was copied with its 8-bit bytes into the 7-bit delivery-status part.
TEST_CASE("dsn: an 8-bit ORCPT address type is shown 7-bit") {
  DsnInput in = failed_input();
  in.recipients[0].original = "rfc\xFF" "822;bob@office.test";
  Parsed p = parse_dsn(build_dsn(in));  // checks 7-bit, CRLF, <= 998
  Entity g1 = status_groups(p.parts[1].body)[1];
  CHECK(unfolded_field(g1, "Original-Recipient") == "rfc\\xFF822; bob@office.test");
}

// Found with tests/fuzz/dsn_received (regressions/dsn_received/envid-decoded-twice): the SMTP
// listener stores ENVID and ORCPT xtext-decoded, and the report decoded them again, so
// "ENVID=id+2B41" (id+41) was reported as "idA".
TEST_CASE("dsn: ENVID and ORCPT are shown as the listener decoded them, not decoded twice") {
  DsnInput in = failed_input();
  in.envid = "id+41";
  in.recipients[0].original = "rfc822;a+2B@firma.de";
  Parsed p = parse_dsn(build_dsn(in));
  auto groups = status_groups(p.parts[1].body);
  CHECK(unfolded_field(groups[0], "Original-Envelope-Id") == "id+41");
  CHECK(unfolded_field(groups[1], "Original-Recipient") == "rfc822; a+2B@firma.de");
}

TEST_CASE("dsn: values cannot inject header fields, long words cannot pass 998") {
  DsnInput in = failed_input();
  in.to = "anna@firma.de\r\nBcc: victim@example.org";
  in.reporting_mta = "relay.firma.local\r\nX-Evil: 1";
  in.envid = "id\r\nX-Evil: 2";
  in.recipients[0].remote_mta = "mx\nX-Evil: 3";
  in.recipients[0].diagnostic = "550 " + std::string(3000, 'x');
  in.recipients[1].status = "5.1.1\r\nX-Evil: 4";
  std::string msg = build_dsn(in);
  Parsed p = parse_dsn(msg);  // also checks the 998 limit on every line
  CHECK(msg.find("\r\nBcc:") == std::string::npos);
  CHECK(msg.find("\r\nX-Evil") == std::string::npos);
  CHECK(p.top.count("bcc") == 0);
  Entity g2 = status_groups(p.parts[1].body)[2];
  CHECK(unfolded_field(g2, "Status") == "5.7.1");  // the mangled status is ignored: from the reply
}

// Found by tests/fuzz/dsn_received (regressions/dsn_received/long-reporting-mta): the host in
// the Message-ID was not cut, and as \xNN escapes 8-bit bytes grow fourfold, so a long or 8-bit
// reporting_mta made that line longer than 998 octets.
TEST_CASE("dsn: a long reporting host keeps the Message-ID line within 998") {
  DsnInput in = failed_input();
  in.reporting_mta = std::string(2000, '\xFF');
  parse_dsn(build_dsn(in));  // checks the 998 limit on every line
  in.reporting_mta = std::string(2000, 'h');
  parse_dsn(build_dsn(in));
}

TEST_CASE("dsn: without original headers there are two parts") {
  DsnInput in = failed_input();
  in.original_headers.clear();
  Parsed p = parse_dsn(build_dsn(in));
  CHECK(p.parts.size() == 2);
}

TEST_CASE("dsn: the boundary never occurs in the content and differs between reports") {
  DsnInput in = failed_input();
  // Headers that contain something boundary-like.
  in.original_headers = "Content-Type: multipart/mixed; boundary=\"=_pb_0000\"\r\nX-Test: --=_pb_\r\n";
  std::string a = build_dsn(in), b = build_dsn(in);
  Parsed pa = parse_dsn(a), pb = parse_dsn(b);
  CHECK(pa.boundary != pb.boundary);
  CHECK(pa.parts[2].body == in.original_headers);
}

TEST_CASE("dsn: bare LF in the original headers becomes CRLF, the body is never included") {
  DsnInput in = failed_input();
  in.original_headers = "Subject: a\nX-A: b\n\nbody line\n";
  Parsed p = parse_dsn(build_dsn(in));
  CHECK(p.parts[2].body == "Subject: a\r\nX-A: b\r\n");
}

TEST_CASE("is_bounce: null sender, delivery reports, auto-submitted") {
  auto collect = [](const std::string& head) {
    HeaderCollector h;
    std::size_t pos = 0;
    while (pos < head.size()) {
      std::size_t nl = head.find("\r\n", pos);
      h.feed_line(head.substr(pos, nl - pos));
      pos = nl + 2;
    }
    h.feed_line("");
    return h;
  };
  HeaderCollector plain = collect("From: a@b.de\r\nSubject: hi\r\n");
  CHECK(is_bounce(plain, ""));
  CHECK(is_bounce(plain, "<>"));
  CHECK_FALSE(is_bounce(plain, "anna@firma.de"));
  CHECK(is_bounce(collect("Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"x\"\r\n"),
                  "mailer-daemon@example.org"));
  CHECK(is_bounce(collect("Content-Type: Multipart/Report; boundary=x; Report-Type=\"Delivery-Status\"\r\n"), "a@b.de"));
  // A read receipt (RFC 8098) is a report, but not a delivery status.
  CHECK_FALSE(is_bounce(collect("Content-Type: multipart/report; report-type=disposition-notification\r\n"), "a@b.de"));
  CHECK(is_bounce(collect("Auto-Submitted: auto-replied\r\n"), "a@b.de"));
  CHECK(is_bounce(collect("Auto-Submitted: auto-generated (vacation)\r\n"), "a@b.de"));
  CHECK_FALSE(is_bounce(collect("Auto-Submitted: no\r\n"), "a@b.de"));
  CHECK_FALSE(is_bounce(collect("Auto-Submitted: No (manual)\r\n"), "a@b.de"));
  // Our own DSN is recognised as a bounce (a bounce of a bounce goes to the postmaster).
  std::string dsn = build_dsn(failed_input());
  HeaderCollector own;
  std::size_t pos = 0;
  while (!own.done() && pos < dsn.size()) {
    std::size_t nl = dsn.find("\r\n", pos);
    own.feed_line(std::string_view(dsn).substr(pos, nl - pos));
    pos = nl + 2;
  }
  CHECK(is_bounce(own, "postmaster@firma.de"));
}

TEST_CASE("dsn: RFC 3463 status syntax decides whether the caller's status is used") {
  DsnInput in = failed_input();
  in.recipients.resize(1);
  in.recipients[0].diagnostic = "550 no enhanced code here";
  auto status = [&](const std::string& s) {
    in.recipients[0].status = s;
    return unfolded_field(status_groups(parse_dsn(build_dsn(in)).parts[1].body)[1], "Status");
  };
  CHECK(status("5.1.10") == "5.1.10");
  CHECK(status("5.7.139") == "5.7.139");
  CHECK(status("2.0.0") == "2.0.0");
  CHECK(status("5.1.1000") == "5.0.0");
  CHECK(status("5..1") == "5.0.0");
  CHECK(status("6.1.1") == "5.0.0");
  CHECK(status("5.1.") == "5.0.0");
  CHECK(status("5.1.1 ") == "5.1.1");  // surrounding blanks are trimmed
}

// RFC 3461 5.2.2 / RFC 3464 2.3.3: handed on to a next hop without DSN.
TEST_CASE("dsn: a relayed report says the message was handed on and that no confirmation follows") {
  DsnInput in = failed_input();
  in.explanation.clear();
  in.recipients.resize(1);
  in.recipients[0].action = "relayed";
  in.recipients[0].status = "";
  in.recipients[0].diagnostic = "250 2.0.0 Ok: queued as 4B1C2";
  Parsed p = parse_dsn(build_dsn(in));
  CHECK(p.top.get("subject") == "Relayed Mail (no further delivery confirmation)");
  REQUIRE(p.parts.size() == 3);
  std::string words = qp_decode(p.parts[0].body);
  CHECK(words.find("Your message was handed on to the mail provider") != std::string::npos);
  CHECK(words.find("<nobody+sales@gmail.example>: handed on (relayed)") != std::string::npos);
  CHECK(words.find("<nobody+sales@gmail.example>: weitergegeben") != std::string::npos);
  CHECK(words.find("The server smtp.gmail.example answered:\r\n    250 2.0.0 Ok: queued as 4B1C2") != std::string::npos);
  CHECK(words.find("no further report will come") != std::string::npos);
  CHECK(words.find("NOT reached") == std::string::npos);
  std::vector<Entity> groups = status_groups(p.parts[1].body);
  REQUIRE(groups.size() == 2);
  CHECK(unfolded_field(groups[0], "Original-Envelope-Id") == "QQ314159");
  CHECK(unfolded_field(groups[1], "Original-Recipient") == "rfc822; nobody+sales@gmail.example");
  CHECK(unfolded_field(groups[1], "Action") == "relayed");
  CHECK(unfolded_field(groups[1], "Status") == "2.0.0");  // the class of the action, RFC 3463 2
  CHECK(unfolded_field(groups[1], "Diagnostic-Code") == "smtp; 250 2.0.0 Ok: queued as 4B1C2");
  CHECK(lower(p.parts[2].get("content-type")) == "text/rfc822-headers");
  CHECK(p.parts[2].get("content-description") == "Relayed message headers");
}

TEST_CASE("dsn: a report with a failure among relayed recipients is a failure report") {
  DsnInput in = failed_input();
  in.recipients[1].action = "relayed";
  Parsed p = parse_dsn(build_dsn(in));
  CHECK(p.top.get("subject") == "Undelivered Mail Returned to Sender");
  std::vector<Entity> groups = status_groups(p.parts[1].body);
  CHECK(unfolded_field(groups[1], "Action") == "failed");
  CHECK(unfolded_field(groups[2], "Action") == "relayed");
  CHECK(unfolded_field(groups[2], "Status") == "2.7.1");  // the reply's detail, the action's class
}

TEST_CASE("dsn: our own reason is shown as a reason, not as a server's answer") {
  DsnInput in = failed_input();
  in.recipients.resize(1);
  in.recipients[0].remote_mta = "";
  in.recipients[0].status = "5.6.7";
  in.recipients[0].diagnostic = "not sent by postbridge: smtp.example.net does not offer SMTPUTF8";
  Parsed p = parse_dsn(build_dsn(in));
  std::string words = qp_decode(p.parts[0].body);
  CHECK(words.find("  Reason:\r\n    not sent by postbridge") != std::string::npos);
  CHECK(words.find("  Grund:\r\n    not sent by postbridge") != std::string::npos);
  CHECK(words.find("answered") == std::string::npos);
  Entity g1 = status_groups(p.parts[1].body)[1];
  CHECK(g1.count("remote-mta") == 0);
  CHECK(unfolded_field(g1, "Status") == "5.6.7");
  CHECK(unfolded_field(g1, "Diagnostic-Code") ==
        "X-Postbridge; not sent by postbridge: smtp.example.net does not offer SMTPUTF8");
}

// RFC 3461 4.3 RET=FULL: the whole message, as message/rfc822 (RFC 6522 3).
TEST_CASE("dsn: a returned message goes whole as message/rfc822") {
  DsnInput in = failed_input();
  const std::string body = "Dear customer,\r\n.a line with a dot\r\n\r\nthe offer is attached.\r\n";
  in.original_message = kOriginalHeaders + "\r\n" + body;
  Parsed p = parse_dsn(build_dsn(in));  // 7-bit original: the report stays 7-bit
  REQUIRE(p.parts.size() == 3);
  CHECK(lower(p.parts[2].get("content-type")) == "message/rfc822");
  CHECK(p.parts[2].count("content-transfer-encoding") == 0);
  CHECK(p.parts[2].get("content-description") == "Undelivered message");
  CHECK(p.parts[2].body == in.original_message);
  CHECK(p.top.count("content-transfer-encoding") == 0);
}

TEST_CASE("dsn: a returned 8-bit message stays 8-bit and is labelled so") {
  DsnInput in = failed_input();
  in.original_message = "Subject: Gr\xC3\xBC\xC3\x9F" "e\nContent-Type: text/plain; charset=utf-8\n\nF\xC3\xBC" "r Sie\n";
  std::string msg = build_dsn(in);
  Parsed p = parse_dsn(msg, true);  // CRLF and <= 998 still hold
  CHECK(lower(p.top.get("content-transfer-encoding")) == "8bit");  // RFC 2045 6.4
  CHECK(lower(p.parts[2].get("content-type")) == "message/rfc822");
  CHECK(lower(p.parts[2].get("content-transfer-encoding")) == "8bit");  // RFC 2046 5.2.1: never encoded
  CHECK(p.parts[2].body == "Subject: Gr\xC3\xBC\xC3\x9F" "e\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nF\xC3\xBC" "r Sie\r\n");
  // Everything but the returned message is 7-bit as always.
  CHECK(p.parts[0].body.find_first_of("\x80\xC3") == std::string::npos);
}

TEST_CASE("dsn: a message that cannot travel whole is returned as its headers") {
  DsnInput in = failed_input();
  SECTION("a line over 998 octets") { in.original_message = kOriginalHeaders + "\r\n" + std::string(1200, 'x') + "\r\n"; }
  SECTION("a NUL byte") { in.original_message = kOriginalHeaders + "\r\n" + std::string("a\0b\r\n", 5); }
  in.original_headers.clear();  // taken from the message itself
  Parsed p = parse_dsn(build_dsn(in));
  REQUIRE(p.parts.size() == 3);
  CHECK(lower(p.parts[2].get("content-type")) == "text/rfc822-headers");
  CHECK(p.parts[2].body == kOriginalHeaders);
}

TEST_CASE("xtext_encode: RFC 3461 4 xtext") {
  CHECK(xtext_encode("abc123") == "abc123");
  CHECK(xtext_encode("a+b=c d") == "a+2Bb+3Dc+20d");
  CHECK(xtext_encode(std::string("\r\n\x7F\xC3\xB6", 5)) == "+0D+0A+7F+C3+B6");
  CHECK(xtext_encode("") == "");
}

TEST_CASE("orcpt_parameter: the stored original recipient, encoded again for RCPT") {
  CHECK(orcpt_parameter("rfc822;anna+sales@firma.de") == "rfc822;anna+2Bsales@firma.de");
  CHECK(orcpt_parameter("RFC822;a=b@firma.de") == "RFC822;a+3Db@firma.de");  // the type as it came
  // RFC 6533 3: a UTF-8 address goes as type utf-8, 7-bit, whatever type it came with.
  CHECK(orcpt_parameter("rfc822;j\xC3\xBCrgen@b\xC3\xBCro.example") == "utf-8;j\\x{FC}rgen@b\\x{FC}ro.example");
  CHECK(orcpt_parameter("utf-8;j\xC3\xBCrgen\\x{FC}@example.org") == "utf-8;j\\x{FC}rgen\\x{FC}@example.org");
  CHECK(orcpt_parameter("utf-8;a\\b+c@example.org") == "utf-8;a\\x{5C}b\\x{2B}c@example.org");
  CHECK(orcpt_parameter("x-400;/C=DE/O=Firma/") == "x-400;/C+3DDE/O+3DFirma/");
  // Nothing that could not be sent as it is.
  CHECK(orcpt_parameter("") == "");
  CHECK(orcpt_parameter("anna@firma.de") == "");
  CHECK(orcpt_parameter(";anna@firma.de") == "");
  CHECK(orcpt_parameter("rfc 822;anna@firma.de") == "");
  CHECK(orcpt_parameter("rfc822;" + std::string(480, 'a') + "@b.de") == "rfc822;" + std::string(480, 'a') + "@b.de");
  CHECK(orcpt_parameter("rfc822;" + std::string(200, '+') + "@b.de") == "");  // 600 once encoded: over 500
}
