// OAuth logins of the SMTP and POP3 clients (XOAUTH2, OAUTHBEARER) on scripted servers: the exact
// bytes sent, the error challenge answered with the dummy response, the mechanism refused when not
// announced, and the access token in no log line and no error message.
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "pop3/client.hpp"
#include "run.hpp"
#include "script_transport.hpp"
#include "smtp/client.hpp"
#include "util/base64.hpp"
#include "util/log.hpp"

namespace asio = boost::asio;
using pb::test::run;
using pb::test::ScriptTransport;

namespace {

constexpr const char* kToken = "ya29.TOKEN";

// Captures what the log writes to stderr (fd 2) while alive, at debug level.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    saved_ = ::dup(2);
    file_ = std::tmpfile();
    ::dup2(::fileno(file_), 2);
    pb::log::set_min_level(pb::log::Level::debug);
  }
  ~StderrCapture() {
    restore();
    std::fclose(file_);
  }
  std::string text() {
    restore();
    std::string out;
    std::rewind(file_);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
    pb::log::set_min_level(pb::log::Level::info);
  }
  int saved_ = -1;
  std::FILE* file_ = nullptr;
};

// Neither the token nor any base64 form of it (the initial responses) may appear in `text`.
void check_no_token(const std::string& text, const std::string& token = kToken) {
  INFO(text);
  CHECK_THAT(text, !Catch::Contains(token));
  for (const char* b64 : {"dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=",
                          "bixhPWFsaWNlQGV4YW1wbGUub3JnLAFob3N0PXNtdHAudGVzdAFwb3J0PTQ2NQFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=",
                          "bixhPWFsaWNlLAFob3N0PXBvcC50ZXN0AXBvcnQ9OTk1AWF1dGg9QmVhcmVyIHlhMjkuVE9LRU4BAQ==",
                          "dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=", "QmVhcmVy"})
    CHECK_THAT(text, !Catch::Contains(b64));
}

// ---- SMTP ----------------------------------------------------------------------------------------

const char* kEhlo =
    "S: 220 smtp.test ESMTP\n"
    "C: EHLO gw.test\n"
    "S: 250-smtp.test\n"
    "S: 250-AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER\n"
    "S: 250 8BITMIME\n";

ScriptTransport smtp_server(const std::string& script) {
  ScriptTransport t(script, "smtp.test:465");
  t.set_initial_tls(true);
  return t;
}

pb::smtp::ClientOptions smtp_options(const char* mechanism) {
  pb::smtp::ClientOptions o;
  o.helo_name = "gw.test";
  o.security = pb::smtp::Security::implicit;
  o.username = "alice@example.org";
  o.oauth_mechanism = mechanism;
  o.bearer_token = kToken;
  o.timeout = std::chrono::seconds(3);
  return o;
}

pb::smtp::SessionError smtp_error(ScriptTransport& t, pb::smtp::ClientOptions o) {
  pb::smtp::Client c(t, std::move(o));
  try {
    run(c.open());
  } catch (const pb::smtp::SessionError& e) {
    return e;
  }
  FAIL("expected a SessionError");
  throw std::logic_error("unreachable");
}

// ---- POP3 ----------------------------------------------------------------------------------------

const char* kCapa =
    "S: +OK ready\n"
    "C: CAPA\n"
    "S: +OK\n"
    "S: USER\n"
    "S: SASL PLAIN XOAUTH2 OAUTHBEARER\n"
    "S: .\n";

ScriptTransport pop3_server(const std::string& script) {
  ScriptTransport t(script, "pop.test:995");
  t.set_initial_tls(true);
  return t;
}

pb::pop3::ClientOptions pop3_options(const char* mechanism) {
  pb::pop3::ClientOptions o;
  o.username = "alice";
  o.password = "unused-password";
  o.oauth_mechanism = mechanism;
  o.bearer_token = kToken;
  o.timeout = std::chrono::seconds(3);
  return o;
}

pb::pop3::Pop3Error pop3_error(ScriptTransport& t, pb::pop3::ClientOptions o) {
  pb::pop3::Client c(t, std::move(o));
  try {
    run(c.open());
  } catch (const pb::pop3::Pop3Error& e) {
    return e;
  }
  FAIL("expected a Pop3Error");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("smtp oauth: XOAUTH2 initial response logs in, the token is in no log line", "[smtp][client][oauth]") {
  ScriptTransport t = smtp_server(std::string(kEhlo) +
                                  "C: AUTH XOAUTH2 dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=\n"
                                  "S: 235 2.7.0 Accepted\n");
  StderrCapture log;
  pb::smtp::Client c(t, smtp_options("XOAUTH2"));
  run(c.open());
  CHECK(t.problems() == "");
  std::string logged = log.text();
  CHECK_THAT(logged, Catch::Contains("C: AUTH XOAUTH2 ****"));
  check_no_token(logged);
}

TEST_CASE("smtp oauth: OAUTHBEARER error challenge -> dummy response -> 535, token_rejected", "[smtp][client][oauth]") {
  ScriptTransport t = smtp_server(
      std::string(kEhlo) +
      "C: AUTH OAUTHBEARER bixhPWFsaWNlQGV4YW1wbGUub3JnLAFob3N0PXNtdHAudGVzdAFwb3J0PTQ2NQFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=\n"
      "S: 334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\n"
      "C: AQ==\n"
      "S: 535 5.7.8 Username and Password not accepted\n"
      "C: QUIT\nS: 221 2.0.0 Bye\n");
  StderrCapture log;
  auto e = smtp_error(t, smtp_options("OAUTHBEARER"));
  CHECK(t.problems() == "");
  CHECK(e.kind() == pb::smtp::FailureKind::auth);
  CHECK(e.token_rejected());
  CHECK(e.permanent());
  CHECK(e.reply().code == 535);
  CHECK(std::string(e.what()) ==
        "smtp.test:465 rejected the OAuth access token (invalid_token (scope https://mail.google.com/)): "
        "535 5.7.8 Username and Password not accepted");
  check_no_token(e.what());
  check_no_token(log.text());
}

TEST_CASE("smtp oauth: a wrong scope is an auth failure, but not a rejected token", "[smtp][client][oauth]") {
  ScriptTransport t = smtp_server(
      std::string(kEhlo) +
      "C: AUTH XOAUTH2 dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=\n"
      "S: 334 eyJzdGF0dXMiOiJpbnN1ZmZpY2llbnRfc2NvcGUiLCJzY29wZSI6Imh0dHBzOi8vb3V0bG9vay5vZmZpY2UuY29tL1BPUC5BY2Nlc3NBc1VzZXIuQWxsIn0=\n"
      "C: AQ==\n"
      "S: 454 4.7.0 Temporary authentication failure\n"
      "C: QUIT\nS: 221 2.0.0 Bye\n");
  auto e = smtp_error(t, smtp_options("XOAUTH2"));
  CHECK(t.problems() == "");
  CHECK(e.kind() == pb::smtp::FailureKind::auth);
  CHECK_FALSE(e.token_rejected());
  CHECK_FALSE(e.permanent());  // 454 may pass
  CHECK_THAT(e.what(), Catch::Contains("insufficient_scope (scope https://outlook.office.com/POP.AccessAsUser.All)"));
}

TEST_CASE("smtp oauth: a plain 535 without challenge is an auth failure", "[smtp][client][oauth]") {
  ScriptTransport t = smtp_server(std::string(kEhlo) +
                                  "C: AUTH XOAUTH2 dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=\n"
                                  "S: 535 5.7.3 Authentication unsuccessful\n"
                                  "C: QUIT\nS: 221 2.0.0 Bye\n");
  auto e = smtp_error(t, smtp_options("XOAUTH2"));
  CHECK(t.problems() == "");
  CHECK(e.kind() == pb::smtp::FailureKind::auth);
  CHECK_FALSE(e.token_rejected());
  CHECK_THAT(e.what(), Catch::Contains("535 5.7.3 Authentication unsuccessful"));
}

TEST_CASE("smtp oauth: mechanism not offered: nothing sent, plain words", "[smtp][client][oauth]") {
  ScriptTransport t = smtp_server(
      "S: 220 smtp.test ESMTP\n"
      "C: EHLO gw.test\n"
      "S: 250-smtp.test\n"
      "S: 250 AUTH PLAIN LOGIN\n"
      "C: QUIT\nS: 221 2.0.0 Bye\n");
  auto e = smtp_error(t, smtp_options("OAUTHBEARER"));
  CHECK(t.problems() == "");
  CHECK(e.kind() == pb::smtp::FailureKind::auth);
  CHECK(std::string(e.what()) ==
        "smtp.test:465 does not offer OAUTHBEARER login (it offers: PLAIN LOGIN); the OAuth token was not sent");
  ScriptTransport t2 = smtp_server(std::string(kEhlo) + "C: QUIT\nS: 221 2.0.0 Bye\n");
  auto unknown = smtp_error(t2, smtp_options("BEARER"));
  CHECK(t2.problems() == "");
  CHECK_THAT(unknown.what(), Catch::StartsWith("unknown OAuth mechanism \"BEARER\""));
}

TEST_CASE("smtp oauth: never over plain text unless allowed", "[smtp][client][oauth]") {
  // A refused login ends with QUIT, as Postfix's client ends it.
  ScriptTransport t(std::string(kEhlo) + "C: QUIT\nS: 221 2.0.0 Bye\n", "smtp.test:25");
  auto o = smtp_options("XOAUTH2");
  o.security = pb::smtp::Security::none;
  auto e = smtp_error(t, o);
  CHECK(t.problems() == "");
  CHECK(e.kind() == pb::smtp::FailureKind::auth);
  check_no_token(e.what());
}

TEST_CASE("pop3 oauth: XOAUTH2 with a short token as initial response", "[pop3][client][oauth]") {
  ScriptTransport t = pop3_server(std::string(kCapa) +
                                  "C: AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=\n"
                                  "S: +OK User successfully authenticated.\n");
  StderrCapture log;
  pb::pop3::Client c(t, pop3_options("XOAUTH2"));
  run(c.open());
  CHECK(t.problems() == "");
  CHECK(c.login_method() == "SASL XOAUTH2");
  std::string logged = log.text();
  CHECK_THAT(logged, Catch::Contains("C: AUTH XOAUTH2 ****"));
  check_no_token(logged);
}

TEST_CASE("pop3 oauth: a real-sized token goes after the + continuation (RFC 5034 4: 255 octets)",
          "[pop3][client][oauth]") {
  std::string token(1500, 'T');
  std::string ir = pb::base64::encode("user=alice\x01" "auth=Bearer " + token + "\x01\x01");
  ScriptTransport t = pop3_server(std::string(kCapa) +
                                  "C: AUTH XOAUTH2\n"
                                  "S: +\n"
                                  "C: " + ir + "\n"
                                  "S: +OK User successfully authenticated.\n");
  auto o = pop3_options("XOAUTH2");
  o.bearer_token = token;
  StderrCapture log;
  pb::pop3::Client c(t, o);
  run(c.open());
  CHECK(t.problems() == "");
  std::string logged = log.text();
  CHECK_THAT(logged, !Catch::Contains(token) && !Catch::Contains(ir));
}

TEST_CASE("pop3 oauth: OAUTHBEARER error challenge -> dummy response -> -ERR, token_rejected", "[pop3][client][oauth]") {
  ScriptTransport t = pop3_server(
      std::string(kCapa) +
      "C: AUTH OAUTHBEARER bixhPWFsaWNlLAFob3N0PXBvcC50ZXN0AXBvcnQ9OTk1AWF1dGg9QmVhcmVyIHlhMjkuVE9LRU4BAQ==\n"
      "S: + eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\n"
      "C: AQ==\n"
      "S: -ERR [AUTH] Authentication failed.\n");
  StderrCapture log;
  auto e = pop3_error(t, pop3_options("OAUTHBEARER"));
  CHECK(t.problems() == "");
  CHECK(e.kind() == pb::pop3::FailureKind::auth);
  CHECK(e.token_rejected());
  CHECK(std::string(e.what()) ==
        "pop.test:995 rejected the OAuth access token (invalid_token (scope https://mail.google.com/)): "
        "-ERR [AUTH] Authentication failed.");
  check_no_token(e.what());
  check_no_token(log.text());
}

TEST_CASE("pop3 oauth: plain -ERR to the token is an auth failure without token_rejected", "[pop3][client][oauth]") {
  ScriptTransport t = pop3_server(std::string(kCapa) +
                                  "C: AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE=\n"
                                  "S: -ERR Authentication failure: unknown user name or bad password.\n");
  auto e = pop3_error(t, pop3_options("XOAUTH2"));
  CHECK(t.problems() == "");
  CHECK(e.kind() == pb::pop3::FailureKind::auth);
  CHECK_FALSE(e.token_rejected());
  check_no_token(e.what());
}

TEST_CASE("pop3 oauth: mechanism not in CAPA SASL: nothing sent, plain words", "[pop3][client][oauth]") {
  ScriptTransport t = pop3_server(
      "S: +OK ready\n"
      "C: CAPA\n"
      "S: +OK\n"
      "S: SASL PLAIN\n"
      "S: .\n");
  auto e = pop3_error(t, pop3_options("XOAUTH2"));
  CHECK(t.problems() == "");
  CHECK(e.kind() == pb::pop3::FailureKind::unsupported);
  CHECK(std::string(e.what()) ==
        "pop.test:995 does not offer XOAUTH2 login (its SASL mechanisms: PLAIN); the OAuth token was not sent");
}
