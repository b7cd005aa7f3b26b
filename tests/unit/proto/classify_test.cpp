// Unit tests for smarthost outcome classification: a table of real-world replies (Postfix,
// Exchange/Microsoft 365, Gmail, GMX, Strato/IONOS, T-Online wording) and the failure mapping.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "smtp/classify.hpp"
#include "smtp/reply.hpp"

using namespace pb::smtp;

namespace {

// Parses "550-a\n550 b" (lines separated by \n) with the real reply parser.
Reply reply_of(const std::string& text) {
  ReplyParser p;
  std::size_t start = 0;
  while (true) {
    std::size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    bool done = p.feed(line);
    if (nl == std::string::npos) {
      REQUIRE(done);
      break;
    }
    REQUIRE_FALSE(done);
    start = nl + 1;
  }
  return p.take();
}

struct Case {
  const char* source;  // who says this
  Stage stage;
  const char* reply;
  Scope scope;
  Permanence permanence;
  RouteProblem problem;
  const char* advice_has;  // substring of the advice ("" = not checked)
};

constexpr auto T = Permanence::temporary;
constexpr auto P = Permanence::permanent;
using enum Scope;
using enum RouteProblem;

const std::vector<Case> kCases = {
    // --- Postfix (smtpd, SASL submission)
    {"postfix", Stage::auth, "535 5.7.8 Error: authentication failed: authentication failure", route, P,
     auth_rejected, "login rejected by smtp.example.net: password changed? (check the account at the provider)"},
    {"postfix", Stage::auth, "535 5.7.8 Error: authentication failed: account disabled", route, P, auth_rejected,
     "password changed?"},
    {"gmail", Stage::auth, "454 4.7.0 Too many login attempts, please try again later.", route, T, unavailable, ""},
    {"postfix", Stage::auth, "454 4.7.0 Temporary authentication failure: Connection lost to authentication server",
     route, T, unavailable, "temporary"},
    {"postfix", Stage::rcpt,
     "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table", recipient,
     P, none, "refused this recipient"},
    {"postfix", Stage::rcpt, "554 5.7.1 <bob@example.com>: Relay access denied", route, P, auth_rejected,
     "relay denied"},
    {"postfix", Stage::mail, "553 5.7.1 <anna@firma.de>: Sender address rejected: not owned by user smarthost@firma.de",
     message, P, none, "set rewrite_sender"},
    {"postfix", Stage::data_end, "552 5.3.4 Message size exceeds fixed limit", message, P, none, "too large"},
    {"postfix", Stage::mail, "552 5.3.4 Message size exceeds fixed limit", message, P, none, "too large"},
    {"postfix", Stage::rcpt, "450 4.2.0 <x@example.org>: Recipient address rejected: Greylisted, see "
                             "http://postgrey.schweikert.ch/help/example.org.html",
     recipient, T, none, "deferred this recipient"},
    {"postfix", Stage::rcpt, "452 4.5.3 Error: too many recipients", recipient, T, none, "fewer recipients"},
    {"postfix", Stage::greeting, "421 4.3.2 Service currently unavailable", route, T, unavailable, "retrying"},
    {"postfix", Stage::mail, "451 4.3.0 Error: queue file write error", message, T, none, "deferred this message"},
    {"postfix", Stage::rcpt, "450 4.1.2 <x@nonexist.example>: Recipient address rejected: Domain not found",
     recipient, T, none, ""},
    {"postfix", Stage::mail, "452 4.3.1 Insufficient system storage", route, T, unavailable, "problem of its own"},
    {"postfix", Stage::starttls, "454 4.7.0 TLS not available due to local problem", route, T, tls,
     "without encryption"},
    {"postfix", Stage::mail, "530 5.7.0 Must issue a STARTTLS command first", route, P, tls, "requires encryption"},
    {"postfix", Stage::rcpt, "552 5.2.2 <x@example.org>: Recipient address rejected: mailbox size limit exceeded",
     recipient, P, none, "mailbox is full"},
    {"postfix", Stage::greeting, "421 4.7.0 mail.example.net Error: too many connections from 192.0.2.7", route, T,
     unavailable, "max_connections"},
    // --- Exchange / Microsoft 365
    {"exchange", Stage::rcpt, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
     recipient, P, none, ""},
    {"m365", Stage::auth, "535 5.7.3 Authentication unsuccessful", route, P, auth_rejected,
     "did not accept this user name and password"},
    {"m365", Stage::auth, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
                          "Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
     route, P, auth_rejected, "switched off"},
    {"exchange", Stage::rcpt, "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain", route, P,
     auth_rejected, "relay denied"},
    {"m365", Stage::data_end,
     "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process "
     "message due to a permanent exception with message Cannot submit message.",
     message, P, none, "Send As permission"},
    {"m365", Stage::data_end, "550 5.7.705 Access denied, tenant has exceeded threshold.", route, T, quota,
     "nothing is bounced"},
    {"m365", Stage::mail, "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.", route,
     T, quota, "Microsoft support"},
    {"m365", Stage::auth, "550 5.7.30 Basic authentication is not supported for Client Submission.", route, P,
     auth_rejected, "[smarthost.oauth2]"},
    {"m365", Stage::data_end,
     "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a "
     "permanent exception with message Cannot submit message.",
     route, T, quota, "sending limit"},
    {"m365", Stage::mail, "550 5.7.60 SMTP; Client does not have permissions to send as this sender", message, P,
     none, "rewrite_sender"},
    {"m365", Stage::mail, "451 4.7.500 Server busy. Please try again later from [192.0.2.7]. (AS750)", route, T,
     unavailable, ""},
    {"m365", Stage::ehlo, "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support "
                          "TLS 1.2.",
     route, T, unavailable, ""},
    {"m365", Stage::rcpt, "550 5.7.64 TenantAttribution; Relay Access Denied", route, P, auth_rejected, "relay"},
    // --- Gmail
    {"gmail", Stage::auth, "535-5.7.8 Username and Password not accepted. For more information, go to\n"
                           "535 5.7.8  https://support.google.com/mail/?p=BadCredentials",
     route, P, auth_rejected, "did not accept this user name and password"},
    {"gmail", Stage::auth, "534-5.7.9 Application-specific password required. Learn more at\n"
                           "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor",
     route, P, auth_rejected, "create an app password"},
    {"gmail", Stage::auth, "534-5.7.14 <https://accounts.google.com/signin/continue?...>\n"
                           "534 5.7.14 Please log in via your web browser and then try again.",
     route, P, auth_rejected, "web browser"},
    {"gmail", Stage::data_end, "550-5.4.5 Daily user sending limit exceeded. For more information on Gmail\n"
                               "550 5.4.5 sending limits go to  https://support.google.com/a/answer/166852",
     route, T, quota, "sending limit"},
    {"gmail", Stage::rcpt, "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
                           "550-5.1.1 double-checking the recipient's email address for typos or\n"
                           "550 5.1.1 unnecessary spaces.",
     recipient, P, none, "typing errors"},
    {"gmail", Stage::rcpt, "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\n"
                           "452 4.2.2 recipient to https://support.google.com/mail/?p=OverQuotaTemp",
     recipient, T, none, "mailbox is full"},
    {"gmail", Stage::data_end, "552-5.2.3 Your message exceeded Google's message size limits. Please visit\n"
                               "552 5.2.3  https://support.google.com/mail/?p=MaxSizeError",
     message, P, none, "too large"},
    {"gmail", Stage::greeting, "421 4.7.0 Try again later, closing connection.", route, T, unavailable, ""},
    {"gmail", Stage::data_end, "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail. To protect\n"
                               "421 4.7.28 our users from spam, mail has been temporarily rate limited.",
     route, T, quota, ""},
    {"gmail", Stage::data_end, "550-5.7.1 [192.0.2.7] Our system has detected that this message is likely\n"
                               "550 5.7.1 unsolicited mail.",
     message, P, none, "refused this message"},
    {"gmail", Stage::mail, "530-5.7.0 Authentication Required. Learn more at\n"
                           "530 5.7.0  https://support.google.com/mail/?p=WantAuthError",
     route, P, auth_rejected, "requires a login"},
    // --- GMX / web.de
    {"gmx", Stage::auth, "535 Authentication credentials invalid", route, P, auth_rejected, "password changed?"},
    {"gmx", Stage::mail, "550-Requested action not taken: mailbox unavailable\n550 5.7.1 Sender address is not allowed.",
     message, P, none, "rewrite_sender"},
    {"gmx", Stage::greeting, "554-gmx.net (mxgmx017) Nemesis ESMTP Service not available\n554-No SMTP service\n"
                             "554 IP address is block listed.",
     route, P, unavailable, "block list"},
    // --- Strato / IONOS (new accounts are limited per hour)
    {"ionos", Stage::mail, "450-Requested mail action not taken: mailbox unavailable\n450 Mail send limit exceeded.",
     route, T, quota, "sending limit"},
    {"ionos", Stage::greeting, "421 Rate limit reached. Please try again later", route, T, quota, ""},
    {"strato-style", Stage::rcpt, "450 4.7.0 send limit exceeded", route, T, quota, "max_per_hour"},
    {"strato-style", Stage::mail, "451 4.7.1 rate limited", route, T, quota, ""},
    {"hoster", Stage::rcpt, "452 4.7.1 message count quota exceeded", route, T, quota, ""},
    {"startmail", Stage::rcpt, "550 5.7.1 Your mail limit has been reached.", route, T, quota, ""},
    {"ionos", Stage::data_end, "554-Transaction failed\n554-Reject due to policy restrictions.\n"
                               "554 For explanation visit https://www.ionos.com/help",
     message, P, none, ""},
    // --- T-Online
    {"t-online", Stage::greeting, "554 IP=192.0.2.7 - A problem occurred. (Ask your postmaster for help or to "
                                  "contact tosa@rx.t-online.de to clarify.)",
     route, P, unavailable, "block list"},
    {"t-online", Stage::mail, "550 5.7.0 Sender address does not belong to logged in user", message, P, none,
     "rewrite_sender"},
    // --- generic shapes
    {"rfc4954", Stage::auth, "504 5.5.4 Unrecognized authentication type", route, P, auth_rejected, "login method"},
    {"rfc4954", Stage::auth, "432 4.7.12 A password transition is needed", route, P, auth_rejected,
     "password change"},
    {"rfc3207", Stage::starttls, "501 5.5.4 Syntax error (no parameters allowed)", route, P, tls, ""},
    {"generic", Stage::data, "554 5.5.1 Error: no valid recipients", message, P, none, ""},
    {"generic", Stage::data_end, "451 4.3.0 Error: queue file write error", message, T, none, ""},
    {"generic", Stage::ehlo, "550 5.7.1 Access denied", route, P, unavailable, ""},
};

}  // namespace

TEST_CASE("classify: real-world replies") {
  REQUIRE(kCases.size() >= 30);
  for (const Case& c : kCases) {
    INFO(c.source << " at " << to_string(c.stage) << ": " << c.reply);
    Verdict v = classify(c.stage, reply_of(c.reply), "smtp.example.net");
    CHECK(to_string(v.scope) == to_string(c.scope));
    CHECK((v.permanence == c.permanence));
    CHECK(to_string(v.problem) == to_string(c.problem));
    if (*c.advice_has) CHECK(v.advice.find(c.advice_has) != std::string::npos);
    // Route problems always explain themselves and name the host.
    if (v.scope == Scope::route) CHECK(v.advice.find("smtp.example.net") != std::string::npos);
    if (v.scope != Scope::route) CHECK(v.problem == RouteProblem::none);
    // The DSN status has RFC 3463 shape and its class matches the decision.
    REQUIRE(v.status.size() >= 5);
    CHECK(v.status[0] == (v.permanence == Permanence::permanent ? '5' : '4'));
    CHECK(v.status[1] == '.');
  }
}

TEST_CASE("classify: status keeps the reply's enhanced code, else X.0.0") {
  CHECK(classify(Stage::rcpt, reply_of("550 5.1.1 unknown"), "h").status == "5.1.1");
  CHECK(classify(Stage::rcpt, reply_of("550 unknown user"), "h").status == "5.0.0");
  CHECK(classify(Stage::rcpt, reply_of("450 try later"), "h").status == "4.0.0");
  // A 5xx quota reply pauses the route temporarily; its status class follows.
  CHECK(classify(Stage::data_end, reply_of("550 5.4.5 Daily user sending limit exceeded"), "h").status == "4.4.5");
}

TEST_CASE("classify: 421 is a route problem at every stage") {
  for (Stage s : {Stage::greeting, Stage::ehlo, Stage::auth, Stage::mail, Stage::rcpt, Stage::data, Stage::data_end}) {
    INFO(to_string(s));
    Verdict v = classify(s, reply_of("421 4.4.2 closing connection"), "h");
    CHECK(v.scope == Scope::route);
    CHECK(v.permanence == Permanence::temporary);
  }
}

TEST_CASE("classify: words are matched as words") {
  // "rate" inside "generate" / "separate" is not a rate limit.
  Verdict v = classify(Stage::data_end, reply_of("451 4.3.0 could not generate a separate id"), "h");
  CHECK(v.scope == Scope::message);
  // "exceeded" alone (a spam score) is not a quota.
  v = classify(Stage::data_end, reply_of("554 5.7.1 spam score exceeded threshold"), "h");
  CHECK(v.scope == Scope::message);
  CHECK(v.permanence == Permanence::permanent);
}

TEST_CASE("classify: a positive reply where a failure was expected is retried, not bounced") {
  Verdict v = classify(Stage::data, reply_of("250 2.0.0 ok"), "h");
  CHECK(v.scope == Scope::message);
  CHECK(v.permanence == Permanence::temporary);
  CHECK(v.status[0] == '4');
}

TEST_CASE("classify: empty host falls back to a description") {
  Verdict v = classify(Stage::auth, reply_of("535 5.7.8 no"));
  CHECK(v.advice.find("the provider's server") != std::string::npos);
}

TEST_CASE("classify_failure: connection problems before the transaction pause the route") {
  Verdict v = classify_failure(Stage::connect, Failure::refused, "smtp.example.net", 25);
  CHECK(v.scope == Scope::route);
  CHECK(v.permanence == Permanence::temporary);
  CHECK(v.problem == RouteProblem::connection);
  CHECK(v.advice.find("smtp.example.net:25") != std::string::npos);
  CHECK(v.advice.find("587") != std::string::npos);
  CHECK(v.advice.find("465") != std::string::npos);
  CHECK(v.status == "4.4.1");

  v = classify_failure(Stage::connect, Failure::timeout, "smtp.example.net", 587);
  CHECK(v.problem == RouteProblem::connection);
  CHECK(v.advice.find("timed out") != std::string::npos);
  CHECK(v.advice.find("port 25") == std::string::npos);  // only mentioned when it is port 25

  v = classify_failure(Stage::connect, Failure::unreachable, "smtp.example.net", 465);
  CHECK(v.scope == Scope::route);
  v = classify_failure(Stage::greeting, Failure::closed, "h", 465);
  CHECK(v.scope == Scope::route);
  CHECK(v.problem == RouteProblem::connection);
  v = classify_failure(Stage::ehlo, Failure::protocol, "h", 465);
  CHECK(v.scope == Scope::route);
  CHECK(v.problem == RouteProblem::unavailable);
}

TEST_CASE("classify_failure: TLS never falls back, at any stage") {
  for (Failure f : {Failure::tls_missing, Failure::tls_handshake, Failure::tls_certificate}) {
    Verdict v = classify_failure(Stage::starttls, f, "smtp.example.net", 587);
    CHECK(v.scope == Scope::route);
    CHECK(v.problem == RouteProblem::tls);
    CHECK(v.advice.find("smtp.example.net") != std::string::npos);
  }
  CHECK(classify_failure(Stage::starttls, Failure::tls_missing, "h", 587).advice.find("without encryption") !=
        std::string::npos);
  CHECK(classify_failure(Stage::starttls, Failure::tls_missing, "h", 587).permanence == Permanence::permanent);
  CHECK(classify_failure(Stage::connect, Failure::tls_certificate, "h", 465).advice.find("IP address") !=
        std::string::npos);
  Verdict v = classify_failure(Stage::auth, Failure::auth_unavailable, "h", 25);
  CHECK(v.scope == Scope::route);
  CHECK(v.problem == RouteProblem::auth_rejected);
  CHECK(v.permanence == Permanence::permanent);
}

TEST_CASE("classify_failure: a connection that breaks during a transaction defers only the message") {
  for (Stage s : {Stage::mail, Stage::rcpt, Stage::data, Stage::data_end}) {
    for (Failure f : {Failure::closed, Failure::timeout, Failure::protocol, Failure::refused}) {
      Verdict v = classify_failure(s, f, "h", 465);
      CHECK(v.scope == Scope::message);
      CHECK(v.permanence == Permanence::temporary);
      CHECK(v.status[0] == '4');
    }
  }
}
