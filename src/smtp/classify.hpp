// Scope and permanence of a smarthost outcome (the lesson of Postfix smtp_trouble.c): does a reply
// or a broken connection concern the whole route, one message or one recipient? Pure, no I/O.
#pragma once
#include <string>
#include <string_view>

#include "smtp/reply.hpp"

namespace pb::smtp {

// Where in the client dialog the outcome happened (RFC 5321 3.3, RFC 3207, RFC 4954).
enum class Stage { connect, greeting, ehlo, starttls, auth, mail, rcpt, data, data_end };

enum class Scope { route, message, recipient };  // route = the whole smarthost
enum class Permanence { temporary, permanent };
enum class RouteProblem { none, auth_rejected, tls, connection, quota, unavailable };

// What the delivery loop does with an outcome:
//   route     -> pause the smarthost with its own backoff; the message keeps its retry count.
//                `permanent` means "needs the admin" (wrong password, no TLS): a long pause, shown
//                on the status page; messages are never bounced for a route problem, only when
//                they expire. A quota reply is always temporary, even as a 5xx.
//   message   -> temporary: that message backs off; permanent: bounce all its recipients now.
//   recipient -> temporary: retry that recipient later; permanent: bounce only that recipient.
struct Verdict {
  Scope scope = Scope::message;
  Permanence permanence = Permanence::temporary;
  RouteProblem problem = RouteProblem::none;  // none unless scope == route
  std::string advice;  // plain words for the status page and the DSN, naming the host
  std::string status;  // RFC 3463 code for a DSN: the reply's enhanced code, class = permanence
};

// Classifies a negative (4xx/5xx) reply received at `stage` from `host` (used in the advice).
// A positive reply where a failure was expected yields message/temporary ("unexpected reply").
Verdict classify(Stage stage, const Reply& reply, std::string_view host = {});

// Failures without a usable reply: the caller maps its transport/TLS errors onto these.
enum class Failure {
  refused,          // TCP connection refused
  unreachable,      // name not found, no route to host, network down
  timeout,          // connect or read timed out
  closed,           // the server closed the connection / I/O error mid-dialog
  protocol,         // garbage instead of an SMTP reply
  tls_missing,      // STARTTLS required but not offered
  tls_handshake,    // the TLS handshake failed
  tls_certificate,  // certificate not trusted or not issued for `host`
  auth_unavailable, // no AUTH mechanism we may use (none offered, or not encrypted)
};

// Before the transaction (connect..auth) a failure concerns the route; during it (mail..data_end)
// only the message, so one message that breaks the connection cannot pause the whole route (a
// route that is really down fails at the next connect). `port` tailors the connection advice
// (many firewalls block outgoing port 25).
Verdict classify_failure(Stage stage, Failure failure, std::string_view host = {}, int port = 0);

std::string_view to_string(Stage s);
std::string_view to_string(Scope s);
std::string_view to_string(RouteProblem p);

}  // namespace pb::smtp
