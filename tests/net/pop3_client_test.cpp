// POP3 client session tests: the real pop3::Client against scripted servers (transcripts in
// tests/transcripts/pop3/), checking every byte sent, the write batching, what the sink heard and
// the failure kinds, and that error messages are plain words without the password.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pop3/client.hpp"
#include "run.hpp"
#include "script_transport.hpp"
#include "util/base64.hpp"

namespace asio = boost::asio;
using namespace pb::pop3;
using pb::test::run;
using pb::test::ScriptTransport;
using namespace std::string_literals;

namespace {

constexpr const char* kPassword = "s3cret";
constexpr const char* kPlainCreds = "AGFsaWNlAHMzY3JldA==";  // base64("\0alice\0s3cret")

template <class T>
Pop3Error pop3_error(asio::awaitable<T> work) {
  try {
    run(std::move(work));
  } catch (const Pop3Error& e) {
    return e;
  }
  FAIL("expected a Pop3Error");
  throw std::logic_error("unreachable");
}

std::string transcript(const std::string& name) {
  return pb::test::read_transcript(PB_TEST_DATA "/transcripts/pop3/" + name);
}

// The usual provider setup: implicit TLS on 995 (the transport starts as TLS).
ScriptTransport implicit_tls(const std::string& script) {
  ScriptTransport t(script, "pop.test:995");
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

std::vector<std::string> written(const ScriptTransport& t) {
  std::vector<std::string> out;
  for (const auto& w : t.writes()) out.push_back(w.bytes);
  return out;
}

bool sent_anywhere(const ScriptTransport& t, const std::string& needle) {
  return std::any_of(t.writes().begin(), t.writes().end(),
                     [&](const auto& w) { return w.bytes.find(needle) != std::string::npos; });
}

// No credential left the client: the checks of every "refuse to log in" case.
void check_no_credentials_sent(const ScriptTransport& t) {
  for (const char* word : {"USER", "PASS", "APOP", "AUTH", kPassword, kPlainCreds}) {
    INFO(word);
    CHECK_FALSE(sent_anywhere(t, word));
  }
}

// An admin reads what() in the log and on the status page: printable, a sentence naming the
// server, never the password (in clear or base64).
void check_plain_words(const Pop3Error& e, const std::string& peer = "pop.test:995") {
  std::string what = e.what();
  INFO(what);
  CHECK(std::none_of(what.begin(), what.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
  CHECK_THAT(what, Catch::Contains(peer));
  CHECK_THAT(what, !Catch::Contains(kPassword) && !Catch::Contains(kPlainCreds));
}

// Records what the client hands to a sink: events in order and each message's decoded bytes.
class RecordingSink final : public RetrSink {
 public:
  void begin(std::uint32_t number) override {
    events.push_back("begin " + std::to_string(number));
    bodies[number].clear();
    current = number;
  }
  void data(std::string_view line) override {
    lines[current].emplace_back(line);
    bodies[current].append(line);
  }
  void end(std::uint32_t number) override { events.push_back("end " + std::to_string(number)); }
  void refused(std::uint32_t number, const std::string& reply) override {
    events.push_back("refused " + std::to_string(number) + ": " + reply);
  }

  std::vector<std::string> events;
  std::map<std::uint32_t, std::string> bodies;
  std::map<std::uint32_t, std::vector<std::string>> lines;
  std::uint32_t current = 0;
};

// The sink API promises lines that end with CRLF and hold no other line end.
void check_crlf_lines(const RecordingSink& sink) {
  for (const auto& [number, lines] : sink.lines)
    for (const auto& line : lines) {
      INFO("message " << number << " line \"" << line << "\"");
      REQUIRE(line.size() >= 2);
      CHECK(line.substr(line.size() - 2) == "\r\n");
      CHECK(line.find_first_of("\r\n") == line.size() - 2);
    }
}

}  // namespace

TEST_CASE("pop3 client: implicit TLS, AUTH PLAIN, pipelined RETR and DELE, dot-unstuffing", "[pop3][client]") {
  std::size_t max_read = GENERATE(std::size_t(1) << 20, std::size_t(1));  // also reply bytes one by one
  ScriptTransport t = implicit_tls(transcript("implicit_tls_pipelining.txt"));
  t.set_max_read(max_read);
  Client c(t, options());
  run(c.open());
  CHECK(c.login_method() == "SASL PLAIN");
  CHECK(c.capabilities().pipelining);
  CHECK(c.capabilities().has_sasl("PLAIN"));

  auto uidls = run(c.uidl());
  REQUIRE(uidls);
  REQUIRE(uidls->size() == 3);
  CHECK((*uidls)[0].number == 1);
  CHECK((*uidls)[0].uid == "000000014f1e2b3c");
  CHECK((*uidls)[2].uid == "000000034f1e2b3c");
  auto sizes = run(c.list());
  REQUIRE(sizes.size() == 3);

  RecordingSink sink;
  run(c.retrieve({1, 2, 3}, sink));
  CHECK(sink.events == std::vector<std::string>{"begin 1", "end 1", "begin 2", "end 2", "begin 3", "end 3"});
  // RFC 1939 3: "..", "...", "..x" lose their first dot; the line "." of message 1 arrived as "..".
  CHECK(sink.bodies[1] == "Subject: dots\r\n\r\n.\r\n..two dots\r\n.leading dot\r\nmiddle . dot\r\n");
  CHECK(sink.bodies[2] == "Subject: two\r\n\r\nsecond message\r\n");
  CHECK(sink.bodies[3] == "Subject: three\r\n\r\n.\r\n");
  for (const auto& e : sizes) CHECK(sink.bodies[e.number].size() == e.size);  // the listing's octets
  check_crlf_lines(sink);
  CHECK(c.stats().bare_lf_lines == 0);
  CHECK(c.stats().nul_bytes == 0);

  CHECK(run(c.dele({1, 2, 3})) == std::vector<std::uint32_t>{1, 2, 3});
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");

  auto w = written(t);
  REQUIRE(w.size() == 7);
  CHECK(w[1] == std::string("AUTH PLAIN ") + kPlainCreds + "\r\n");
  auto creds = pb::base64::decode(w[1].substr(11, w[1].size() - 13));
  REQUIRE(creds);
  CHECK(*creds == "\0alice\0s3cret"s);  // RFC 4616 2: authzid NUL authcid NUL passwd
  CHECK(w[4] == "RETR 1\r\nRETR 2\r\nRETR 3\r\n");  // RFC 2449 6.6: one write, three commands in flight
  CHECK(w[5] == "DELE 1\r\nDELE 2\r\nDELE 3\r\n");
  CHECK(w[6] == "QUIT\r\n");
  for (const auto& write : t.writes()) CHECK(write.timeout == std::chrono::seconds(3));
}

TEST_CASE("pop3 client: without PIPELINING each RETR and DELE waits for the previous reply", "[pop3][client]") {
  ScriptTransport t = implicit_tls(transcript("no_pipelining.txt"));
  Client c(t, options());
  run(c.open());
  CHECK_FALSE(c.capabilities().pipelining);
  RecordingSink sink;
  run(c.retrieve({1, 2, 3}, sink));
  CHECK(sink.events == std::vector<std::string>{"begin 1", "end 1", "begin 2", "end 2", "begin 3", "end 3"});
  CHECK(sink.bodies[2] == "Subject: two\r\n\r\n2\r\n");
  CHECK(run(c.dele({1, 2, 3})) == std::vector<std::uint32_t>{1, 2, 3});
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
  CHECK(written(t) == std::vector<std::string>{"CAPA\r\n", std::string("AUTH PLAIN ") + kPlainCreds + "\r\n",
                                               "RETR 1\r\n", "RETR 2\r\n", "RETR 3\r\n", "DELE 1\r\n", "DELE 2\r\n",
                                               "DELE 3\r\n", "QUIT\r\n"});
}

TEST_CASE("pop3 client: the pipeline window bounds the commands in flight", "[pop3][client]") {
  ScriptTransport t = implicit_tls(transcript("pipelining_window.txt"));
  ClientOptions o = options();
  o.pipeline_window = 2;
  Client c(t, o);
  run(c.open());
  RecordingSink sink;
  run(c.retrieve({1, 2, 3}, sink));
  CHECK(sink.bodies[3] == "three\r\n");
  CHECK(run(c.dele({1, 2, 3})) == std::vector<std::uint32_t>{1, 2, 3});
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
  CHECK(written(t) == std::vector<std::string>{"CAPA\r\n", std::string("AUTH PLAIN ") + kPlainCreds + "\r\n",
                                               "RETR 1\r\nRETR 2\r\n", "RETR 3\r\n", "DELE 1\r\nDELE 2\r\n",
                                               "DELE 3\r\n", "QUIT\r\n"});
}

TEST_CASE("pop3 client: STLS discards injected plain text and asks CAPA again over TLS", "[pop3][client][tls]") {
  ScriptTransport t(transcript("stls.txt"), "pop.test:110");
  Client c(t, options(Security::stls));
  run(c.open());
  CHECK(t.is_tls());
  // Capabilities come from the CAPA over TLS only: not the injected "SASL PLAIN", not the plain "STLS".
  CHECK_FALSE(c.capabilities().has_sasl("PLAIN"));
  CHECK_FALSE(c.capabilities().stls);
  CHECK(c.capabilities().uidl);
  CHECK(c.capabilities().pipelining);
  CHECK(c.login_method() == "USER/PASS");
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
  CHECK(written(t) == std::vector<std::string>{"CAPA\r\n", "STLS\r\n", "CAPA\r\n", "USER alice\r\n",
                                               "PASS s3cret\r\n", "QUIT\r\n"});
}

TEST_CASE("pop3 client: STLS refused or failing is a TLS error before any credential", "[pop3][client][tls]") {
  std::string start = "S: +OK POP3 ready\nC: CAPA\nS: +OK\nS: STLS\nS: SASL PLAIN\nS: .\nC: STLS\n";
  SECTION("-ERR to STLS") {
    ScriptTransport t(start + "S: -ERR [SYS/TEMP] TLS not available right now\n", "pop.test:110");
    Client c(t, options(Security::stls));
    Pop3Error e = pop3_error(c.open());
    CHECK(e.kind() == FailureKind::tls);
    CHECK_THAT(e.what(), Catch::Contains("refused STLS: -ERR [SYS/TEMP] TLS not available right now"));
    check_plain_words(e, "pop.test:110");
    REQUIRE(t.problems() == "");
    check_no_credentials_sent(t);
  }
  SECTION("handshake failure") {
    ScriptTransport t(start + "S: +OK Begin TLS negotiation\nTLS-FAIL\n", "pop.test:110");
    Client c(t, options(Security::stls));
    Pop3Error e = pop3_error(c.open());
    CHECK(e.kind() == FailureKind::tls);
    CHECK_THAT(e.what(), Catch::Contains("certificate verify failed"));
    check_plain_words(e, "pop.test:110");
    REQUIRE(t.problems() == "");
    check_no_credentials_sent(t);
  }
}

TEST_CASE("pop3 client: STLS required but not offered: no credentials, a TLS error", "[pop3][client][tls]") {
  ScriptTransport t(transcript("stls_not_offered.txt"), "pop.test:110");
  Client c(t, options(Security::stls));
  Pop3Error e = pop3_error(c.open());
  CHECK(e.kind() == FailureKind::tls);
  CHECK_THAT(e.what(), Catch::Contains("does not offer STLS"));
  check_plain_words(e, "pop.test:110");
  REQUIRE(t.problems() == "");
  CHECK(written(t) == std::vector<std::string>{"CAPA\r\n"});
  check_no_credentials_sent(t);
}

TEST_CASE("pop3 client: no TLS and allow_plaintext = false: no credentials, a TLS error", "[pop3][client][tls]") {
  ScriptTransport t(transcript("plaintext_refused.txt"), "pop.test:110");
  Client c(t, options(Security::none));
  Pop3Error e = pop3_error(c.open());
  CHECK(e.kind() == FailureKind::tls);
  CHECK_THAT(e.what(), Catch::Contains("without TLS"));
  check_plain_words(e, "pop.test:110");
  REQUIRE(t.problems() == "");
  CHECK(written(t) == std::vector<std::string>{"CAPA\r\n"});
  check_no_credentials_sent(t);
}

TEST_CASE("pop3 client: allow_plaintext = true logs in over plain text", "[pop3][client][auth]") {
  ScriptTransport t(transcript("plaintext_refused.txt") + "C: AUTH PLAIN " + kPlainCreds + "\nS: +OK\n",
                    "pop.test:110");
  ClientOptions o = options(Security::none);
  o.allow_plaintext = true;
  Client c(t, o);
  run(c.open());
  CHECK(c.login_method() == "SASL PLAIN");  // preferred over APOP, though the greeting has a timestamp
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: USER/PASS without SASL PLAIN and without an APOP timestamp", "[pop3][client][auth]") {
  ScriptTransport t = implicit_tls(transcript("user_pass.txt"));
  Client c(t, options());
  run(c.open());
  CHECK(c.login_method() == "USER/PASS");
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: APOP digest of RFC 1939's example when the greeting has a timestamp", "[pop3][client][auth]") {
  ScriptTransport t(transcript("apop.txt"), "pop.test:110");
  ClientOptions o = options(Security::none);
  o.allow_plaintext = true;
  o.username = "mrose";
  o.password = "tanstaaf";
  Client c(t, o);
  run(c.open());
  CHECK(c.login_method() == "APOP");
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
  CHECK(written(t)[1] == "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
  CHECK_FALSE(sent_anywhere(t, "tanstaaf"));
}

TEST_CASE("pop3 client: auth = user_pass is used even when PLAIN and APOP are possible", "[pop3][client][auth]") {
  ScriptTransport t = implicit_tls(transcript("user_pass_forced.txt"));
  ClientOptions o = options();
  o.auth = AuthMethod::user_pass;
  Client c(t, o);
  run(c.open());
  CHECK(c.login_method() == "USER/PASS");
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: AUTH PLAIN answered with an empty challenge sends the credentials again", "[pop3][client][auth]") {
  ScriptTransport t = implicit_tls(std::string("S: +OK ready\nC: CAPA\nS: +OK\nS: SASL PLAIN\nS: .\nC: AUTH PLAIN ") +
                                   kPlainCreds + "\nS: + \nC: " + kPlainCreds + "\nS: +OK Logged in.\n");
  Client c(t, options());
  run(c.open());
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: AUTH PLAIN refused with [AUTH] is an auth failure", "[pop3][client][auth]") {
  ScriptTransport t = implicit_tls(transcript("auth_plain_rejected.txt"));
  Client c(t, options());
  Pop3Error e = pop3_error(c.open());
  CHECK(e.kind() == FailureKind::auth);
  CHECK_THAT(e.what(), Catch::Contains("-ERR [AUTH] Authentication failed."));
  check_plain_words(e);
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: response codes to PASS decide the failure kind", "[pop3][client][auth]") {
  struct Case {
    std::string reply;
    FailureKind kind;
  };
  auto [reply, kind] = GENERATE(values<Case>({
      {"-ERR [IN-USE] Mailbox is locked by another POP3 session", FailureKind::in_use},      // RFC 2449 8.1.1
      {"-ERR [LOGIN-DELAY] Minimum time between logins is 15 minutes", FailureKind::login_delay},  // 8.1.2
      {"-ERR [SYS/TEMP] Backend unavailable, try again later", FailureKind::temporary},     // RFC 3206 4
      {"-ERR [AUTH] Invalid password", FailureKind::auth},                                   // RFC 3206 5
      {"-ERR bad", FailureKind::auth},  // no code: a refused password is what PASS -ERR usually means
  }));
  INFO(reply);
  ScriptTransport t = implicit_tls(transcript("login_rejected.txt") + "S: " + reply + "\n");
  Client c(t, options());
  Pop3Error e = pop3_error(c.open());
  CHECK(e.kind() == kind);
  CHECK_THAT(e.what(), Catch::Contains("rejected the password: " + reply));
  check_plain_words(e);
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: USER refused and a refusing greeting", "[pop3][client][auth]") {
  SECTION("-ERR to USER is an auth failure before the password is sent") {
    ScriptTransport t = implicit_tls("S: +OK ready\nC: CAPA\nS: +OK\nS: USER\nS: .\nC: USER alice\nS: -ERR no such user\n");
    Client c(t, options());
    Pop3Error e = pop3_error(c.open());
    CHECK(e.kind() == FailureKind::auth);
    CHECK_THAT(e.what(), Catch::Contains("rejected the user name: -ERR no such user"));
    check_plain_words(e);
    REQUIRE(t.problems() == "");
    CHECK_FALSE(sent_anywhere(t, "PASS"));
  }
  SECTION("-ERR greeting is a temporary refusal") {
    ScriptTransport t = implicit_tls("S: -ERR [SYS/TEMP] Too many connections\n");
    Client c(t, options());
    Pop3Error e = pop3_error(c.open());
    CHECK(e.kind() == FailureKind::temporary);
    CHECK_THAT(e.what(), Catch::Contains("Too many connections"));
    check_plain_words(e);
    REQUIRE(t.problems() == "");
    CHECK(t.writes().empty());
  }
}

TEST_CASE("pop3 client: UIDL refused means no UIDL support and LIST goes on", "[pop3][client]") {
  ScriptTransport t = implicit_tls(transcript("uidl_refused.txt"));
  Client c(t, options());
  run(c.open());
  CHECK_FALSE(run(c.uidl()).has_value());
  auto sizes = run(c.list());
  REQUIRE(sizes.size() == 2);
  CHECK(sizes[1].number == 2);
  CHECK(sizes[1].size == 4000);
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: malformed UIDL and LIST lines are protocol errors", "[pop3][client]") {
  SECTION("UIDL") {
    ScriptTransport t = implicit_tls(transcript("uidl_malformed.txt"));
    Client c(t, options());
    run(c.open());
    Pop3Error e = pop3_error(c.uidl());
    CHECK(e.kind() == FailureKind::protocol);
    CHECK_THAT(e.what(), Catch::Contains("malformed UIDL line: \"2 two words\""));
    check_plain_words(e);
    REQUIRE(t.problems() == "");
  }
  SECTION("LIST") {
    ScriptTransport t = implicit_tls(transcript("list_malformed.txt"));
    Client c(t, options());
    run(c.open());
    Pop3Error e = pop3_error(c.list());
    CHECK(e.kind() == FailureKind::protocol);
    CHECK_THAT(e.what(), Catch::Contains("malformed LIST line: \"2 big\""));
    check_plain_words(e);
    REQUIRE(t.problems() == "");
  }
}

TEST_CASE("pop3 client: a refused RETR is reported to the sink and the session goes on", "[pop3][client]") {
  ScriptTransport t = implicit_tls(transcript("retr_refused.txt"));
  Client c(t, options());
  run(c.open());
  RecordingSink sink;
  run(c.retrieve({1, 2, 3}, sink));
  CHECK(sink.events == std::vector<std::string>{"begin 1", "end 1", "refused 2: -ERR [SYS/TEMP] message 2 is locked",
                                                "begin 3", "end 3"});
  CHECK(sink.bodies[3] == "three\r\n");
  CHECK(run(c.dele({1, 2, 3})) == std::vector<std::uint32_t>{1, 3});
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: connection lost inside a RETR: no end() for the message", "[pop3][client]") {
  ScriptTransport t = implicit_tls(transcript("retr_connection_lost.txt"));
  Client c(t, options());
  run(c.open());
  RecordingSink sink;
  Pop3Error e = pop3_error(c.retrieve({1}, sink));
  CHECK(e.kind() == FailureKind::connection);
  check_plain_words(e);
  CHECK(sink.events == std::vector<std::string>{"begin 1"});
  CHECK(sink.bodies[1] == "Subject: cut short\r\n\r\n");  // the unterminated half line is never handed out
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: no answer within the timeout is a connection failure", "[pop3][client]") {
  ScriptTransport t = implicit_tls(transcript("timeout.txt"));
  Client c(t, options());
  run(c.open());
  Pop3Error e = pop3_error(c.list());
  CHECK(e.kind() == FailureKind::connection);
  CHECK_THAT(e.what(), Catch::Contains("timeout after 3000ms waiting for pop.test:995"));
  check_plain_words(e);
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: garbage greeting or status line is a protocol error, quoted printably", "[pop3][client]") {
  SECTION("an IMAP banner with terminal escapes") {
    ScriptTransport t = implicit_tls(transcript("garbage_greeting.txt"));
    Client c(t, options());
    Pop3Error e = pop3_error(c.open());
    CHECK(e.kind() == FailureKind::protocol);
    CHECK(std::string(e.what()) ==
          "pop.test:995 answered the greeting with garbage: "
          "\"* OK [CAPABILITY IMAP4rev1] \\x1B[1mDovecot\\x1B[0m ready.\\x07\"");
    check_plain_words(e);
    REQUIRE(t.problems() == "");
    CHECK(t.writes().empty());
  }
  SECTION("a NUL after +OK") {
    ScriptTransport t = implicit_tls(transcript("garbage_status.txt"));
    Client c(t, options());
    run(c.open());
    Pop3Error e = pop3_error(c.list());
    CHECK(e.kind() == FailureKind::protocol);
    CHECK(std::string(e.what()) == "pop.test:995 answered LIST with garbage: \"+OK\\x00 2 messages\"");
    check_plain_words(e);
    REQUIRE(t.problems() == "");
  }
}

TEST_CASE("pop3 client: bare LF, stray CR and NUL in bodies are counted and lines end with CRLF", "[pop3][client]") {
  ScriptTransport t = implicit_tls(transcript("bare_lf_nul.txt"));
  Client c(t, options());
  run(c.open());
  RecordingSink sink;
  run(c.retrieve({1, 2}, sink));
  CHECK(sink.events == std::vector<std::string>{"begin 1", "end 1", "begin 2", "end 2"});
  CHECK(sink.bodies[1] == "Subject: sloppy\r\n\r\nNUL\0in\0line\r\ncr cr lf\r\n.dot\r\n"s);
  CHECK(sink.bodies[2] == "Subject: two\r\n\r\nbare\r\n\0\r\ninner\rcr\r\n"s);
  CHECK(c.stats().bare_lf_lines == 4);  // "Subject: sloppy", "", "..dot", "bare" (not the final ".")
  CHECK(c.stats().dropped_crs == 3);    // one of "cr cr lf", two of "inner\rcr"
  CHECK(c.stats().inner_crs == 1);
  CHECK(c.stats().nul_bytes == 3);
  CHECK(run(c.quit()));
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: a 100 KB body line passes, an over-long status line fails cleanly", "[pop3][client]") {
  std::size_t max_read = GENERATE(std::size_t(1) << 20, std::size_t(1000));
  std::string long_line = "X-Long: " + std::string(100 * 1024, 'x');
  ScriptTransport t = implicit_tls(transcript("long_lines.txt"));
  t.set_max_read(max_read);
  t.define_block("LONG_LINE", long_line + "\r\n");
  t.define_block("HUGE_STATUS", "+OK " + std::string(9000, 'y') + "\r\n");
  Client c(t, options());
  run(c.open());
  RecordingSink sink;
  run(c.retrieve({1}, sink));
  CHECK(sink.events == std::vector<std::string>{"begin 1", "end 1"});
  CHECK(sink.bodies[1] == "Subject: long\r\n\r\n" + long_line + "\r\nshort line after it\r\n");
  Pop3Error e = pop3_error(c.dele({1}));
  CHECK(e.kind() == FailureKind::protocol);
  CHECK_THAT(e.what(), Catch::Contains("longer than 8192 bytes"));
  CHECK(std::string(e.what()).size() < 200);
  check_plain_words(e);
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: QUIT without +OK returns false and never throws", "[pop3][client]") {
  SECTION("-ERR") {
    ScriptTransport t = implicit_tls(transcript("quit_refused.txt"));
    Client c(t, options());
    run(c.open());
    CHECK(run(c.dele({1})) == std::vector<std::uint32_t>{1});
    CHECK_FALSE(run(c.quit()));
    REQUIRE(t.problems() == "");
  }
  SECTION("connection lost") {
    ScriptTransport t = implicit_tls(transcript("quit_connection_lost.txt"));
    Client c(t, options());
    run(c.open());
    CHECK(run(c.dele({1})) == std::vector<std::uint32_t>{1});
    CHECK_FALSE(run(c.quit()));
    REQUIRE(t.problems() == "");
  }
  SECTION("timeout") {
    ScriptTransport t = implicit_tls(std::string("S: +OK\nC: CAPA\nS: -ERR\nC: USER alice\nS: +OK\nC: PASS ") +
                                     kPassword + "\nS: +OK\nC: QUIT\nTIMEOUT\n");
    Client c(t, options());
    run(c.open());
    CHECK_FALSE(run(c.quit()));
    REQUIRE(t.problems() == "");
  }
}

TEST_CASE("pop3 client: a mailbox of 150000 messages lists completely", "[pop3][client]") {
  // Providers keep years of mail when keep = true: a listing is long, not endless.
  std::string uidl_body, list_body;
  for (int n = 1; n <= 150000; ++n) {
    uidl_body += std::to_string(n) + " uid-" + std::to_string(n) + "\r\n";
    list_body += std::to_string(n) + " 2048\r\n";
  }
  ScriptTransport t = implicit_tls(std::string("S: +OK\nC: CAPA\nS: +OK\nS: SASL PLAIN\nS: .\nC: AUTH PLAIN ") +
                                   kPlainCreds + "\nS: +OK\nC: UIDL\nS: +OK\nS: <UIDL>\nS: .\nC: LIST\nS: +OK\n" +
                                   "S: <LIST>\nS: .\n");
  t.define_block("UIDL", uidl_body);
  t.define_block("LIST", list_body);
  Client c(t, options());
  run(c.open());
  auto uidls = run(c.uidl());
  REQUIRE(uidls);
  REQUIRE(uidls->size() == 150000);
  CHECK(uidls->back().uid == "uid-150000");
  CHECK(run(c.list()).size() == 150000);
  REQUIRE(t.problems() == "");
}

TEST_CASE("pop3 client: an endless listing stops at 64 MB", "[pop3][client]") {
  std::string line = std::string(8180, 'u') + "\r\n";  // under the 8 KB status limit, so only the total stops it
  std::string body;
  body.reserve(8300 * line.size());
  for (int n = 0; n < 8300; ++n) body += line;  // 68 MB
  ScriptTransport t = implicit_tls(std::string("S: +OK\nC: CAPA\nS: +OK\nS: SASL PLAIN\nS: .\nC: AUTH PLAIN ") +
                                   kPlainCreds + "\nS: +OK\nC: UIDL\nS: +OK\nS: <ENDLESS>\nCLOSE\n");
  t.define_block("ENDLESS", std::move(body));
  Client c(t, options());
  run(c.open());
  Pop3Error e = pop3_error(c.uidl());
  CHECK(e.kind() == FailureKind::protocol);
  CHECK_THAT(e.what(), Catch::Contains("listing larger than 64 MB"));
  check_plain_words(e);
}

TEST_CASE("pop3 client: garbage answers to the login are quoted, never the password", "[pop3][client][auth]") {
  SECTION("AUTH PLAIN") {
    ScriptTransport t = implicit_tls(std::string("S: +OK\nC: CAPA\nS: +OK\nS: SASL PLAIN\nS: .\nC: AUTH PLAIN ") +
                                     kPlainCreds + "\nS~ 235 2.7.0 Authentication successful\\x1b\\r\\n\n");
    Client c(t, options());
    Pop3Error e = pop3_error(c.open());
    CHECK(e.kind() == FailureKind::protocol);
    CHECK_THAT(e.what(), Catch::Contains("\"235 2.7.0 Authentication successful\\x1B\""));
    check_plain_words(e);
    REQUIRE(t.problems() == "");
  }
  SECTION("PASS") {
    ScriptTransport t = implicit_tls(std::string("S: +OK\nC: CAPA\nS: -ERR\nC: USER alice\nS: +OK\nC: PASS ") +
                                     kPassword + "\nS: welcome\n");
    Client c(t, options());
    Pop3Error e = pop3_error(c.open());
    CHECK(e.kind() == FailureKind::protocol);
    CHECK(std::string(e.what()) == "pop.test:995 answered PASS **** with garbage: \"welcome\"");
    check_plain_words(e);
    REQUIRE(t.problems() == "");
  }
}

TEST_CASE("pop3 client: a server's words reach an error without terminal controls", "[pop3][client][auth]") {
  // A hostile -ERR: ESC ] sets the window title, ESC [2J clears the screen, U+009B is CSI.
  const std::string hostile = "-ERR [AUTH] \x1B]0;owned\x07\x1B[2J\xC2\x9B" "31mgone \x9B" "1m";
  ScriptTransport t = implicit_tls(transcript("login_rejected.txt") + "S: " + hostile + "\n");
  Client c(t, options());
  Pop3Error e = pop3_error(c.open());
  const std::string what = e.what();
  CHECK(e.kind() == FailureKind::auth);
  for (unsigned char ch : what) {
    CHECK(ch >= 0x20);
    CHECK(ch != 0x9B);
  }
  CHECK(what.find("\xC2\x9B") == std::string::npos);
  CHECK_THAT(what, Catch::Contains("owned"));  // the words are shown, only escaped
  CHECK_THAT(what, Catch::Contains("31mgone"));
  REQUIRE(t.problems() == "");
}
