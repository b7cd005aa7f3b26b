// Unit tests for From: rewriting: display names (quoted, encoded words, 8-bit, comments, broken),
// folding, groups, missing From, existing Reply-To, no-ops, injection attempts, and that every
// other byte of the header block and body survives unchanged.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "mail/rewrite.hpp"

using pb::mail::header_block_end;
using pb::mail::rewrite_from_header;

namespace {

const std::string kNew = "info@firma.de";

// The fields of a header block (continuations attached), up to the empty line.
std::vector<std::string> fields(const std::string& block) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t nl = block.find('\n', pos);
    std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl + 1 - pos);
    pos = nl == std::string::npos ? block.size() : nl + 1;
    if (line == "\r\n" || line == "\n") break;
    if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) out.back() += line;
    else out.push_back(line);
  }
  return out;
}

std::vector<std::string> without(const std::vector<std::string>& fs, std::initializer_list<const char*> names) {
  std::vector<std::string> out;
  for (const std::string& f : fs) {
    bool drop = false;
    for (const char* n : names) {
      std::string prefix = std::string(n) + ":";
      drop = drop || (f.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), f.begin(), [](char a, char b) {
                        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                      }));
    }
    if (!drop) out.push_back(f);
  }
  return out;
}

std::string field(const std::string& block, const std::string& name) {
  for (const std::string& f : fields(block))
    if (f.compare(0, name.size() + 1, name + ":") == 0) return f;
  return {};
}

// Checks the invariants every rewrite keeps: all other fields in order, byte for byte, the body
// unchanged, exactly one From, CRLF-terminated added lines no longer than 78 where foldable.
void check_preserved(const std::string& in, const std::string& out) {
  CHECK(without(fields(in), {"From", "Reply-To"}) == without(fields(out), {"From", "Reply-To"}));
  std::size_t bin = header_block_end(in), bout = header_block_end(out);
  if (bin != std::string::npos) {
    REQUIRE(bout != std::string::npos);
    CHECK(in.substr(bin) == out.substr(bout));
  }
  int from_count = 0;
  for (const std::string& f : fields(out)) from_count += f.compare(0, 5, "From:") == 0 ? 1 : 0;
  CHECK(from_count == 1);
}

const std::string kRest =
    "Received: from pc1.firma.local (pc1 [192.168.1.20])\r\n"
    "\tby mail.firma.local with ESMTP id 4711;\r\n"
    "\tTue, 24 Nov 2026 14:05:00 +0100\r\n"
    "Subject: =?UTF-8?Q?Angebot_f=C3=BCr_M=C3=BCller?=\r\n"
    "To: kunde@example.org\r\n"
    "Message-ID: <abc@firma.local>\r\n";
const std::string kBody = "\r\nFrom: this line is in the body and stays\r\nHallo.\r\n";

}  // namespace

TEST_CASE("rewrite: quoted display name kept, original in Reply-To") {
  std::string in = "From: \"Anna Schmidt\" <anna@firma.de>\r\n" + kRest + kBody;
  std::string out = rewrite_from_header(in, kNew);
  CHECK(out == "From: \"Anna Schmidt\" <info@firma.de>\r\nReply-To: \"Anna Schmidt\" <anna@firma.de>\r\n" + kRest +
                   kBody);
  check_preserved(in, out);
}

TEST_CASE("rewrite: bare address and unquoted display name") {
  CHECK(rewrite_from_header("From: anna@firma.de\r\n\r\n", kNew) ==
        "From: <info@firma.de>\r\nReply-To: anna@firma.de\r\n\r\n");
  CHECK(rewrite_from_header("From: Anna Schmidt <anna@firma.de>\r\n\r\n", kNew) ==
        "From: Anna Schmidt <info@firma.de>\r\nReply-To: Anna Schmidt <anna@firma.de>\r\n\r\n");
  CHECK(rewrite_from_header("From: <anna@firma.de>\r\n\r\n", kNew) ==
        "From: <info@firma.de>\r\nReply-To: <anna@firma.de>\r\n\r\n");
}

TEST_CASE("rewrite: folded From keeps its folding in Reply-To") {
  std::string in = kRest + "From: \"Anna Schmidt (Vertrieb)\"\r\n\t<anna@firma.de>\r\nX-Mailer: Outlook\r\n" + kBody;
  std::string out = rewrite_from_header(in, kNew);
  CHECK(field(out, "From") == "From: \"Anna Schmidt (Vertrieb)\" <info@firma.de>\r\n");
  CHECK(field(out, "Reply-To") == "Reply-To: \"Anna Schmidt (Vertrieb)\"\r\n\t<anna@firma.de>\r\n");
  // The rewritten fields sit where From was.
  CHECK(out.find("Reply-To:") < out.find("X-Mailer:"));
  CHECK(out.find("Message-ID:") < out.find("From:"));
  check_preserved(in, out);
}

TEST_CASE("rewrite: encoded-word and 8-bit display names are kept byte for byte") {
  std::string in = "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <j.mueller@firma.de>\r\n" + kRest + kBody;
  std::string out = rewrite_from_header(in, kNew);
  CHECK(field(out, "From") == "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <info@firma.de>\r\n");
  check_preserved(in, out);

  std::string utf8 = "From: \"J\xC3\xBCrgen M\xC3\xBCller\" <j@firma.de>\r\n\r\n";
  CHECK(field(rewrite_from_header(utf8, kNew), "From") == "From: \"J\xC3\xBCrgen M\xC3\xBCller\" <info@firma.de>\r\n");
}

TEST_CASE("rewrite: escaped quotes inside the display name survive") {
  std::string in = "From: \"Anna \\\"Sales\\\" S.\" <anna@firma.de>\r\n\r\n";
  CHECK(field(rewrite_from_header(in, kNew), "From") == "From: \"Anna \\\"Sales\\\" S.\" <info@firma.de>\r\n");
}

TEST_CASE("rewrite: old-style comment becomes the display name") {
  CHECK(field(rewrite_from_header("From: anna@firma.de (Anna Schmidt)\r\n\r\n", kNew), "From") ==
        "From: Anna Schmidt <info@firma.de>\r\n");
  CHECK(field(rewrite_from_header("From: anna@firma.de (Schmidt, Anna)\r\n\r\n", kNew), "From") ==
        "From: \"Schmidt, Anna\" <info@firma.de>\r\n");
  CHECK(field(rewrite_from_header("From: anna@firma.de (Anna Schmidt)\r\n\r\n", kNew), "Reply-To") ==
        "Reply-To: anna@firma.de (Anna Schmidt)\r\n");
}

TEST_CASE("rewrite: a broken unquoted comma in the display name is quoted") {
  std::string out = rewrite_from_header("From: Schmidt, Anna <anna@firma.de>\r\n\r\n", kNew);
  CHECK(field(out, "From") == "From: \"Schmidt, Anna\" <info@firma.de>\r\n");
  CHECK(field(out, "Reply-To") == "Reply-To: Schmidt, Anna <anna@firma.de>\r\n");
  // An address used as display name (Outlook does that) is quoted, not emitted as an address.
  CHECK(field(rewrite_from_header("From: anna@firma.de <anna@firma.de>\r\n\r\n", kNew), "From") ==
        "From: \"anna@firma.de\" <info@firma.de>\r\n");
}

TEST_CASE("rewrite: groups (RFC 6854)") {
  std::string out = rewrite_from_header("From: Vertrieb: anna@firma.de, bernd@firma.de;\r\nSender: anna@firma.de\r\n\r\n", kNew);
  CHECK(field(out, "From") == "From: Vertrieb <info@firma.de>\r\n");
  CHECK(field(out, "Reply-To") == "Reply-To: Vertrieb: anna@firma.de, bernd@firma.de;\r\n");
  CHECK(field(out, "Sender") == "Sender: anna@firma.de\r\n");
  // A named member wins over the group name.
  CHECK(field(rewrite_from_header("From: Team: Anna <anna@firma.de>;\r\n\r\n", kNew), "From") ==
        "From: Anna <info@firma.de>\r\n");
  // An empty group names nobody to reply to: no Reply-To.
  out = rewrite_from_header("From: undisclosed-senders:;\r\n\r\n", kNew);
  CHECK(field(out, "From") == "From: undisclosed-senders <info@firma.de>\r\n");
  CHECK(field(out, "Reply-To").empty());
}

TEST_CASE("rewrite: several mailboxes: first display name, all of them in Reply-To") {
  std::string out = rewrite_from_header("From: Anna <anna@firma.de>, Bernd <bernd@firma.de>\r\n\r\n", kNew);
  CHECK(field(out, "From") == "From: Anna <info@firma.de>\r\n");
  CHECK(field(out, "Reply-To") == "Reply-To: Anna <anna@firma.de>, Bernd <bernd@firma.de>\r\n");
}

TEST_CASE("rewrite: missing From is added at the end of the header") {
  std::string in = kRest + kBody;
  std::string out = rewrite_from_header(in, kNew);
  CHECK(out == kRest + "From: <info@firma.de>\r\n" + kBody);
  check_preserved(in, out);
  // A header block without the empty line (the whole message is header).
  CHECK(rewrite_from_header("Subject: x\r\n", kNew) == "Subject: x\r\nFrom: <info@firma.de>\r\n");
  CHECK(rewrite_from_header("", kNew) == "From: <info@firma.de>\r\n");
}

TEST_CASE("rewrite: an existing Reply-To is left alone") {
  std::string in = "Reply-To: vertrieb@firma.de\r\nFrom: \"Anna\" <anna@firma.de>\r\n" + kRest + kBody;
  std::string out = rewrite_from_header(in, kNew);
  CHECK(out == "Reply-To: vertrieb@firma.de\r\nFrom: \"Anna\" <info@firma.de>\r\n" + kRest + kBody);
  CHECK(rewrite_from_header("reply-to: x@y.de\r\nFrom: a@firma.de\r\n\r\n", kNew) ==
        "reply-to: x@y.de\r\nFrom: <info@firma.de>\r\n\r\n");
}

TEST_CASE("rewrite: already the account's address: unchanged") {
  std::string in = "From: \"Info\"\r\n <info@FIRMA.de>\r\n" + kRest + kBody;
  CHECK(rewrite_from_header(in, kNew) == in);
  // The local part is case-sensitive (RFC 5321 2.4): INFO@ is another mailbox.
  CHECK(rewrite_from_header("From: INFO@firma.de\r\n\r\n", kNew) != "From: INFO@firma.de\r\n\r\n");
}

TEST_CASE("rewrite: field names are case-insensitive, duplicate From fields collapse to one") {
  std::string out = rewrite_from_header("FROM : anna@firma.de\r\nSubject: s\r\nfrom: bernd@firma.de\r\n\r\n", kNew);
  CHECK(out == "From: <info@firma.de>\r\nReply-To: anna@firma.de\r\nSubject: s\r\n\r\n");
}

TEST_CASE("rewrite: long display names are folded, and unfold to the same") {
  std::string name = "\"Anna Schmidt, Vertriebsleitung Sueddeutschland und Oesterreich, Firma GmbH & Co. KG\"";
  std::string out = rewrite_from_header("From: " + name + " <anna@firma.de>\r\n\r\n", kNew);
  std::string from = field(out, "From");
  std::size_t start = 0;
  while (true) {
    std::size_t nl = from.find("\r\n", start);
    CHECK(nl - start <= 78);
    if (nl + 2 >= from.size()) break;
    CHECK((from[nl + 2] == ' ' || from[nl + 2] == '\t'));
    start = nl + 2;
  }
  std::string unfolded;
  for (char c : from)
    if (c != '\r' && c != '\n') unfolded.push_back(c);
  CHECK(unfolded == "From: " + name + " <info@firma.de>");
}

TEST_CASE("rewrite: obsolete route and comments inside the angle address") {
  std::string out = rewrite_from_header("From: Anna <@relay.example:anna@firma.de>\r\n\r\n", kNew);
  CHECK(field(out, "From") == "From: Anna <info@firma.de>\r\n");
  // Recognised as the same address despite the comment: unchanged.
  std::string same = "From: Info <info(account)@firma.de>\r\n\r\n";
  CHECK(rewrite_from_header(same, kNew) == same);
}

TEST_CASE("rewrite: bare LF line ends of other fields are preserved") {
  std::string in = "Subject: x\nFrom: anna@firma.de\nTo: b@c.de\n\nbody\n";
  std::string out = rewrite_from_header(in, kNew);
  CHECK(out == "Subject: x\nFrom: <info@firma.de>\r\nReply-To: anna@firma.de\nTo: b@c.de\n\nbody\n");
}

TEST_CASE("rewrite: new_from must be a plain address (no header injection)") {
  CHECK_THROWS_AS(rewrite_from_header("From: a@b.de\r\n\r\n", "info@firma.de\r\nBcc: x@evil.example"),
                  std::invalid_argument);
  CHECK_THROWS_AS(rewrite_from_header("From: a@b.de\r\n\r\n", "Info <info@firma.de>"), std::invalid_argument);
  CHECK_THROWS_AS(rewrite_from_header("From: a@b.de\r\n\r\n", "not-an-address"), std::invalid_argument);
  CHECK_THROWS_AS(rewrite_from_header("From: a@b.de\r\n\r\n", ""), std::invalid_argument);
}

TEST_CASE("rewrite: header_block_end") {
  CHECK(header_block_end("A: b\r\n\r\nbody") == 8);
  CHECK(header_block_end("A: b\n\nbody") == 6);
  CHECK(header_block_end("\r\nbody") == 2);
  CHECK(header_block_end("A: b\r\nC: d\r\n") == std::string::npos);
  CHECK(header_block_end("") == std::string::npos);
  CHECK(header_block_end("A: b\r\n \r\nx") == std::string::npos);  // a WSP-only line is not empty
}
