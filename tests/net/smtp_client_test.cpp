// SMTP/LMTP client session tests: the real smtp::Client against scripted servers (transcripts in
// tests/transcripts/smtp/), checking every byte sent, the write batching and the outcomes.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <optional>

#include "run.hpp"
#include "script_transport.hpp"
#include "smtp/client.hpp"

namespace asio = boost::asio;
using namespace pb::smtp;
using pb::test::run;
using pb::test::ScriptTransport;

namespace {

template <class T>
SessionError session_error(asio::awaitable<T> work) {
  try {
    run(std::move(work));
  } catch (const SessionError& e) {
    return e;
  }
  FAIL("expected a SessionError");
  throw std::logic_error("unreachable");
}

std::string transcript(const std::string& name) {
  return pb::test::read_transcript(PB_TEST_DATA "/transcripts/smtp/" + name);
}

ClientOptions options() {
  ClientOptions o;
  o.helo_name = "gw.test";
  o.timeout = std::chrono::seconds(3);
  o.data_timeout = std::chrono::seconds(7);
  return o;
}

ClientOptions with_login(ClientOptions o) {
  o.username = "alice";
  o.password = "s3cret";
  return o;
}

// Hands out `text` in pieces of at most `piece` bytes (to split lines across BodyReader calls).
BodyReader body_of(std::string text, std::size_t piece = SIZE_MAX, int* calls = nullptr) {
  auto data = std::make_shared<std::string>(std::move(text));
  auto pos = std::make_shared<std::size_t>(0);
  return [=](char* buf, std::size_t len) {
    if (calls) ++*calls;
    std::size_t n = std::min({len, piece, data->size() - *pos});
    std::memcpy(buf, data->data() + *pos, n);
    *pos += n;
    return n;
  };
}

Envelope envelope(std::string sender, std::vector<std::string> rcpts) {
  Envelope e;
  e.sender = std::move(sender);
  e.recipients = std::move(rcpts);
  return e;
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

// One relayed message's DSN requests as the listener stored them (ENVID and ORCPT decoded): one
// recipient with both, one with none, a UTF-8 ORCPT, and values that cannot be sent.
Envelope dsn_envelope() {
  Envelope e = envelope("alice@example.org", {"bob@office.test", "carol@office.test", "dave@office.test", "erin@office.test"});
  e.eight_bit = true;
  e.ret = "HDRS";
  e.envid = "abc+123 x";
  e.notify = {"SUCCESS,FAILURE", "", "NEVER", "SUCCESS,SOMETIMES"};
  e.orcpt = {"rfc822;Bob+sales@office.test", "", "rfc822;j\xC3\xB6rg=x@office.test", "no type"};
  return e;
}

}  // namespace

TEST_CASE("smtp client: DSN requests go on to a server that offers DSN, xtext-encoded", "[smtp][client][dsn]") {
  ScriptTransport t(transcript("dsn_offered.txt"));
  Client c(t, options());
  run(c.open());
  CHECK(c.extensions().dsn);
  SendResult r = run(c.send(dsn_envelope(), 22, body_of("Subject: hi\r\n\r\nhello\r\n")));
  CHECK(r.message == Outcome::accepted);
  CHECK(r.refused_here == LocalRefusal::none);
  run(c.quit());
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: a server without DSN gets no DSN parameter", "[smtp][client][dsn]") {
  ScriptTransport t(transcript("dsn_not_offered.txt"));
  Client c(t, options());
  run(c.open());
  CHECK_FALSE(c.extensions().dsn);
  SendResult r = run(c.send(dsn_envelope(), 22, body_of("Subject: hi\r\n\r\nhello\r\n")));
  CHECK(r.message == Outcome::accepted);
  run(c.quit());
  REQUIRE(t.problems() == "");
  CHECK_FALSE(sent_anywhere(t, "NOTIFY="));
  CHECK_FALSE(sent_anywhere(t, "ORCPT="));
}

TEST_CASE("smtp client: a message that needs SMTPUTF8 is not offered to a server without it", "[smtp][client]") {
  ScriptTransport t("S: 220 mx.test ESMTP\nC: EHLO gw.test\nS: 250-mx.test\nS: 250-8BITMIME\nS: 250 PIPELINING\n"
                    "C: QUIT\nS: 221 Bye\n");
  Client c(t, options());
  run(c.open());
  Envelope env = envelope("alice@example.org", {"j\xC3\xB6rg@example.net"});
  env.smtputf8 = true;
  int calls = 0;
  SendResult r = run(c.send(env, 3, body_of("x\r\n", SIZE_MAX, &calls)));
  CHECK(calls == 0);
  CHECK(r.message == Outcome::permanent);
  // Our own decision, and the result says so: the caller must not word it as the server's refusal.
  CHECK(r.refused_here == LocalRefusal::smtputf8);
  CHECK(r.reply.enhanced == "5.6.7");  // RFC 6531 3.5 / RFC 5248
  CHECK_THAT(r.reply.text(), Catch::Contains("does not support SMTPUTF8") && Catch::Contains("not sent"));
  run(c.quit());
  REQUIRE(t.problems() == "");
  CHECK(written(t) == std::vector<std::string>{"EHLO gw.test\r\n", "QUIT\r\n"});
}

TEST_CASE("smtp client: PIPELINING sends MAIL, RCPT and DATA in one write", "[smtp][client]") {
  std::size_t max_read = GENERATE(std::size_t(1) << 20, std::size_t(1));  // also reply bytes one by one
  ScriptTransport t(transcript("pipelining.txt"));
  t.set_max_read(max_read);
  Client c(t, options());
  run(c.open());
  CHECK(c.extensions().pipelining);
  CHECK(c.greeting() == "220 mx.test ESMTP Postfix");

  Envelope env = envelope("alice@example.org", {"bob@office.test", "nobody@office.test"});
  env.eight_bit = true;
  SendResult r = run(c.send(env, 22, body_of("Subject: hi\r\n\r\nhello\r\n")));
  CHECK(r.message == Outcome::accepted);
  CHECK(r.reply.code == 250);
  CHECK(r.reply.text() == "250 2.0.0 Ok: queued as 4B1C2");
  REQUIRE(r.recipients.size() == 2);
  CHECK(r.recipients[0].address == "bob@office.test");
  CHECK(r.recipients[0].outcome == Outcome::accepted);
  CHECK(r.recipients[1].outcome == Outcome::permanent);
  CHECK(r.recipients[1].reply.code == 550);
  CHECK(r.recipients[1].reply.enhanced == "5.1.1");

  SendResult bounce = run(c.send(envelope("", {"bob@office.test"}), 8, body_of("bounce\r\n")));
  CHECK(bounce.message == Outcome::accepted);
  run(c.quit());
  REQUIRE(t.problems() == "");

  auto w = written(t);
  REQUIRE(w.size() == 6);
  CHECK(w[1] ==
        "MAIL FROM:<alice@example.org> SIZE=22 BODY=8BITMIME\r\nRCPT TO:<bob@office.test>\r\n"
        "RCPT TO:<nobody@office.test>\r\nDATA\r\n");
  CHECK(w[2] == "Subject: hi\r\n\r\nhello\r\n.\r\n");  // the whole body and the end mark: one write
  CHECK(w[3] == "MAIL FROM:<> SIZE=8\r\nRCPT TO:<bob@office.test>\r\nDATA\r\n");
  CHECK(t.writes()[1].timeout == std::chrono::seconds(3));
  CHECK(t.writes()[2].timeout == std::chrono::seconds(7));  // body under data_timeout
}

TEST_CASE("smtp client: HELO fallback, one command per write, MAIL refused then RSET", "[smtp][client]") {
  ScriptTransport t(transcript("helo_stepwise.txt"));
  Client c(t, options());
  run(c.open());
  CHECK_FALSE(c.extensions().pipelining);

  SendResult refused = run(c.send(envelope("spam@example.org", {"bob@office.test"}), 3, body_of("x\r\n")));
  CHECK(refused.message == Outcome::permanent);
  CHECK(refused.reply.code == 553);
  REQUIRE(refused.recipients.size() == 1);
  CHECK(refused.recipients[0].outcome == Outcome::permanent);  // shares the MAIL refusal
  CHECK(refused.recipients[0].reply.code == 553);
  run(c.reset());

  Envelope env = envelope("alice@example.org", {"bob@office.test", "carol@office.test"});
  env.eight_bit = true;  // no 8BITMIME announced: no BODY parameter
  SendResult r = run(c.send(env, 4, body_of("hi\r\n")));
  CHECK(r.message == Outcome::accepted);
  CHECK(r.recipients[0].outcome == Outcome::transient);
  CHECK(r.recipients[0].reply.code == 450);
  CHECK(r.recipients[1].outcome == Outcome::accepted);
  run(c.quit());
  REQUIRE(t.problems() == "");
  auto w = written(t);
  CHECK(w == std::vector<std::string>{"EHLO gw.test\r\n", "HELO gw.test\r\n", "MAIL FROM:<spam@example.org>\r\n",
                                      "RSET\r\n", "MAIL FROM:<alice@example.org>\r\n", "RCPT TO:<bob@office.test>\r\n",
                                      "RCPT TO:<carol@office.test>\r\n", "DATA\r\n", "hi\r\n.\r\n", "QUIT\r\n"});
}

TEST_CASE("smtp client: STARTTLS required but not offered: nothing but QUIT after EHLO", "[smtp][client][tls]") {
  ScriptTransport t(transcript("starttls_not_offered.txt"));
  ClientOptions o = with_login(options());
  o.security = Security::starttls;
  Client c(t, o);
  SessionError e = session_error(c.open());
  CHECK(e.kind() == FailureKind::tls);
  CHECK_FALSE(e.permanent());
  CHECK_THAT(e.what(), Catch::Contains("server does not offer STARTTLS; refusing to send in clear text"));
  run(c.quit());
  REQUIRE(t.problems() == "");
  CHECK(written(t) == std::vector<std::string>{"EHLO gw.test\r\n", "QUIT\r\n"});
}

TEST_CASE("smtp client: STARTTLS discards injected plain text, EHLOs again, AUTH PLAIN", "[smtp][client][tls]") {
  ScriptTransport t(transcript("starttls_auth_plain.txt"));
  ClientOptions o = with_login(options());
  o.security = Security::starttls;
  Client c(t, o);
  run(c.open());
  CHECK(t.is_tls());
  REQUIRE(c.extensions().size);
  CHECK(*c.extensions().size == 1000000);  // learnt from the EHLO over TLS, not the injected one
  CHECK(c.extensions().has_auth("LOGIN"));
  CHECK_FALSE(c.extensions().starttls);
  run(c.quit());
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: STARTTLS handshake failure is a TLS error", "[smtp][client][tls]") {
  ScriptTransport t(
      "S: 220 mx.test ESMTP\nC: EHLO gw.test\nS: 250-mx.test\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 Go ahead\n"
      "TLS-FAIL\n");
  ClientOptions o = options();
  o.security = Security::starttls;
  Client c(t, o);
  SessionError e = session_error(c.open());
  CHECK(e.kind() == FailureKind::tls);
  CHECK_THAT(e.what(), Catch::Contains("certificate verify failed"));
  run(c.quit());  // the connection is in an unknown state: nothing is sent
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: AUTH over an unencrypted connection is refused", "[smtp][client][auth]") {
  ScriptTransport t(transcript("auth_plaintext_refused.txt"));
  Client c(t, with_login(options()));
  SessionError e = session_error(c.open());
  CHECK(e.kind() == FailureKind::auth);
  CHECK(e.permanent());
  CHECK_THAT(e.what(), Catch::Contains("refusing to send the password over an unencrypted connection: "
                                       "set tls or allow_plaintext"));
  run(c.quit());
  REQUIRE(t.problems() == "");
  CHECK_FALSE(sent_anywhere(t, "AUTH"));
}

TEST_CASE("smtp client: AUTH LOGIN when allowed over plain text", "[smtp][client][auth]") {
  ScriptTransport t(transcript("auth_login_plaintext_allowed.txt"));
  ClientOptions o = with_login(options());
  o.allow_plaintext_auth = true;
  Client c(t, o);
  run(c.open());
  run(c.quit());
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: 535 is a permanent auth error without the password", "[smtp][client][auth]") {
  ScriptTransport t(transcript("auth_rejected.txt"), "smtp.provider.test:465");
  t.set_initial_tls(true);
  ClientOptions o = with_login(options());
  o.security = Security::implicit;
  Client c(t, o);
  SessionError e = session_error(c.open());
  CHECK(e.kind() == FailureKind::auth);
  CHECK(e.permanent());
  CHECK(e.reply().code == 535);
  CHECK(std::string(e.what()) == "login rejected by smtp.provider.test:465: 535 5.7.8 Error: authentication failed");
  CHECK_THAT(e.what(), !Catch::Contains("s3cret") && !Catch::Contains("AGFsaWNlAHMzY3JldA"));
  run(c.quit());
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: 454 to AUTH is a transient auth error", "[smtp][client][auth]") {
  ScriptTransport t(
      "S: 220 mx.test ESMTP\nC: EHLO gw.test\nS: 250-mx.test\nS: 250 AUTH PLAIN\nC: AUTH PLAIN AGFsaWNlAHMzY3JldA==\n"
      "S: 454 4.7.0 Temporary authentication failure\nC: QUIT\nS: 221 2.0.0 Bye\n");
  t.set_initial_tls(true);
  ClientOptions o = with_login(options());
  o.security = Security::implicit;
  Client c(t, o);
  SessionError e = session_error(c.open());
  CHECK(e.kind() == FailureKind::auth);
  CHECK_FALSE(e.permanent());
  CHECK_THAT(e.what(), !Catch::Contains("s3cret"));
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: LMTP gives one reply per accepted recipient", "[smtp][client][lmtp]") {
  ScriptTransport t(transcript("lmtp.txt"), "/run/dovecot/lmtp");
  ClientOptions o = options();
  o.lmtp = true;
  Client c(t, o);
  run(c.open());
  SendResult r =
      run(c.send(envelope("alice@example.org", {"bob@office.test", "ghost@office.test", "carol@office.test"}), 32,
                 body_of("Subject: team\r\n\r\nmeeting at 10\r\n")));
  run(c.quit());
  REQUIRE(t.problems() == "");
  CHECK(r.message == Outcome::accepted);
  CHECK(r.reply.code == 250);
  REQUIRE(r.recipients.size() == 3);
  CHECK(r.recipients[0].outcome == Outcome::transient);
  CHECK(r.recipients[0].reply.code == 452);
  CHECK(r.recipients[0].reply.enhanced == "4.2.2");
  CHECK(r.recipients[1].outcome == Outcome::permanent);
  CHECK(r.recipients[1].reply.code == 550);
  CHECK(r.recipients[2].outcome == Outcome::accepted);
  CHECK_THAT(r.recipients[2].reply.text(), Catch::Contains("Saved"));
}

TEST_CASE("smtp client: LMTP connection lost after some final replies keeps them", "[smtp][client][lmtp]") {
  ScriptTransport t(
      "S: 220 lmtp\nC: LHLO gw.test\nS: 250-lmtp\nS: 250 PIPELINING\nC: MAIL FROM:<a@x.test>\nC: RCPT "
      "TO:<b@office.test>\n"
      "C: RCPT TO:<c@office.test>\nC: DATA\nS: 250 ok\nS: 250 ok\nS: 250 ok\nS: 354 go\nC: hi\nC: .\n"
      "S: 250 2.0.0 <b@office.test> Saved\nCLOSE\n");
  ClientOptions o = options();
  o.lmtp = true;
  Client c(t, o);
  run(c.open());
  SendResult r = run(c.send(envelope("a@x.test", {"b@office.test", "c@office.test"}), 4, body_of("hi\r\n")));
  CHECK(r.message == Outcome::accepted);
  CHECK(r.recipients[0].outcome == Outcome::accepted);  // delivered: must not be delivered again
  CHECK(r.recipients[1].outcome == Outcome::transient);
  CHECK(r.recipients[1].reply.code == 421);
  CHECK_THAT(r.recipients[1].reply.text(), Catch::Contains("closed the connection"));
  SessionError next = session_error(c.send(envelope("a@x.test", {"b@office.test"}), 4, body_of("hi\r\n")));
  CHECK(next.kind() == FailureKind::connection);
  run(c.quit());
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: a message over the announced SIZE is refused without a dialog", "[smtp][client]") {
  ScriptTransport t(transcript("size_exceeded.txt"));
  Client c(t, options());
  run(c.open());
  int calls = 0;
  SendResult r =
      run(c.send(envelope("alice@example.org", {"bob@office.test"}), 5000, body_of("x\r\n", SIZE_MAX, &calls)));
  CHECK(calls == 0);
  CHECK(r.message == Outcome::permanent);
  CHECK(r.reply.code == 552);
  CHECK(r.reply.enhanced == "5.3.4");
  CHECK_THAT(r.reply.text(), Catch::Contains("5000") && Catch::Contains("1000"));
  CHECK(r.refused_here == LocalRefusal::size);
  REQUIRE(r.recipients.size() == 1);
  CHECK(r.recipients[0].outcome == Outcome::permanent);
  run(c.quit());
  REQUIRE(t.problems() == "");
  CHECK(written(t) == std::vector<std::string>{"EHLO gw.test\r\n", "QUIT\r\n"});
}

TEST_CASE("smtp client: 421 mid-session is a transient connection error", "[smtp][client]") {
  ScriptTransport t(transcript("shutdown_421.txt"));
  Client c(t, options());
  run(c.open());
  SessionError e = session_error(c.send(envelope("alice@example.org", {"bob@office.test"}), 3, body_of("x\r\n")));
  CHECK(e.kind() == FailureKind::connection);
  CHECK_FALSE(e.permanent());
  CHECK(e.reply().code == 421);
  CHECK_THAT(e.what(), Catch::Contains("mx.test:25") && Catch::Contains("421 4.3.2 System shutting down"));
  run(c.quit());  // nothing is sent to a closing server
  REQUIRE(t.problems() == "");
  SessionError again = session_error(c.send(envelope("alice@example.org", {"bob@office.test"}), 3, body_of("x\r\n")));
  CHECK_THAT(again.what(), Catch::Contains("no longer usable"));
}

TEST_CASE("smtp client: garbage instead of a reply is a protocol error", "[smtp][client]") {
  ScriptTransport t(transcript("garbage.txt"));
  Client c(t, options());
  run(c.open());
  SessionError e = session_error(c.send(envelope("alice@example.org", {"bob@office.test"}), 3, body_of("x\r\n")));
  CHECK(e.kind() == FailureKind::protocol);
  CHECK_FALSE(e.permanent());
  CHECK_THAT(e.what(), Catch::Contains("malformed") && Catch::Contains("hello, is it me"));
  run(c.quit());
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: body lines starting with a dot are stuffed", "[smtp][client]") {
  ScriptTransport t(transcript("dot_stuffing.txt"));
  Client c(t, options());
  run(c.open());
  std::string body = "Subject: dots\r\n\r\n.leading dot\r\n..\r\n. two\r\nmiddle . dot\r\n.";
  SendResult r = run(c.send(envelope("alice@example.org", {"bob@office.test"}), body.size(), body_of(body, 3)));
  CHECK(r.message == Outcome::accepted);
  run(c.quit());
  REQUIRE(t.problems() == "");
  auto w = written(t);
  REQUIRE(w.size() == 6);  // EHLO MAIL RCPT DATA body QUIT: the body in one write despite 3-byte reads
}

TEST_CASE("smtp client: lines over 998 octets are folded or broken, a bare CR goes as a space", "[smtp][client]") {
  std::size_t piece = GENERATE(std::size_t(1) << 20, std::size_t(700));  // also split mid-line by the reader
  std::string word = " " + std::string(9, 'w');
  auto words = [&](int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += word;
    return out;
  };
  std::string body = "X-Long:" + words(300) + "\r\nSubject: a\rb\r\n\r\n" + std::string(2500, 'x') + "\r\n.dot\r\n";
  // Folded before the last space within 998 octets: 997, 990 and 990 octets, then the rest.
  std::string wire = "X-Long:" + words(99) + "\r\n" + words(99) + "\r\n" + words(99) + "\r\n" + words(3) +
                     "\r\nSubject: a b\r\n\r\n" + std::string(998, 'x') + "\r\n " + std::string(997, 'x') +
                     "\r\n " + std::string(505, 'x') + "\r\n..dot\r\n.\r\n";
  ScriptTransport t(transcript("long_lines.txt"));
  t.define_block("BODY", wire);
  Client c(t, options());
  run(c.open());
  Envelope env = envelope("alice@example.org", {"bob@office.test"});
  env.eight_bit = true;
  SendResult r = run(c.send(env, body.size(), body_of(body, piece)));
  CHECK(r.message == Outcome::accepted);
  CHECK(r.body_changes.long_lines == 2);
  CHECK(r.body_changes.bare_cr == 1);
  CHECK(r.body_changes.bare_lf == 0);
  CHECK(describe(r.body_changes) ==
        "2 lines over 998 octets broken (RFC 5322 2.1.1), 1 bare CR sent as a space (RFC 5321 2.3.8)");
  run(c.quit());
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: a message that fits SMTP reports no change", "[smtp][client]") {
  ScriptTransport t(transcript("dot_stuffing.txt"));
  Client c(t, options());
  run(c.open());
  std::string body = "Subject: dots\r\n\r\n.leading dot\r\n..\r\n. two\r\nmiddle . dot\r\n.";
  SendResult r = run(c.send(envelope("alice@example.org", {"bob@office.test"}), body.size(), body_of(body)));
  CHECK(r.message == Outcome::accepted);
  CHECK_FALSE(r.body_changes.any());
  run(c.quit());
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: every recipient refused, then RSET keeps the connection usable", "[smtp][client]") {
  bool caller_resets = GENERATE(true, false);  // send() issues the RSET itself when the caller did not
  ScriptTransport t(transcript("all_refused.txt"));
  Client c(t, options());
  run(c.open());
  SendResult r = run(c.send(envelope("alice@example.org", {"x@office.test", "y@office.test"}), 3, body_of("x\r\n")));
  CHECK(r.message == Outcome::transient);  // y may still be retried
  CHECK(r.reply.code == 450);
  CHECK(r.recipients[0].outcome == Outcome::permanent);
  CHECK(r.recipients[1].outcome == Outcome::transient);
  if (caller_resets) run(c.reset());
  SendResult next = run(c.send(envelope("alice@example.org", {"z@office.test"}), 4, body_of("hi\r\n")));
  CHECK(next.message == Outcome::accepted);
  REQUIRE(t.problems() == "");
}

TEST_CASE("smtp client: a large body goes out in a few large writes under data_timeout", "[smtp][client]") {
  std::string body, stuffed;
  for (int i = 0; i < 8000; ++i) {
    std::string line = (i % 10 == 0 ? "." : "") + std::string("line ") + std::to_string(i) + " of a large message";
    body += line + "\r\n";
    stuffed += (line[0] == '.' ? "." : "") + line + "\r\n";
  }
  stuffed += ".\r\n";
  ScriptTransport t(
      "S: 220 mx\nC: EHLO gw.test\nS: 250-mx\nS: 250 PIPELINING\nC: MAIL FROM:<a@x.test>\nC: RCPT TO:<b@office.test>\n"
      "C: DATA\nS: 250 ok\nS: 250 ok\nS: 354 go\nC: <BODY>\nTIMEOUT\n");
  t.define_block("BODY", stuffed);
  Client c(t, options());
  run(c.open());
  SessionError e = session_error(c.send(envelope("a@x.test", {"b@office.test"}), body.size(), body_of(body)));
  CHECK(e.kind() == FailureKind::connection);       // the end-of-data reply never came...
  CHECK_THAT(e.what(), Catch::Contains("7000ms"));  // ...within data_timeout
  REQUIRE(t.problems() == "");
  REQUIRE(t.writes().size() >= 3);
  std::size_t body_writes = t.writes().size() - 2;  // after EHLO and the pipelined envelope
  CHECK(body_writes <= stuffed.size() / (64 * 1024) + 1);
  for (std::size_t i = 2; i < t.writes().size(); ++i) CHECK(t.writes()[i].timeout == std::chrono::seconds(7));
}

TEST_CASE("smtp client: greeting refusals and lost connections", "[smtp][client]") {
  SECTION("554 greeting: permanent greeting error, then a polite QUIT") {
    ScriptTransport t("S: 554 5.3.2 No SMTP service here\nC: QUIT\nS: 221 Bye\n");
    Client c(t, options());
    SessionError e = session_error(c.open());
    CHECK(e.kind() == FailureKind::greeting);
    CHECK(e.permanent());
    run(c.quit());
    REQUIRE(t.problems() == "");
  }
  SECTION("LHLO refused with 5xx: no HELO fallback for LMTP") {
    ScriptTransport t("S: 220 lmtp\nC: LHLO gw.test\nS: 500 5.5.1 What?\nC: QUIT\nS: 221 Bye\n");
    ClientOptions o = options();
    o.lmtp = true;
    Client c(t, o);
    SessionError e = session_error(c.open());
    CHECK(e.kind() == FailureKind::greeting);
    CHECK(e.permanent());
    run(c.quit());
    REQUIRE(t.problems() == "");
  }
  SECTION("server closes instead of answering EHLO") {
    ScriptTransport t("S: 220 mx\nC: EHLO gw.test\nCLOSE\n");
    Client c(t, options());
    SessionError e = session_error(c.open());
    CHECK(e.kind() == FailureKind::connection);
    CHECK_FALSE(e.permanent());
    CHECK_THAT(e.what(), Catch::Contains("mx.test:25") && Catch::Contains("closed the connection"));
    run(c.quit());
    REQUIRE(t.problems() == "");
  }
}

TEST_CASE("script transport: a wrong client line fails with a diff", "[script]") {
  ScriptTransport t("S: 220 mx\nC: EHLO other.test\nS: 250 ok\n");
  Client c(t, options());
  CHECK_THROWS_AS(run(c.open()), pb::test::ScriptFailure);
  CHECK_THAT(t.problems(), Catch::Contains("transcript line 2") && Catch::Contains("expected: \"EHLO other.test") &&
                               Catch::Contains("actual:   \"EHLO gw.test"));
}

TEST_CASE("script transport: an unfinished transcript is reported", "[script]") {
  ScriptTransport t("S: 220 mx\nC: EHLO gw.test\nS: 250 ok\nC: NOOP\nS: 250 ok\n");
  Client c(t, options());
  run(c.open());
  CHECK_THAT(t.problems(), Catch::Contains("not played to its end") && Catch::Contains("line 4"));
}
