// Unit tests for the IMAP response parser: every response kind of RFC 9051 7, literals split at
// every byte and streamed, and hostile input that must end in a typed ParseError, never a crash.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "imap/response.hpp"

using namespace pb::imap;
using namespace std::string_literals;

namespace {

// Records what a message literal sink hears.
struct Recorder : LiteralSink {
  bool take = true;
  std::vector<std::string> events;
  std::string bytes;
  std::size_t data_calls = 0;
  bool begin(std::uint32_t seq, std::optional<std::uint32_t> uid, std::string_view item, std::uint64_t size) override {
    events.push_back("begin " + std::to_string(seq) + " uid " + (uid ? std::to_string(*uid) : "-") + " " +
                     std::string(item) + " " + std::to_string(size));
    return take;
  }
  void data(std::string_view b) override {
    bytes.append(b);
    ++data_calls;
  }
  void end() override { events.push_back("end"); }
};

// Feeds `input` in pieces of `step` bytes and collects every response.
std::vector<Response> parse_all(std::string_view input, std::size_t step = SIZE_MAX, LiteralSink* sink = nullptr,
                                Limits limits = {}) {
  Parser p(limits);
  p.set_sink(sink);
  std::vector<Response> out;
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::string_view piece = input.substr(pos, std::min(step, input.size() - pos));
    std::size_t used = 0;
    while (used < piece.size()) {
      used += p.feed(piece.substr(used));
      if (p.ready()) out.push_back(p.take());
    }
    pos += piece.size();
  }
  CHECK_FALSE(p.in_response());
  return out;
}

Response one(std::string_view line) {
  auto all = parse_all(line);
  REQUIRE(all.size() == 1);
  return all.front();
}

ParseErrorKind error_of(std::string_view input, Limits limits = {}, LiteralSink* sink = nullptr) {
  Parser p(limits);
  p.set_sink(sink);
  try {
    std::size_t pos = 0;
    while (pos < input.size()) {
      std::size_t n = p.feed(input.substr(pos));
      pos += n;
      if (p.ready()) p.take();
    }
  } catch (const ParseError& e) {
    // A failed parser stays failed.
    CHECK_THROWS_AS(p.feed("* OK\r\n"), ParseError);
    return e.kind();
  }
  FAIL("expected a ParseError for " << input.substr(0, 80));
  return ParseErrorKind::syntax;
}

}  // namespace

TEST_CASE("imap response: tagged OK, NO and BAD with codes", "[imap][response]") {
  auto ok = one("A0001 OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE] Logged in\r\n");
  CHECK(ok.kind == Kind::tagged);
  CHECK(ok.tag == "A0001");
  CHECK(ok.status == Status::ok);
  CHECK(ok.code.kind == CodeKind::capability);
  CHECK(ok.code.words == std::vector<std::string>{"IMAP4REV1", "SASL-IR", "ID", "ENABLE", "IDLE"});
  CHECK(ok.text == "Logged in");

  auto no = one("A0002 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  CHECK(no.status == Status::no);
  CHECK(no.code.kind == CodeKind::authenticationfailed);
  CHECK(no.text == "Authentication failed.");

  auto bad = one("a1 bad Error in IMAP command: Unknown command\r\n");
  CHECK(bad.status == Status::bad);
  CHECK(bad.code.kind == CodeKind::none);

  struct Case {
    const char* line;
    CodeKind kind;
  };
  for (auto c : {Case{"A3 NO [UNAVAILABLE] Try later", CodeKind::unavailable},
                 Case{"A3 NO [PRIVACYREQUIRED] Use TLS", CodeKind::privacyrequired},
                 Case{"A3 NO [TRYCREATE] No such folder", CodeKind::trycreate},
                 Case{"A3 OK [ALERT] Your mailbox is almost full", CodeKind::alert},
                 Case{"A3 NO [X-PRIVATE thing] what", CodeKind::other}}) {
    INFO(c.line);
    CHECK(one(std::string(c.line) + "\r\n").code.kind == c.kind);
  }
  auto append = one("A4 OK [APPENDUID 38505 3955] APPEND completed\r\n");
  CHECK(append.code.kind == CodeKind::appenduid);
  CHECK(append.code.number == 38505u);
  CHECK(append.code.words == std::vector<std::string>{"38505", "3955"});
  auto copy = one("A5 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
  CHECK(copy.code.kind == CodeKind::copyuid);
  CHECK(copy.code.args == "38505 304,319:320 3956:3958");
}

TEST_CASE("imap response: untagged status, counts and data", "[imap][response]") {
  auto greet = one("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n");
  CHECK(greet.kind == Kind::untagged);
  CHECK(greet.status == Status::ok);
  CHECK(greet.code.words.back() == "LOGINDISABLED");
  CHECK(one("* PREAUTH IMAP4rev1 server logged in as Smith\r\n").status == Status::preauth);
  auto bye = one("* BYE Autologout; idle for too long\r\n");
  CHECK(bye.status == Status::bye);
  CHECK(bye.text == "Autologout; idle for too long");

  auto uv = one("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
  CHECK(uv.code.kind == CodeKind::uidvalidity);
  CHECK(uv.code.number == 3857529045u);
  auto un = one("* OK [UIDNEXT 4392] Predicted next UID\r\n");
  CHECK(un.code.number == 4392u);
  CHECK_FALSE(one("* OK [UIDNEXT 4294967296] too big\r\n").code.number);

  auto exists = one("* 172 EXISTS\r\n");
  CHECK(exists.number == 172u);
  CHECK(exists.name == "EXISTS");
  CHECK(one("* 3 expunge\r\n").name == "EXPUNGE");
  CHECK(one("* 1 RECENT\r\n").number == 1u);

  auto caps = one("* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 UIDPLUS MOVE\r\n");
  CHECK(caps.name == "CAPABILITY");
  auto c = parse_capabilities(caps.data);
  CHECK(c.has_auth("XOAUTH2"));
  CHECK(c.has("uidplus"));
  CHECK(c.imap4());
  CHECK_FALSE(c.has("IDLE"));

  auto flags = one("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
  REQUIRE(flags.data.size() == 7);
  CHECK(flags.data[1].text == "\\Answered");
  auto pf = one("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n");
  CHECK(pf.code.kind == CodeKind::permanentflags);

  auto search = one("* SEARCH 2 84 882\r\n");
  REQUIRE(search.data.size() == 3);
  CHECK(as_u32(search.data[2]) == 882u);
  auto esearch = one("* ESEARCH (TAG \"A282\") UID MIN 2 COUNT 3\r\n");
  CHECK(esearch.name == "ESEARCH");
  CHECK(esearch.data[2].kind == TokenKind::string);
  CHECK(esearch.data[2].text == "A282");
  auto vanished = one("* VANISHED (EARLIER) 300:310,405,411\r\n");
  CHECK(vanished.name == "VANISHED");
  CHECK(vanished.data.back().text == "300:310,405,411");

  auto cont = one("+ idling\r\n");
  CHECK(cont.kind == Kind::continuation);
  CHECK(cont.text == "idling");
  CHECK(one("+\r\n").text.empty());
  CHECK(one("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n").text == "eyJzdGF0dXMiOiI0MDEifQ==");
}

TEST_CASE("imap response: values - quoted escapes, NIL, numbers, nested lists, sections", "[imap][response]") {
  auto r = one("* 12 FETCH (FLAGS (\\Seen) UID 7 ENVELOPE (\"a \\\"q\\\" \\\\ b\" NIL ((NIL NIL \"x\" \"y\"))) "
               "BODY[HEADER.FIELDS (DATE FROM)] {0}\r\n)\r\n");
  CHECK(r.number == 12u);
  bool found = false;
  for (const auto& t : r.data)
    if (t.kind == TokenKind::string && t.text == "a \"q\" \\ b") found = true;
  CHECK(found);
  bool section = false;
  for (const auto& t : r.data)
    if (t.kind == TokenKind::atom && t.text == "BODY[HEADER.FIELDS (DATE FROM)]") section = true;
  CHECK(section);
  auto f = parse_fetch(r);
  REQUIRE(f);
  CHECK(f->uid == 7u);
  CHECK(f->flags == std::vector<std::string>{"\\Seen"});
  CHECK(f->body == "");  // a zero-byte literal, buffered

  auto big = one("* SEARCH 18446744073709551615\r\n");
  CHECK(big.data[0].number == UINT64_MAX);
  CHECK_FALSE(as_u32(big.data[0]));
  CHECK(error_of("* SEARCH 18446744073709551616\r\n") == ParseErrorKind::bad_number);
  CHECK(error_of("* 4294967296 EXISTS\r\n") == ParseErrorKind::bad_number);
}

TEST_CASE("imap response: two FETCH literals streamed byte for byte at every split", "[imap][response][literal]") {
  const std::string m1 = "Subject: one\r\n\r\nbody with ) and ( and {5}\r\n";
  const std::string m2 = "Subject: two\r\n\r\n\0binary\r\n.\r\n"s;
  const std::string input = "* 1 FETCH (UID 5 RFC822.SIZE " + std::to_string(m1.size()) + " BODY[] {" +
                            std::to_string(m1.size()) + "}\r\n" + m1 + ")\r\n* 2 FETCH (UID 9 BODY[] {" +
                            std::to_string(m2.size()) + "+}\r\n" + m2 + " FLAGS (\\Seen))\r\nA1 OK done\r\n";
  for (std::size_t step = 1; step <= input.size(); ++step) {
    INFO("pieces of " << step << " bytes");
    Recorder sink;
    auto all = parse_all(input, step, &sink);
    REQUIRE(all.size() == 3);
    CHECK(sink.events == std::vector<std::string>{"begin 1 uid 5 BODY[] " + std::to_string(m1.size()), "end",
                                                  "begin 2 uid 9 BODY[] " + std::to_string(m2.size()), "end"});
    CHECK(sink.bytes == m1 + m2);
    auto f1 = parse_fetch(all[0]);
    REQUIRE(f1);
    CHECK(f1->uid == 5u);
    CHECK(f1->size == m1.size());
    CHECK(f1->body_size == m1.size());
    CHECK_FALSE(f1->body);
    auto f2 = parse_fetch(all[1]);
    REQUIRE(f2);
    CHECK(f2->flags == std::vector<std::string>{"\\Seen"});
    CHECK(all[2].status == Status::ok);
    if (step == 1) CHECK(sink.data_calls == m1.size() + m2.size());
  }
}

TEST_CASE("imap response: a refused message literal is skipped, not buffered", "[imap][response][literal]") {
  Recorder sink;
  sink.take = false;
  std::string body(3 * 1024 * 1024, 'x');  // over the buffered limit: skipping must not buffer it
  auto all = parse_all("* 1 FETCH (UID 5 BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + ")\r\n", 4096, &sink);
  REQUIRE(all.size() == 1);
  CHECK(sink.bytes.empty());
  CHECK(sink.events.size() == 1);
  CHECK(all[0].data[4].kind == TokenKind::streamed);
  CHECK(all[0].data[4].number == body.size());
}

TEST_CASE("imap response: literals outside message bodies are buffered and bounded", "[imap][response][literal]") {
  auto r = one("* LIST () \"/\" {7}\r\nfoo bar\r\n");
  CHECK(r.data.back().kind == TokenKind::string);
  CHECK(r.data.back().text == "foo bar");
  // Without a sink a body literal is buffered too (up to the buffered limit).
  auto f = parse_fetch(one("* 1 FETCH (UID 3 BODY[] {3}\r\nabc)\r\n"));
  REQUIRE(f);
  CHECK(f->body == "abc");
  CHECK(error_of("* LIST () \"/\" {2000000}\r\n") == ParseErrorKind::literal_too_large);
}

TEST_CASE("imap response: hostile input ends in a typed error", "[imap][response][hostile]") {
  Recorder sink;
  SECTION("a literal of 2^63 bytes") {
    CHECK(error_of("* 1 FETCH (UID 1 BODY[] {9223372036854775808}\r\n", {}, &sink) == ParseErrorKind::literal_too_large);
    CHECK(error_of("* 1 FETCH (UID 1 BODY[] {99999999999999999999999}\r\n", {}, &sink) ==
          ParseErrorKind::literal_too_large);
    CHECK(sink.events.empty());
  }
  SECTION("unbalanced parentheses") {
    CHECK(error_of("* 1 FETCH (UID 1))\r\n") == ParseErrorKind::unbalanced);
    CHECK(error_of("* 1 FETCH ((UID 1)\r\n") == ParseErrorKind::unbalanced);
  }
  SECTION("10,000 nesting levels") {
    CHECK(error_of("* 1 FETCH " + std::string(10000, '(') + std::string(10000, ')') + "\r\n") == ParseErrorKind::too_deep);
  }
  SECTION("an endless line") {
    Parser p;
    std::string chunk(64 * 1024, 'a');
    bool thrown = false;
    try {
      p.feed("* SEARCH ");
      for (int i = 0; i < 100; ++i) p.feed(chunk);  // 6.4 MB without a line end
    } catch (const ParseError& e) {
      thrown = true;
      CHECK(e.kind() == ParseErrorKind::line_too_long);
    }
    CHECK(thrown);
  }
  SECTION("too many values in one response") {
    std::string many = "* SEARCH";
    for (int i = 0; i < 300000; ++i) many += " 1";
    CHECK(error_of(many + "\r\n") == ParseErrorKind::response_too_large);
  }
  SECTION("garbage") {
    CHECK(error_of("\r\n") == ParseErrorKind::syntax);
    CHECK(error_of("hello there\r\n") == ParseErrorKind::syntax);
    CHECK(error_of("* \r\n") == ParseErrorKind::syntax);
    CHECK(error_of("* SEARCH \"open\r\n") == ParseErrorKind::syntax);
    CHECK(error_of("* SEARCH \"bad \\x escape\"\r\n") == ParseErrorKind::syntax);
    CHECK(error_of("* SEARCH {5} trailing\r\n") == ParseErrorKind::syntax);
    CHECK(error_of("* SEARCH {}\r\n") == ParseErrorKind::syntax);
    CHECK(error_of("* SEARCH a\x01" "b\r\n") == ParseErrorKind::syntax);
    CHECK(error_of("* 1 FETCH (BODY[HEADER\r\n") == ParseErrorKind::syntax);
  }
}

TEST_CASE("imap response: sequence sets join ranges", "[imap][response]") {
  CHECK(sequence_set({}) == "");
  CHECK(sequence_set({7}) == "7");
  CHECK(sequence_set({3, 1, 2, 7, 9, 10, 10}) == "1:3,7,9:10");
  CHECK(sequence_set({4294967295u, 4294967294u}) == "4294967294:4294967295");
}
