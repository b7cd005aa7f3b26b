// Unit tests for the SMTP server's command parser (verbs, paths, ESMTP parameters, xtext, BDAT and
// AUTH arguments) and the DATA decoder: smuggling variants, every split point, random streams.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <string_view>
#include <variant>

#include "smtp/command.hpp"

using namespace pb::smtp;

namespace {

MailCommand mail_ok(std::string_view arg) {
  auto r = parse_mail(arg);
  if (auto* e = std::get_if<Refusal>(&r)) FAIL("refused: " << e->code << " " << e->enhanced << " " << e->text);
  return std::get<MailCommand>(r);
}

Refusal mail_refused(std::string_view arg) {
  auto r = parse_mail(arg);
  if (std::holds_alternative<MailCommand>(r)) FAIL("accepted: " << arg);
  return std::get<Refusal>(r);
}

RcptCommand rcpt_ok(std::string_view arg, bool utf8 = false) {
  auto r = parse_rcpt(arg, utf8);
  if (auto* e = std::get_if<Refusal>(&r)) FAIL("refused: " << e->code << " " << e->enhanced << " " << e->text);
  return std::get<RcptCommand>(r);
}

Refusal rcpt_refused(std::string_view arg, bool utf8 = false) {
  auto r = parse_rcpt(arg, utf8);
  if (std::holds_alternative<RcptCommand>(r)) FAIL("accepted: " << arg);
  return std::get<Refusal>(r);
}

struct Decoded {
  std::string out;
  std::size_t consumed = 0;
  bool done = false, bare = false, too_long = false, too_big = false;
};

// Feeds `in` in pieces split at the given positions (each piece fed until the decoder is done);
// with Framing::chunks each piece is a chunk and finish() follows the last.
Decoded decode(std::string_view in, std::vector<std::size_t> splits = {}, std::uint64_t max_size = 0,
               std::size_t max_line = 1000, BareLineEnds mode = BareLineEnds::reject,
               Framing framing = Framing::dot) {
  DataDecoder d(max_size, max_line, mode, framing);
  Decoded r;
  splits.push_back(in.size());
  std::size_t at = 0;
  for (std::size_t end : splits) {
    if (d.done()) break;
    std::size_t used = d.feed(in.substr(at, end - at), r.out);
    r.consumed += used;
    at += used;
    if (at < end) break;  // done mid-piece
  }
  if (framing == Framing::chunks) d.finish(r.out);
  r.done = d.done();
  r.bare = mode == BareLineEnds::reject ? d.bare_refused() : d.bare_lf() + d.bare_cr() > 0;
  r.too_long = d.line_too_long();
  r.too_big = d.too_big();
  return r;
}

// What a receiver following RFC 5321 strictly makes of `in` (see DataDecoder): the end is the
// first ".\r\n" at the start of the data or right after a "\r\n"; any other CR or LF before it
// is bare; content is the data before it with each line's leading dot removed.
Decoded reference(std::string_view in) {
  Decoded r;
  std::size_t end = std::string_view::npos;
  for (std::size_t p = 0; p + 3 <= in.size(); ++p) {
    bool line_start = p == 0 || (p >= 2 && in.substr(p - 2, 2) == "\r\n");
    if (line_start && in.substr(p, 3) == ".\r\n") {
      end = p;
      break;
    }
  }
  if (end == std::string_view::npos) return r;
  r.done = true;
  r.consumed = end + 3;
  for (std::size_t i = 0; i < end; ++i) {
    if (in[i] == '\r' && !(i + 1 < in.size() && in[i + 1] == '\n')) r.bare = true;
    if (in[i] == '\n' && !(i > 0 && in[i - 1] == '\r')) r.bare = true;
  }
  for (std::size_t i = 0; i < end; ++i) {
    bool line_start = i == 0 || (i >= 2 && in.substr(i - 2, 2) == "\r\n");
    if (line_start && in[i] == '.') continue;
    r.out += in[i];
  }
  return r;
}

// A normalising receiver (BareLineEnds::normalize): the same end as reference(); each line, ended
// by CRLF or a bare LF, loses one leading dot and ends in CRLF; any other CR stays where it is.
Decoded reference_normalized(std::string_view in) {
  Decoded r = reference(in);
  if (!r.done) return r;
  std::string_view data = in.substr(0, r.consumed - 3);  // ends with CRLF, or is empty
  r.out.clear();
  for (std::size_t pos = 0; pos < data.size();) {
    std::size_t lf = data.find('\n', pos);
    std::string_view line = data.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() == '.') line.remove_prefix(1);
    r.out += std::string(line) + "\r\n";
    pos = lf + 1;
  }
  return r;
}

Decoded normalize(std::string_view in, std::vector<std::size_t> splits = {}) {
  return decode(in, std::move(splits), 0, 1000, BareLineEnds::normalize);
}

Decoded chunks(std::string_view in, std::vector<std::size_t> splits = {}, BareLineEnds mode = BareLineEnds::normalize) {
  return decode(in, std::move(splits), 0, 1000, mode, Framing::chunks);
}

// Short random streams of 'a', '.', CR and LF before a real end: the decoder in `mode` agrees with
// that mode's reference at every split (a refused message's output does not matter).
void check_random_streams(unsigned seed, BareLineEnds mode) {
  std::mt19937 rng(seed);
  const char alphabet[] = {'a', '.', '\r', '\n'};
  for (int n = 0; n < 3000; ++n) {
    std::string s;
    std::size_t len = rng() % 14;
    for (std::size_t i = 0; i < len; ++i) s += alphabet[rng() % 4];
    s += "\r\n.\r\nrest";
    Decoded want = mode == BareLineEnds::reject ? reference(s) : reference_normalized(s);
    for (std::size_t split = 0; split <= s.size(); ++split) {
      Decoded got = decode(s, {split}, 0, 1000, mode);
      INFO("stream \"" << s << "\" split at " << split);
      REQUIRE(got.done == want.done);
      REQUIRE(got.consumed == want.consumed);
      REQUIRE(got.bare == want.bare);
      if (mode == BareLineEnds::normalize || !want.bare) REQUIRE(got.out == want.out);
    }
  }
}

}  // namespace

TEST_CASE("split_command: verb, argument, case and blanks") {
  auto c = split_command("mail FROM:<a@b.example>  SIZE=5  ");
  CHECK(c.verb == Verb::mail);
  CHECK(c.word == "mail");
  CHECK(c.argument == "FROM:<a@b.example>  SIZE=5");
  CHECK(split_command("QUIT").verb == Verb::quit);
  CHECK(split_command("QUIT").argument.empty());
  CHECK(split_command("StartTLS").verb == Verb::starttls);
  CHECK(split_command("BDAT 10 LAST").argument == "10 LAST");
  CHECK(split_command("EXPN staff").verb == Verb::not_implemented);
  CHECK(split_command("GET / HTTP/1.1").verb == Verb::http);
  CHECK(split_command("CONNECT mx:25 HTTP/1.0").verb == Verb::http);
  CHECK(split_command("MAILX FROM:<a@b>").verb == Verb::unknown);
  CHECK(split_command("").verb == Verb::unknown);
  CHECK(split_command(" MAIL").verb == Verb::unknown);
}

TEST_CASE("parse_mail: paths") {
  CHECK(mail_ok("FROM:<alice@example.net>").sender == "alice@example.net");
  CHECK(mail_ok("from:<alice@example.net>").sender == "alice@example.net");
  CHECK(mail_ok("FROM:<>").sender.empty());
  CHECK(mail_ok("FROM: <alice@example.net>").sender == "alice@example.net");  // common, tolerated
  CHECK(mail_ok("FROM:alice@example.net SIZE=3").sender == "alice@example.net");
  // RFC 5321 4.1.2: a Quoted-string local part may contain ">" and spaces.
  CHECK(mail_ok(R"(FROM:<"a> b"@example.net> SIZE=5)").sender == R"("a> b"@example.net)");
  CHECK(mail_ok(R"(FROM:<"a\"> b"@example.net>)").sender == R"("a\"> b"@example.net)");
  CHECK(mail_ok("FROM:<user@[192.0.2.1]>").sender == "user@[192.0.2.1]");
  CHECK(mail_ok("FROM:<user@[IPv6:2001:db8::1]>").sender == "user@[IPv6:2001:db8::1]");
  // RFC 5321 4.1.1.3: source routes are accepted and ignored.
  CHECK(mail_ok("FROM:<@a.example,@b.example:user@c.example>").sender == "user@c.example");
}

TEST_CASE("parse_mail: malformed paths") {
  CHECK(mail_refused("TO:<a@b.example>").code == 501);
  CHECK(mail_refused("FROM:").code == 501);
  CHECK(mail_refused("FROM:<a@b.example").code == 501);
  CHECK(mail_refused(R"(FROM:<"a@b.example>)").code == 501);
  CHECK(mail_refused("FROM:<a@b.example>SIZE=1").code == 501);
  CHECK(mail_refused("FROM:<@a.example user@c.example>").code == 501);
  CHECK(mail_refused("FROM:a<b@c.example").code == 501);
  std::string long_path = "FROM:<" + std::string(250, 'a') + "@example.net>";
  auto r = mail_refused(long_path);
  CHECK(r.code == 501);
  CHECK(r.enhanced == "5.1.7");
}

TEST_CASE("parse_mail: ESMTP parameters") {
  auto m = mail_ok("FROM:<a@b.example> size=1234 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2B1 AUTH=<>");
  CHECK(m.size == 1234u);
  CHECK(m.body == "8BITMIME");
  CHECK(m.smtputf8);
  CHECK(m.ret == "HDRS");
  CHECK(m.envid == "QQ+1");
  CHECK(m.auth == "<>");
  CHECK(mail_ok("FROM:<a@b.example> AUTH=e+3Dmc2@example.com").auth == "e=mc2@example.com");  // RFC 4954 5.1
  CHECK(mail_ok("FROM:<a@b.example> SIZE=18446744073709551615").size == 18446744073709551615u);
}

TEST_CASE("parse_mail: bad parameters") {
  auto unknown = mail_refused("FROM:<a@b.example> XFOO=1");
  CHECK(unknown.code == 555);
  CHECK(unknown.enhanced == "5.5.4");
  CHECK(mail_refused("FROM:<a@b.example> SIZE=1 SIZE=2").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> SIZE=abc").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> SIZE=").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> SIZE").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> SIZE=18446744073709551616").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> BODY=9BIT").code == 501);
  // RFC 3030 3: BINARYMIME is not announced, so it is an unsupported parameter value (as Postfix).
  auto binary = mail_refused("FROM:<a@b.example> BODY=binarymime");
  CHECK(binary.code == 555);
  CHECK(binary.enhanced == "5.5.4");
  CHECK(mail_refused("FROM:<a@b.example> SMTPUTF8=yes").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> RET=ALL").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> ENVID=a+zz").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> ENVID=" + std::string(101, 'x')).code == 501);
  CHECK(mail_refused("FROM:<a@b.example> -X=1").code == 501);
  CHECK(mail_refused("FROM:<a@b.example> A=b=c").code == 501);
}

TEST_CASE("parse_mail/parse_rcpt: UTF-8 addresses need SMTPUTF8 (RFC 6531 3.5)") {
  auto r = mail_refused("FROM:<jörg@example.de>");
  CHECK(r.code == 553);
  CHECK(r.enhanced == "5.6.7");
  CHECK(mail_ok("FROM:<jörg@example.de> SMTPUTF8").sender == "jörg@example.de");
  CHECK(rcpt_refused("TO:<jörg@bücher.example>").code == 553);
  CHECK(rcpt_ok("TO:<jörg@bücher.example>", true).recipient == "jörg@bücher.example");
}

TEST_CASE("parse_rcpt: paths and DSN parameters") {
  CHECK(rcpt_ok("TO:<bob@example.org>").recipient == "bob@example.org");
  CHECK(rcpt_ok("To:<Postmaster>").recipient == "Postmaster");
  auto r = rcpt_ok("TO:<bob@example.org> NOTIFY=success,Failure ORCPT=rfc822;bob+2Bx@example.org");
  CHECK(r.notify == "SUCCESS,FAILURE");
  CHECK(r.orcpt == "rfc822;bob+x@example.org");
  CHECK(rcpt_ok("TO:<bob@example.org> NOTIFY=NEVER").notify == "NEVER");
  CHECK(rcpt_ok("TO:<bob@example.org> NOTIFY=DELAY").notify == "DELAY");
  CHECK(rcpt_refused("TO:<bob@example.org> NOTIFY=NEVER,SUCCESS").code == 501);
  CHECK(rcpt_refused("TO:<bob@example.org> NOTIFY=SUCCESS,SUCCESS").code == 501);
  CHECK(rcpt_refused("TO:<bob@example.org> NOTIFY=").code == 501);
  CHECK(rcpt_refused("TO:<bob@example.org> NOTIFY=SOMETIMES").code == 501);
  CHECK(rcpt_refused("TO:<bob@example.org> ORCPT=bob@example.org").code == 501);
  CHECK(rcpt_refused("TO:<bob@example.org> ORCPT=;bob@example.org").code == 501);
  CHECK(rcpt_refused("TO:<bob@example.org> ORCPT=rfc822;").code == 501);
  CHECK(rcpt_refused("TO:<bob@example.org> SIZE=5").code == 555);
  auto empty = rcpt_refused("TO:<>");
  CHECK(empty.code == 501);
  CHECK(empty.enhanced == "5.1.3");
  CHECK(rcpt_refused("FROM:<bob@example.org>").code == 501);
  CHECK(rcpt_refused("TO:").code == 501);
}

TEST_CASE("xtext_decode (RFC 3461 4)") {
  CHECK(xtext_decode("abc") == "abc");
  CHECK(xtext_decode("a+2Bb+3D") == "a+b=");
  CHECK(xtext_decode("") == "");
  CHECK_FALSE(xtext_decode("a+2"));
  CHECK_FALSE(xtext_decode("a+"));
  CHECK_FALSE(xtext_decode("a+zz"));
  CHECK_FALSE(xtext_decode("a=b"));
  CHECK_FALSE(xtext_decode("a b"));
  CHECK_FALSE(xtext_decode("a\x01"));
  CHECK_FALSE(xtext_decode("jörg"));
  CHECK(xtext_decode("jörg", true) == "jörg");
}

TEST_CASE("parse_bdat (RFC 3030 2)") {
  auto b = parse_bdat("100");
  REQUIRE(b);
  CHECK(b->size == 100u);
  CHECK_FALSE(b->last);
  b = parse_bdat("0 last");
  REQUIRE(b);
  CHECK(b->size == 0u);
  CHECK(b->last);
  CHECK_FALSE(parse_bdat(""));
  CHECK_FALSE(parse_bdat("x"));
  CHECK_FALSE(parse_bdat("-1"));
  CHECK_FALSE(parse_bdat("+5"));
  CHECK_FALSE(parse_bdat("5 FIRST"));
  CHECK_FALSE(parse_bdat("5 LAST x"));
  CHECK_FALSE(parse_bdat("999999999999999999999"));
}

TEST_CASE("parse_auth (RFC 4954 4)") {
  auto ok = [](std::string_view arg) { return std::get<AuthCommand>(parse_auth(arg)); };
  CHECK(ok("plain").mechanism == "PLAIN");
  CHECK_FALSE(ok("PLAIN").initial_response);
  CHECK(ok("PLAIN AGFsaWNlAHMzY3JldA==").initial_response == "AGFsaWNlAHMzY3JldA==");
  CHECK(ok("PLAIN =").initial_response == "=");
  CHECK(ok("CRAM-MD5").mechanism == "CRAM-MD5");
  CHECK(std::holds_alternative<Refusal>(parse_auth("")));
  CHECK(std::holds_alternative<Refusal>(parse_auth("PLAIN a b")));
  CHECK(std::holds_alternative<Refusal>(parse_auth("PL@IN")));
  CHECK(std::holds_alternative<Refusal>(parse_auth(std::string(21, 'A'))));
}

TEST_CASE("valid_helo_argument") {
  CHECK(valid_helo_argument("client.example"));
  CHECK(valid_helo_argument("[192.0.2.1]"));
  CHECK(valid_helo_argument("SCANNER_2"));
  CHECK_FALSE(valid_helo_argument(""));
  CHECK_FALSE(valid_helo_argument("two words"));
  CHECK_FALSE(valid_helo_argument("nul\x01"));
  CHECK_FALSE(valid_helo_argument(std::string(256, 'a')));
}

TEST_CASE("DataDecoder: end marker, dot-unstuffing, what follows") {
  auto r = decode("Subject: x\r\n\r\n..leading dot\r\n.\r\n..\r\nline\r\n.\r\nQUIT\r\n");
  CHECK(r.done);
  CHECK_FALSE(r.bare);
  CHECK(r.out == "Subject: x\r\n\r\n.leading dot\r\n");
  CHECK(r.consumed == std::string_view("Subject: x\r\n\r\n..leading dot\r\n.\r\n").size());
  auto empty = decode(".\r\nMAIL");
  CHECK(empty.done);
  CHECK(empty.out.empty());
  CHECK(empty.consumed == 3);
  auto dots = decode("...\r\n. \r\n.x\r\n.\r\n");
  CHECK(dots.out == "..\r\n \r\nx\r\n");
  auto open = decode("no end\r\n.");
  CHECK_FALSE(open.done);
  CHECK(open.consumed == 9);
}

TEST_CASE("DataDecoder (reject): smuggling variants never end the data and always refuse") {
  // Each variant sits between message text and a would-be second transaction; only the real
  // CRLF.CRLF at the end may end the data (CVE-2023-51764).
  const std::string variants[] = {"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r\n.\r", "\n.\r\n", "\r\n.\r\r\n"};
  const std::string smuggled = "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n";
  for (const auto& v : variants) {
    std::string msg = "Subject: hi\r\n\r\nhello" + v + smuggled + "forged\r\n.\r\n";
    std::string stream = msg + "QUIT\r\n";
    for (std::size_t split = 0; split <= msg.size(); ++split) {
      auto r = decode(stream, {split});
      INFO("variant " << v.size() << " bytes, split at " << split);
      CHECK(r.done);
      CHECK(r.bare);
      CHECK(r.consumed == msg.size());
    }
  }
  // ".\r\n" as the line right after a bare-LF line: not an end either.
  auto r = decode("hello\n.\r\nMAIL FROM:<x@y.example>\r\n.\r\nQUIT\r\n");
  CHECK(r.bare);
  CHECK(r.consumed == std::string_view("hello\n.\r\nMAIL FROM:<x@y.example>\r\n.\r\n").size());
}

TEST_CASE("DataDecoder (reject): a bare CR or LF anywhere refuses the message") {
  CHECK(decode("a\nb\r\n.\r\n").bare);
  CHECK(decode("a\rb\r\n.\r\n").bare);
  CHECK(decode("a\r\r\n.\r\n").bare);
  CHECK(decode("\n.\r\n.\r\n").bare);
  CHECK(decode(".\r.\r\n.\r\n").bare);
  CHECK_FALSE(decode("a\r\nb\r\n.\r\n").bare);
  auto r = decode("ok line\r\nbad\nline\r\nmore\r\n.\r\n");
  CHECK(r.out == "ok line\r\nbad");  // output stops at the refusal; the caller abandons
}

TEST_CASE("DataDecoder: size and line limits, counted as RFC 1870 says") {
  auto fits = decode("12345678\r\n.\r\n", {}, 10);  // 8 + CRLF = 10 octets
  CHECK_FALSE(fits.too_big);
  auto over = decode("123456789\r\n.\r\n", {}, 10);
  CHECK(over.too_big);
  CHECK(over.done);
  auto stuffed = decode("..345678\r\n.\r\n", {}, 9);  // the stuffing dot is not counted
  CHECK_FALSE(stuffed.too_big);
  CHECK(decode(std::string(1001, 'x') + "\r\n.\r\n").too_long);
  CHECK_FALSE(decode(std::string(1000, 'x') + "\r\n.\r\n").too_long);
  DataDecoder d(0, 100, BareLineEnds::reject);
  std::string out;
  d.feed(std::string("a\0b\0\r\n.\r\n", 9), out);
  CHECK(d.nul_bytes() == 2);
  CHECK(out == std::string("a\0b\0\r\n", 6));
}

TEST_CASE("DataDecoder (reject) agrees with a strict reference on random streams, at every split") {
  check_random_streams(5321, BareLineEnds::reject);
}

TEST_CASE("DataDecoder (normalize): bare LF lines become CRLF lines, bare CRs stay in their line") {
  auto r = normalize("Subject: lf only\n\nline one\n..dotted\nlast\r\n.\r\nQUIT\r\n");
  CHECK(r.done);
  CHECK(r.out == "Subject: lf only\r\n\r\nline one\r\n.dotted\r\nlast\r\n");
  CHECK(r.consumed == std::string_view("Subject: lf only\n\nline one\n..dotted\nlast\r\n.\r\n").size());
  CHECK(normalize("a\rb\r\n.\r\n").out == "a\rb\r\n");
  CHECK(normalize("a\r\r\n.\r\n").out == "a\r\r\n");
  DataDecoder d(0, 100, BareLineEnds::normalize);
  std::string out;
  d.feed("one\ntwo\rthree\n\r\n.\r\n", out);
  CHECK(d.done());
  CHECK_FALSE(d.refused());
  CHECK(d.bare_lf() == 2);
  CHECK(d.bare_cr() == 1);
  CHECK(d.size() == out.size());  // RFC 1870: the CRLFs as stored
}

TEST_CASE("DataDecoder (normalize): smuggling variants are message text, never an end of data") {
  const std::string variants[] = {"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\n.\r", "\r.\n"};
  const std::string smuggled = "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n";
  for (const auto& v : variants) {
    std::string msg = "Subject: hi\r\n\r\nhello" + v + smuggled + "forged\r\n.\r\n";
    std::string stream = msg + "QUIT\r\n";
    Decoded whole = normalize(stream);
    for (std::size_t split = 0; split <= msg.size(); ++split) {
      auto r = normalize(stream, {split});
      INFO("variant " << v.size() << " bytes, split at " << split);
      CHECK(r.done);
      CHECK(r.bare);
      CHECK(r.consumed == msg.size());  // only the real CRLF.CRLF ended it
      CHECK(r.out == whole.out);        // whatever the split
    }
    INFO("variant " << v.size() << " bytes");
    CHECK(whole.out.find("MAIL FROM:<evil@attacker.example>\r\n") != std::string::npos);  // kept as text
    CHECK(whole.out.ends_with("forged\r\n"));
    for (std::size_t i = 0; i < whole.out.size(); ++i)  // every LF is part of a CRLF
      if (whole.out[i] == '\n') CHECK((i > 0 && whole.out[i - 1] == '\r'));
  }
}

TEST_CASE("DataDecoder (normalize) agrees with a normalising reference on random streams, at every split") {
  check_random_streams(6409, BareLineEnds::normalize);
}

TEST_CASE("DataDecoder (BDAT chunks): the same line ends as DATA, no dots, no end marker") {
  // The security reviewer's case: a bare CR or LF in a header must not make a line that postbridge
  // parses differently from the next hop.
  std::string body = "From: <a@b.example>\r\nSubject: x\nFrom: <boss@b.example>\r\n\r\n.\r\n..\nend\r";
  auto whole = chunks(body);
  CHECK(whole.done);
  CHECK(whole.consumed == body.size());
  CHECK(whole.out == "From: <a@b.example>\r\nSubject: x\r\nFrom: <boss@b.example>\r\n\r\n.\r\n..\r\nend\r");
  for (std::size_t split = 0; split <= body.size(); ++split) {
    INFO("chunk split at " << split);
    CHECK(chunks(body, {split}).out == whole.out);
  }
  auto refused = chunks(body, {}, BareLineEnds::reject);
  CHECK(refused.bare);
  CHECK(refused.out == "From: <a@b.example>\r\nSubject: x");
  // A CR at the end of one chunk and the LF at the start of the next are one CRLF.
  auto across = chunks("a\r\nb", {1, 2}, BareLineEnds::reject);
  CHECK_FALSE(across.bare);
  CHECK(across.out == "a\r\nb");
  CHECK(chunks("no line end").out == "no line end");
}
