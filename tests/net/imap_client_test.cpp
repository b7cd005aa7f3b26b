// IMAP client session tests: the real imap::Client against scripted servers (transcripts in
// tests/transcripts/imap/), checking every byte sent, what the sink heard, the failure kinds, and
// that error messages are plain words without the password or token.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "imap/client.hpp"
#include "run.hpp"
#include "script_transport.hpp"
#include "util/log.hpp"

namespace asio = boost::asio;
using namespace pb::imap;
using pb::test::run;
using pb::test::ScriptTransport;
using namespace std::string_literals;

namespace {

constexpr const char* kPassword = "s3cret";
constexpr const char* kPlainCreds = "AGFsaWNlAHMzY3JldA==";  // base64("\0alice\0s3cret")
constexpr const char* kToken = "ya29.token";

template <class T>
ImapError imap_error(asio::awaitable<T> work) {
  try {
    run(std::move(work));
  } catch (const ImapError& e) {
    return e;
  }
  FAIL("expected an ImapError");
  throw std::logic_error("unreachable");
}

std::string transcript(const std::string& name) {
  return pb::test::read_transcript(PB_TEST_DATA "/transcripts/imap/" + name);
}

ScriptTransport implicit_tls(const std::string& script) {
  ScriptTransport t(script, "imap.test:993");
  t.set_initial_tls(true);
  return t;
}

ClientOptions options(Security security = Security::implicit) {
  ClientOptions o;
  o.security = security;
  o.username = "alice";
  o.password = kPassword;
  o.timeout = std::chrono::seconds(3);
  return o;
}

bool sent_anywhere(const ScriptTransport& t, const std::string& needle) {
  return std::any_of(t.writes().begin(), t.writes().end(),
                     [&](const auto& w) { return w.bytes.find(needle) != std::string::npos; });
}

void check_no_credentials_sent(const ScriptTransport& t) {
  for (const char* word : {"LOGIN", "AUTHENTICATE", kPassword, kPlainCreds}) {
    INFO(word);
    CHECK_FALSE(sent_anywhere(t, word));
  }
}

// An admin reads what() in the log and on the status page: printable, naming the server, no secret.
void check_plain_words(const ImapError& e, const std::string& peer = "imap.test:993") {
  std::string what = e.what();
  INFO(what);
  CHECK(std::none_of(what.begin(), what.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
  CHECK_THAT(what, Catch::Contains(peer));
  CHECK_THAT(what, !Catch::Contains(kPassword) && !Catch::Contains(kPlainCreds) && !Catch::Contains(kToken));
}

class RecordingSink final : public FetchSink {
 public:
  void begin(std::uint32_t uid, std::uint64_t size) override {
    events.push_back("begin " + std::to_string(uid) + " " + std::to_string(size));
    current = uid;
  }
  void data(std::string_view bytes) override { bodies[current].append(bytes); }
  void end(std::uint32_t uid) override { events.push_back("end " + std::to_string(uid)); }
  void missing(std::uint32_t uid, const std::string& why) override {
    events.push_back("missing " + std::to_string(uid) + ": " + why);
  }
  std::vector<std::string> events;
  std::map<std::uint32_t, std::string> bodies;
  std::uint32_t current = 0;
};

}  // namespace

TEST_CASE("imap client: implicit TLS, SELECT, listing, two streamed messages, UID EXPUNGE", "[imap][client]") {
  std::size_t max_read = GENERATE(std::size_t(1) << 20, std::size_t(1));  // also every byte on its own
  ScriptTransport t = implicit_tls(transcript("select_fetch.txt"));
  t.set_max_read(max_read);
  Client c(t, options());
  run(c.open());
  CHECK(c.state() == State::authenticated);
  CHECK(c.login_method() == "AUTHENTICATE PLAIN");
  CHECK(c.capabilities().has("UIDPLUS"));  // from the login's OK, not asked again

  MailboxInfo box = run(c.select("INBOX"));
  CHECK(c.state() == State::selected);
  CHECK(box.uidvalidity == 1764000000u);
  CHECK(box.uidnext == 12u);
  CHECK(box.exists == 2);
  CHECK_FALSE(box.read_only);

  auto listing = run(c.list_uids());
  REQUIRE(listing.size() == 2);
  CHECK(listing[0].uid == 7);
  CHECK(listing[0].size == 43);
  CHECK(listing[1].uid == 11);

  RecordingSink sink;
  run(c.fetch({7, 11}, sink));
  CHECK(sink.events == std::vector<std::string>{"begin 7 43", "end 7", "begin 11 27", "end 11"});
  // Bytes exactly as sent: a line that looks like a response is message text, no line end is added.
  CHECK(sink.bodies[7] == "Subject: one\r\n\r\n* 3 EXISTS\r\nA0004 OK fake\r\n");
  CHECK(sink.bodies[11] == "Subject: two\r\n\r\nno line end");
  for (const auto& e : listing) CHECK(sink.bodies[e.uid].size() == e.size);
  CHECK(c.exists() == 2);  // the "* 3 EXISTS" inside the message changed nothing

  run(c.add_flag({11, 7}, Flag::deleted));
  run(c.expunge({7, 11}));
  CHECK(c.exists() == 0);
  CHECK(run(c.logout()));
  CHECK(c.state() == State::logout);
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: pipelined UID FETCH batches and messages gone meanwhile", "[imap][client]") {
  std::string script =
      "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\n"
      "C: A0001 AUTHENTICATE PLAIN "s + kPlainCreds + "\n"
      "S: A0001 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\n"
      "C: A0002 SELECT \"INBOX\"\nS: * 5 EXISTS\nS: * OK [UIDVALIDITY 1] x\nS: A0002 OK done\n"
      "C~ A0003 UID FETCH 1:2 (UID RFC822.SIZE BODY.PEEK[])\\r\\nA0004 UID FETCH 3:4 (UID RFC822.SIZE BODY.PEEK[])\\r\\n\n"
      "S: * 1 FETCH (UID 1 BODY[] {1}\nS~ a)\\r\\n\n"
      "S: A0003 OK Fetch completed.\n"
      "C: A0005 UID FETCH 9 (UID RFC822.SIZE BODY.PEEK[])\n"
      "S: * 3 FETCH (UID 3 BODY[] \"c\")\n"
      "S: * 4 FETCH (UID 4 BODY[] {1}\nS~ d)\\r\\n\n"
      "S: A0004 OK Fetch completed.\n"
      "S: A0005 NO [SERVERBUG] Internal error\n";
  ScriptTransport t = implicit_tls(script);
  ClientOptions o = options();
  o.fetch_batch = 2;
  o.pipeline_window = 2;
  Client c(t, o);
  run(c.open());
  run(c.select("INBOX"));
  RecordingSink sink;
  run(c.fetch({1, 2, 3, 4, 9}, sink));
  CHECK(sink.events == std::vector<std::string>{"begin 1 1", "end 1", "missing 2: not in the mailbox any more",
                                                "begin 3 1", "end 3", "begin 4 1", "end 4",
                                                "missing 9: NO [SERVERBUG] Internal error"});
  CHECK(sink.bodies[3] == "c");
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: STARTTLS discards injected plain text and asks CAPABILITY again", "[imap][client][tls]") {
  ScriptTransport t(transcript("starttls.txt"), "imap.test:143");
  Client c(t, options(Security::starttls));
  run(c.open());
  CHECK(t.is_tls());
  CHECK(c.login_method() == "LOGIN");
  CHECK_FALSE(c.capabilities().has("LOGINDISABLED"));
  CHECK(c.capabilities().has("ENABLE"));  // from the LOGIN's OK
  CHECK(run(c.logout()));
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: STARTTLS not offered, refused or failing: a TLS error before any credential",
          "[imap][client][tls]") {
  SECTION("not offered") {
    ScriptTransport t("S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n", "imap.test:143");
    ImapError e = imap_error(Client(t, options(Security::starttls)).open());
    CHECK(e.kind() == FailureKind::tls);
    CHECK_THAT(e.what(), Catch::Contains("does not offer STARTTLS"));
    check_plain_words(e, "imap.test:143");
    REQUIRE(t.problems() == "");
    CHECK(t.writes().empty());
  }
  SECTION("refused") {
    ScriptTransport t("S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\nC: A0001 STARTTLS\nS: A0001 BAD not now\n",
                      "imap.test:143");
    ImapError e = imap_error(Client(t, options(Security::starttls)).open());
    CHECK(e.kind() == FailureKind::tls);
    CHECK_THAT(e.what(), Catch::Contains("refused STARTTLS: BAD not now"));
    REQUIRE(t.problems() == "");
    check_no_credentials_sent(t);
  }
  SECTION("handshake failure") {
    ScriptTransport t("S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\nC: A0001 STARTTLS\nS: A0001 OK go\nTLS-FAIL\n",
                      "imap.test:143");
    ImapError e = imap_error(Client(t, options(Security::starttls)).open());
    CHECK(e.kind() == FailureKind::tls);
    CHECK_THAT(e.what(), Catch::Contains("certificate verify failed"));
    REQUIRE(t.problems() == "");
    check_no_credentials_sent(t);
  }
  SECTION("no TLS and allow_plaintext = false") {
    ScriptTransport t("S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n", "imap.test:143");
    ImapError e = imap_error(Client(t, options(Security::none)).open());
    CHECK(e.kind() == FailureKind::tls);
    CHECK_THAT(e.what(), Catch::Contains("without TLS"));
    REQUIRE(t.problems() == "");
    CHECK(t.writes().empty());
  }
}

TEST_CASE("imap client: greeting variants", "[imap][client]") {
  SECTION("BYE is a temporary refusal") {
    ScriptTransport t = implicit_tls(transcript("greeting_bye.txt"));
    ImapError e = imap_error(Client(t, options()).open());
    CHECK(e.kind() == FailureKind::temporary);
    CHECK_THAT(e.what(), Catch::Contains("refused the connection: * BYE Too many connections"));
    check_plain_words(e);
    REQUIRE(t.problems() == "");
    CHECK(t.writes().empty());
  }
  SECTION("PREAUTH where STARTTLS was required is a TLS error") {
    ScriptTransport t(transcript("preauth_plain.txt"), "imap.test:143");
    ImapError e = imap_error(Client(t, options(Security::starttls)).open());
    CHECK(e.kind() == FailureKind::tls);
    CHECK_THAT(e.what(), Catch::Contains("PREAUTH"));
    REQUIRE(t.problems() == "");
    CHECK(t.writes().empty());
  }
  SECTION("PREAUTH over TLS is a session without login") {
    ScriptTransport t = implicit_tls("S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] hello alice\n");
    Client c(t, options());
    run(c.open());
    CHECK(c.state() == State::authenticated);
    CHECK(c.login_method() == "PREAUTH");
    REQUIRE(t.problems() == "");
    check_no_credentials_sent(t);
  }
  SECTION("garbage is a protocol error, quoted printably") {
    ScriptTransport t = implicit_tls("S~ +OK POP3 ready \\x1b[1m\\r\\n\n");
    ImapError e = imap_error(Client(t, options()).open());
    CHECK(e.kind() == FailureKind::protocol);
    check_plain_words(e);
  }
}

TEST_CASE("imap client: LOGINDISABLED without another mechanism sends no password", "[imap][client][auth]") {
  ScriptTransport t = implicit_tls(transcript("logindisabled.txt"));
  ImapError e = imap_error(Client(t, options()).open());
  CHECK(e.kind() == FailureKind::unsupported);
  CHECK_THAT(e.what(), Catch::Contains("LOGINDISABLED"));
  check_plain_words(e);
  REQUIRE(t.problems() == "");
  CHECK(t.writes().empty());
}

TEST_CASE("imap client: LOGIN rejected with AUTHENTICATIONFAILED is an auth failure", "[imap][client][auth]") {
  ScriptTransport t = implicit_tls(transcript("login_rejected.txt"));
  ImapError e = imap_error(Client(t, options()).open());
  CHECK(e.kind() == FailureKind::auth);
  CHECK_FALSE(e.token_rejected());
  CHECK_THAT(e.what(), Catch::Contains("rejected the login (LOGIN): NO [AUTHENTICATIONFAILED] Authentication failed."));
  check_plain_words(e);
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: response codes to the login decide the failure kind", "[imap][client][auth]") {
  struct Case {
    std::string reply;
    FailureKind kind;
  };
  auto [reply, kind] = GENERATE(values<Case>({
      {"NO [UNAVAILABLE] Backend down", FailureKind::temporary},    // RFC 5530 3
      {"NO [PRIVACYREQUIRED] Use TLS", FailureKind::tls},           // RFC 5530 3
      {"NO [AUTHORIZATIONFAILED] Not you", FailureKind::auth},
      {"NO bad", FailureKind::auth},
      {"BAD syntax", FailureKind::protocol},
  }));
  INFO(reply);
  ScriptTransport t = implicit_tls("S: * OK [CAPABILITY IMAP4rev1] ready\nC: A0001 LOGIN \"alice\" \"s3cret\"\nS: A0001 " +
                                   reply + "\n");
  ImapError e = imap_error(Client(t, options()).open());
  CHECK(e.kind() == kind);
  check_plain_words(e);
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: a password that cannot be quoted goes as a literal", "[imap][client][auth]") {
  ScriptTransport t = implicit_tls(transcript("login_literal.txt"));
  ClientOptions o = options();
  o.password = "s\xC3\xA9" "cret";
  Client c(t, o);
  run(c.open());
  CHECK(c.capabilities().has("UIDPLUS"));
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: XOAUTH2 error challenge is answered with an empty line, token rejected",
          "[imap][client][auth][oauth]") {
  ScriptTransport t = implicit_tls(transcript("xoauth2_rejected.txt"));
  ClientOptions o = options();
  o.oauth_mechanism = "XOAUTH2";
  o.bearer_token = kToken;
  ImapError e = imap_error(Client(t, o).open());
  CHECK(e.kind() == FailureKind::auth);
  CHECK(e.token_rejected());
  CHECK_THAT(e.what(), Catch::Contains("rejected the OAuth access token (401"));
  check_plain_words(e);
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: OAuth mechanism not offered: the token is not sent", "[imap][client][auth][oauth]") {
  ScriptTransport t = implicit_tls("S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n");
  ClientOptions o = options();
  o.oauth_mechanism = "OAUTHBEARER";
  o.bearer_token = kToken;
  ImapError e = imap_error(Client(t, o).open());
  CHECK(e.kind() == FailureKind::unsupported);
  REQUIRE(t.problems() == "");
  CHECK(t.writes().empty());
}

TEST_CASE("imap client: connection cut mid-literal: begin without end", "[imap][client]") {
  ScriptTransport t = implicit_tls(transcript("fetch_cut.txt"));
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  RecordingSink sink;
  ImapError e = imap_error(c.fetch({5}, sink));
  CHECK(e.kind() == FailureKind::connection);
  check_plain_words(e);
  CHECK(sink.events == std::vector<std::string>{"begin 5 100"});
  CHECK(sink.bodies[5] == "Subject: cut short\r\n\r\nfirst half of");
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: two bodies in one FETCH response are a protocol error, not more of one message",
          "[imap][client]") {
  ScriptTransport t = implicit_tls(transcript("fetch_two_bodies.txt"));
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  RecordingSink sink;
  ImapError e = imap_error(c.fetch({5}, sink));
  CHECK(e.kind() == FailureKind::protocol);
  CHECK_THAT(e.what(), Catch::Contains("second message body"));
  CHECK(sink.events == std::vector<std::string>{"begin 5 14"});
}

TEST_CASE("imap client: a listing longer than the mailbox is a protocol error", "[imap][client]") {
  ScriptTransport t = implicit_tls(transcript("list_flood.txt"));
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  ImapError e = imap_error(c.list_uids());
  CHECK(e.kind() == FailureKind::protocol);
  CHECK_THAT(e.what(), Catch::Contains("listed more messages than the 2 its mailbox holds"));
}

TEST_CASE("imap client: without UIDPLUS expunge is unsupported and no EXPUNGE is sent", "[imap][client]") {
  ScriptTransport t = implicit_tls(transcript("no_uidplus.txt"));
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  run(c.add_flag({1, 2}, Flag::deleted));
  ImapError e = imap_error(c.expunge({1, 2}));
  CHECK(e.kind() == FailureKind::unsupported);
  CHECK_THAT(e.what(), Catch::Contains("UIDPLUS"));
  ImapError m = imap_error(c.move({1}, "Archive"));
  CHECK(m.kind() == FailureKind::unsupported);
  REQUIRE(t.problems() == "");
  CHECK_FALSE(sent_anywhere(t, "EXPUNGE"));
}

TEST_CASE("imap client: UID MOVE and a missing target folder", "[imap][client]") {
  std::string start = "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\nC: A0001 AUTHENTICATE PLAIN "s +
                      kPlainCreds + "\nS: A0001 OK [CAPABILITY IMAP4rev1 MOVE UIDPLUS] ok\n" +
                      "C: A0002 SELECT \"INBOX\"\nS: * 3 EXISTS\nS: * OK [UIDVALIDITY 9] x\nS: A0002 OK done\n" +
                      "C: A0003 UID MOVE 1:3 \"Archive\"\nS: * OK [COPYUID 9 1:3 4:6] Moved\nS: * 3 EXPUNGE\n" +
                      "S: * 2 EXPUNGE\nS: * 1 EXPUNGE\nS: A0003 OK Move completed.\n" +
                      "C: A0004 UID MOVE 4 \"Nowhere\"\nS: A0004 NO [TRYCREATE] Mailbox doesn't exist: Nowhere\n";
  ScriptTransport t = implicit_tls(start);
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  run(c.move({3, 1, 2}, "Archive"));
  CHECK(c.exists() == 0);
  ImapError e = imap_error(c.move({4}, "Nowhere"));
  CHECK(e.kind() == FailureKind::protocol);
  CHECK_THAT(e.what(), Catch::Contains("has no folder Nowhere"));
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: IDLE woken by EXISTS sends DONE at once", "[imap][client][idle]") {
  ScriptTransport t = implicit_tls(transcript("idle_exists.txt"));
  Client c(t, options());
  run(c.open());
  CHECK(run(c.select("INBOX")).exists == 2);
  auto started = std::chrono::steady_clock::now();
  IdleResult r = run(c.idle(std::chrono::minutes(29)));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(r.new_mail);
  CHECK(r.exists == 3);
  REQUIRE(t.problems() == "");
  CHECK(t.timeout() == std::chrono::seconds(3));  // the normal timeout is back after IDLE
}

TEST_CASE("imap client: IDLE renewal sends DONE when the time passes", "[imap][client][idle]") {
  ScriptTransport t = implicit_tls(transcript("idle_renew.txt"));
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  auto started = std::chrono::steady_clock::now();
  IdleResult r = run(c.idle(std::chrono::milliseconds(50)));
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= std::chrono::milliseconds(50));
  CHECK(took < std::chrono::seconds(5));
  CHECK_FALSE(r.new_mail);
  CHECK(r.exists == 0);
  REQUIRE(t.problems() == "");
  // While idling the read may wait for the renewal plus the normal timeout, and not longer.
  auto done = std::find_if(t.writes().begin(), t.writes().end(), [](const auto& w) { return w.bytes == "DONE\r\n"; });
  REQUIRE(done != t.writes().end());
  CHECK(done->timeout == std::chrono::milliseconds(3050));
}

TEST_CASE("imap client: BYE during IDLE is a connection failure with the server's words", "[imap][client][idle]") {
  ScriptTransport t = implicit_tls(transcript("idle_bye.txt"));
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  ImapError e = imap_error(c.idle(std::chrono::minutes(29)));
  CHECK(e.kind() == FailureKind::connection);
  CHECK_THAT(e.what(), Catch::Contains("closed the connection: * BYE Server shutting down."));
  check_plain_words(e);
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: SELECT without UIDVALIDITY or refused", "[imap][client]") {
  std::string start = "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\nC: A0001 AUTHENTICATE PLAIN "s +
                      kPlainCreds + "\nS: A0001 OK [CAPABILITY IMAP4rev1] ok\nC: A0002 SELECT \"INBOX\"\n";
  SECTION("no UIDVALIDITY") {
    ScriptTransport t = implicit_tls(start + "S: * 1 EXISTS\nS: A0002 OK done\n");
    Client c(t, options());
    run(c.open());
    ImapError e = imap_error(c.select("INBOX"));
    CHECK(e.kind() == FailureKind::protocol);
    CHECK_THAT(e.what(), Catch::Contains("UIDVALIDITY"));
    REQUIRE(t.problems() == "");
  }
  SECTION("NO [UNAVAILABLE]") {
    ScriptTransport t = implicit_tls(start + "S: A0002 NO [UNAVAILABLE] Mailbox locked\n");
    Client c(t, options());
    run(c.open());
    ImapError e = imap_error(c.select("INBOX"));
    CHECK(e.kind() == FailureKind::temporary);
    CHECK(c.state() == State::authenticated);
    REQUIRE(t.problems() == "");
  }
}

TEST_CASE("imap client: a malformed or endless response is a protocol error", "[imap][client]") {
  SECTION("nesting") {
    ScriptTransport t = implicit_tls("S: * OK [CAPABILITY IMAP4rev1] ready\nC: A0001 LOGIN \"alice\" \"s3cret\"\nS: * 1 FETCH " +
                                     std::string(10000, '(') + "\n");
    ImapError e = imap_error(Client(t, options()).open());
    CHECK(e.kind() == FailureKind::protocol);
    CHECK_THAT(e.what(), Catch::Contains("nested deeper"));
    check_plain_words(e);
  }
  SECTION("an endless line") {
    ScriptTransport t = implicit_tls("S: * OK [CAPABILITY IMAP4rev1] ready\nC: A0001 LOGIN \"alice\" \"s3cret\"\nS: <ENDLESS>\n");
    t.define_block("ENDLESS", "* SEARCH " + std::string(2 * 1024 * 1024, '1'));
    ImapError e = imap_error(Client(t, options()).open());
    CHECK(e.kind() == FailureKind::protocol);
    CHECK_THAT(e.what(), Catch::Contains("longer than"));
  }
}

TEST_CASE("imap client: a 5 MB message is streamed in pieces, never buffered whole", "[imap][client]") {
  std::string body;
  for (int i = 0; body.size() < 5 * 1024 * 1024; ++i) body += "line " + std::to_string(i) + " of a large message\r\n";
  std::string script = "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\nC: A0001 AUTHENTICATE PLAIN "s +
                       kPlainCreds + "\nS: A0001 OK [CAPABILITY IMAP4rev1] ok\n" +
                       "C: A0002 SELECT \"INBOX\"\nS: * 1 EXISTS\nS: * OK [UIDVALIDITY 9] x\nS: A0002 OK done\n" +
                       "C: A0003 UID FETCH 3 (UID RFC822.SIZE BODY.PEEK[])\n" +
                       "S: * 1 FETCH (UID 3 RFC822.SIZE " + std::to_string(body.size()) + " BODY[] {" +
                       std::to_string(body.size()) + "}\nS: <BIG>\nS: )\nS: A0003 OK done\n";
  ScriptTransport t = implicit_tls(script);
  t.define_block("BIG", body);
  struct Chunks final : FetchSink {
    std::size_t bytes = 0, largest = 0, pieces = 0;
    std::string copy;
    void begin(std::uint32_t, std::uint64_t) override {}
    void data(std::string_view b) override {
      bytes += b.size();
      largest = std::max(largest, b.size());
      ++pieces;
      copy.append(b);
    }
    void end(std::uint32_t) override {}
    void missing(std::uint32_t, const std::string&) override { FAIL("missing"); }
  } sink;
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  run(c.fetch({3}, sink));
  CHECK(sink.copy == body);
  CHECK(sink.largest <= 64 * 1024);  // at most one read buffer at a time
  CHECK(sink.pieces >= body.size() / (64 * 1024));
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: a long UID list is split into commands of at most 1000 bytes of set", "[imap][client]") {
  std::vector<std::uint32_t> uids;
  std::string first, second;
  for (std::uint32_t u = 1; u < 800; u += 2) {
    uids.push_back(u);
    std::string& set = u <= 527 ? first : second;
    set += (set.empty() ? "" : ",") + std::to_string(u);
  }
  REQUIRE(first.size() == 1000);
  std::string script = "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\nC: A0001 AUTHENTICATE PLAIN "s +
                       kPlainCreds + "\nS: A0001 OK [CAPABILITY IMAP4rev1 UIDPLUS] ok\n" +
                       "C: A0002 SELECT \"INBOX\"\nS: * 800 EXISTS\nS: * OK [UIDVALIDITY 9] x\nS: A0002 OK done\n" +
                       "C: A0003 UID STORE " + first + " +FLAGS.SILENT (\\Seen)\nS: A0003 OK\n" +
                       "C: A0004 UID STORE " + second + " +FLAGS.SILENT (\\Seen)\nS: A0004 OK\n";
  ScriptTransport t = implicit_tls(script);
  Client c(t, options());
  run(c.open());
  run(c.select("INBOX"));
  run(c.add_flag(uids, Flag::seen));
  REQUIRE(t.problems() == "");
}

TEST_CASE("imap client: the debug trace shows commands with the password and token masked", "[imap][client][auth]") {
  // The log writes to stderr: catch it in a file for the length of the sessions.
  char path[] = "/tmp/pb-imap-trace-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  int saved = dup(2);
  dup2(fd, 2);
  pb::log::set_min_level(pb::log::Level::debug);
  {
    ScriptTransport t(transcript("starttls.txt"), "imap.test:143");
    Client c(t, options(Security::starttls));
    run(c.open());
    run(c.logout());
    ScriptTransport o = implicit_tls(transcript("xoauth2_rejected.txt"));
    ClientOptions oo = options();
    oo.oauth_mechanism = "XOAUTH2";
    oo.bearer_token = kToken;
    imap_error(Client(o, oo).open());
    ScriptTransport p = implicit_tls(transcript("select_fetch.txt"));
    Client pc(p, options());
    run(pc.open());
  }
  pb::log::set_min_level(pb::log::Level::info);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  std::string trace = text.str();
  INFO(trace);
  CHECK_THAT(trace, Catch::Contains("C: A0004 LOGIN alice ****"));
  CHECK_THAT(trace, Catch::Contains("C: A0001 AUTHENTICATE XOAUTH2 ****"));
  CHECK_THAT(trace, Catch::Contains("C: A0001 AUTHENTICATE PLAIN ****"));
  CHECK_THAT(trace, Catch::Contains("not-authenticated -> authenticated"));
  CHECK_THAT(trace, !Catch::Contains(kPassword) && !Catch::Contains(kPlainCreds) && !Catch::Contains(kToken) &&
                        !Catch::Contains("dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LnRva2VuAQE="));
}
