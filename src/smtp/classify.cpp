// Smarthost outcome classification as an ordered rule table (first match wins), after Postfix
// smtp_trouble.c (site / message / recipient) plus what providers actually say about quotas.
#include "smtp/classify.hpp"

#include <array>
#include <initializer_list>

#include "words/provider_replies.hpp"

namespace pb::smtp {

namespace {

// ---------------------------------------------------------------------------------------------
// Facts about one reply, computed once.

struct Facts {
  Stage stage;
  int code;
  std::string detail;  // enhanced code without its class: "7.1" of "5.7.1"; "" if none
  std::string words;   // all lines, lower case, non-alphanumerics as single spaces, " " padded
};

std::string normalise(const Reply& r) {
  std::string out = " ";
  for (const std::string& line : r.lines) {
    for (char c : line) {
      bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (c >= 'A' && c <= 'Z') {
        out.push_back(static_cast<char>(c - 'A' + 'a'));
      } else if (alnum) {
        out.push_back(c);
      } else if (out.back() != ' ') {
        out.push_back(' ');
      }
    }
    if (out.back() != ' ') out.push_back(' ');
  }
  return out;
}

Facts facts_of(Stage stage, const Reply& r) {
  std::string detail = r.enhanced.size() > 2 ? r.enhanced.substr(2) : std::string();
  return Facts{stage, r.code, std::move(detail), normalise(r)};
}

// Keywords are matched inside the normalised text; a leading/trailing space marks a word edge.
bool mentions(const Facts& f, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys)
    if (f.words.find(k) != std::string::npos) return true;
  return false;
}

bool temp(const Facts& f) { return f.code >= 400 && f.code < 500; }
bool perm(const Facts& f) { return f.code >= 500 && f.code < 600; }
bool failed(const Facts& f) { return temp(f) || perm(f); }
bool detail_is(const Facts& f, std::string_view d) { return f.detail == d; }

// Provider send limits: Strato/IONOS ("450 Mail send limit exceeded", "421 Rate limit reached"),
// Gmail ("550 5.4.5 Daily user sending limit exceeded"), Microsoft 365
// ("SubmissionQuotaExceededException"). "exceeded" alone is not enough ("spam score exceeded").
bool quota_words(const Facts& f) {
  return mentions(f, {"quota", "limit", " rate ", "ratelimit", "too many", "throttl", "slow down", " per hour",
                      " per day", " per minute", "hourly", "daily"});
}

// Microsoft 365 blocks a whole tenant's sending ("550 5.7.705 Access denied, tenant has exceeded
// threshold", "550 5.7.708 ... traffic not accepted from this IP", 5.7.233): every message would get
// the same answer until Microsoft lifts the block, so it pauses the route instead of bouncing.
bool tenant_blocked(const Facts& f) { return detail_is(f, "7.705") || detail_is(f, "7.708") || detail_is(f, "7.233"); }

// A full mailbox is the recipient's quota, not ours (RFC 3463 X.2.2).
bool mailbox_full(const Facts& f) {
  return detail_is(f, "2.2") || mentions(f, {"mailbox full", "mailbox is full", "over quota", "overquota",
                                             "out of storage", "inbox is full", "mailbox size"});
}

// RFC 3463 X.3.4 "message too big for system", X.2.3 "message length exceeds administrative limit".
bool too_large(const Facts& f) {
  return detail_is(f, "3.4") || detail_is(f, "2.3") ||
         mentions(f, {"message size", "size limit", "too large", "too big", " size exceeds"});
}

// RFC 3463 X.5.3 "too many recipients".
bool too_many_recipients(const Facts& f) {
  return detail_is(f, "5.3") || mentions(f, {"too many recipients", "recipient limit", "recipients limit"});
}

bool tls_words(const Facts& f) {
  return mentions(f, {"starttls", " tls ", "encryption required", "must use encryption", " ssl "});
}

// RFC 4954 6: "530 5.7.0 Authentication required"; Gmail "530-5.7.0 Authentication Required".
bool auth_required(const Facts& f) {
  return f.code == 530 || mentions(f, {"authentication required", "authentication is required", "auth required",
                                       "must authenticate", "not authenticated", "please authenticate",
                                       "login required", "smtp auth required"});
}

// Postfix "Relay access denied", Exchange "Unable to relay", Microsoft 365 "5.7.64 TenantAttribution;
// Relay Access Denied": the smarthost does not treat this login as allowed to send out.
bool relay_denied(const Facts& f) { return mentions(f, {"relay", "tenantattribution"}); }

// The provider refuses our envelope/From address (GMX, T-Online; Microsoft 365 SendAs).
bool sender_words(const Facts& f) {
  return mentions(f, {"sender", "not owned", "not allowed", "sendas", "send as", "from address", "from header",
                      "absender", "not authorized to send", "permission to send", "not permitted to send"});
}

// RFC 3463 X.3.1 "mail system full", X.3.2 "system not accepting network messages".
bool system_trouble(const Facts& f) {
  return detail_is(f, "3.1") || detail_is(f, "3.2") ||
         mentions(f, {"server busy", "too busy", "system busy", "insufficient system storage"});
}

// ---------------------------------------------------------------------------------------------
// The rule table.

constexpr unsigned bit(Stage s) { return 1u << static_cast<unsigned>(s); }
constexpr unsigned kSession = bit(Stage::connect) | bit(Stage::greeting) | bit(Stage::ehlo);
constexpr unsigned kAuth = bit(Stage::auth);
constexpr unsigned kStartTls = bit(Stage::starttls);
constexpr unsigned kMail = bit(Stage::mail);
constexpr unsigned kRcpt = bit(Stage::rcpt);
constexpr unsigned kContent = bit(Stage::data) | bit(Stage::data_end);
constexpr unsigned kTransaction = kMail | kRcpt | kContent;
constexpr unsigned kAll = kSession | kAuth | kStartTls | kTransaction;

enum class Perm { temporary, permanent, by_code };  // by_code: 4xx temporary, 5xx permanent

enum class Advice {
  login_rejected, app_password, web_login, auth_disabled, auth_method, auth_temporary, password_change,
  login_needed, relay_denied, starttls_refused, tls_required, quota, unavailable, refuses_session,
  session_temporary, connections, tenant_blocked, system_trouble, mailbox_full, too_many_recipients, too_large, sender_refused,
  message_refused, message_deferred, recipient_refused, recipient_deferred, unexpected,
};

struct Rule {
  unsigned stages;
  bool (*match)(const Facts&);
  Scope scope;
  Perm perm;
  RouteProblem problem;
  Advice advice;
};

using enum Scope;
using enum RouteProblem;

// Order matters: the narrow rules (recipient's mailbox full, message too large, too many
// recipients) come before the quota rule, whose words ("limit", "quota") they share.
constexpr std::array kRules = {
    // RFC 4954 6 / 4.7.12: replies to AUTH.
    Rule{kAuth, [](const Facts& f) { return f.code == 432; }, route, Perm::permanent, auth_rejected,
         Advice::password_change},
    Rule{kAuth, temp, route, Perm::temporary, unavailable, Advice::auth_temporary},
    Rule{kAuth, [](const Facts& f) { return perm(f) && (detail_is(f, "7.9") || mentions(f, {"application specific",
                                                                                              "app password"})); },
         route, Perm::permanent, auth_rejected, Advice::app_password},
    Rule{kAuth, [](const Facts& f) { return perm(f) && (detail_is(f, "7.14") || mentions(f, {"web browser"})); },
         route, Perm::permanent, auth_rejected, Advice::web_login},
    // Microsoft 365 "5.7.139 ... SmtpClientAuthentication is disabled for the Tenant".
    Rule{kAuth, [](const Facts& f) { return perm(f) && mentions(f, {"smtpclientauthentication", "smtp auth",
                                                                     "authenticated smtp"}); },
         route, Perm::permanent, auth_rejected, Advice::auth_disabled},
    Rule{kAuth, [](const Facts& f) { return f.code >= 500 && f.code <= 504; }, route, Perm::permanent,
         auth_rejected, Advice::auth_method},
    Rule{kAuth, perm, route, Perm::permanent, auth_rejected, Advice::login_rejected},
    // RFC 3207 4: 454 "TLS not available due to temporary reason", 5xx otherwise.
    Rule{kStartTls, failed, route, Perm::by_code, tls, Advice::starttls_refused},
    // Recipient's mailbox full: that recipient (at RCPT) or the message (after DATA).
    Rule{kRcpt, [](const Facts& f) { return failed(f) && mailbox_full(f); }, recipient, Perm::by_code, none,
         Advice::mailbox_full},
    Rule{kContent, [](const Facts& f) { return failed(f) && mailbox_full(f); }, message, Perm::by_code, none,
         Advice::mailbox_full},
    // RFC 5321 4.5.3.1.10: a 552 for too many recipients is treated as temporary.
    Rule{kRcpt, [](const Facts& f) { return failed(f) && too_many_recipients(f); }, recipient, Perm::temporary,
         none, Advice::too_many_recipients},
    // RFC 1870 6.1: 552 at MAIL (SIZE=) or after the data: too large for this server.
    Rule{kMail | kContent, [](const Facts& f) { return f.code == 552 || (failed(f) && too_large(f)); }, message,
         Perm::by_code, none, Advice::too_large},
    // RFC 5321 4.2.2: 552 "exceeded storage allocation" at RCPT is the recipient's storage.
    Rule{kRcpt, [](const Facts& f) { return f.code == 552; }, recipient, Perm::permanent, none,
         Advice::mailbox_full},
    // RFC 5321 4.5.3.1: "421 Too many concurrent SMTP connections" is about max_connections.
    Rule{kAll, [](const Facts& f) { return failed(f) && mentions(f, {"too many connections", "too many concurrent",
                                                                     "too many simultaneous"}); },
         route, Perm::temporary, unavailable, Advice::connections},
    Rule{kAll, [](const Facts& f) { return failed(f) && tenant_blocked(f); }, route, Perm::temporary, quota,
         Advice::tenant_blocked},
    // Provider send limits pause the route, whatever the class: the limit lifts by itself.
    Rule{kAll, [](const Facts& f) { return failed(f) && quota_words(f); }, route, Perm::temporary, quota,
         Advice::quota},
    // RFC 5321 3.8: 421 may answer any command; the server is closing the channel.
    Rule{kAll, [](const Facts& f) { return f.code == 421; }, route, Perm::temporary, unavailable,
         Advice::unavailable},
    Rule{kSession, temp, route, Perm::temporary, unavailable, Advice::session_temporary},
    Rule{kSession, perm, route, Perm::permanent, unavailable, Advice::refuses_session},
    Rule{kTransaction, [](const Facts& f) { return failed(f) && tls_words(f); }, route, Perm::by_code, tls,
         Advice::tls_required},
    Rule{kTransaction, [](const Facts& f) { return failed(f) && auth_required(f); }, route, Perm::by_code,
         auth_rejected, Advice::login_needed},
    Rule{kMail | kRcpt, [](const Facts& f) { return failed(f) && relay_denied(f); }, route, Perm::by_code,
         auth_rejected, Advice::relay_denied},
    Rule{kTransaction, [](const Facts& f) { return temp(f) && system_trouble(f); }, route, Perm::temporary,
         unavailable, Advice::system_trouble},
    Rule{kMail | kContent, [](const Facts& f) { return perm(f) && sender_words(f); }, message, Perm::permanent,
         none, Advice::sender_refused},
    Rule{kMail | kContent, perm, message, Perm::permanent, none, Advice::message_refused},
    Rule{kMail | kContent, temp, message, Perm::temporary, none, Advice::message_deferred},
    Rule{kRcpt, perm, recipient, Perm::permanent, none, Advice::recipient_refused},
    Rule{kRcpt, temp, recipient, Perm::temporary, none, Advice::recipient_deferred},
};

std::string host_or_default(std::string_view host) {
  return host.empty() ? std::string("the provider's server") : std::string(host);
}

std::string advice_text(Advice a, const std::string& h) {
  switch (a) {
    case Advice::login_rejected:
      return "login rejected by " + h + ": password changed? (check the account at the provider)";
    case Advice::app_password:
      return "login rejected by " + h + ": the provider wants an app-specific password for mail programs "
             "(create one in the account's security settings and put it in password_file)";
    case Advice::web_login:
      return "login blocked by " + h + ": sign in to the account once with a web browser to unlock it";
    case Advice::auth_disabled:
      return "login rejected by " + h + ": authenticated SMTP is switched off for this account "
             "(enable it at the provider)";
    case Advice::auth_method:
      return h + " does not accept this login method: set auth = \"auto\", \"plain\" or \"login\"";
    case Advice::auth_temporary:
      return h + " could not check the login just now (temporary error): retrying later";
    case Advice::password_change:
      return h + " asks for a password change: set a new password at the provider and update password_file";
    case Advice::login_needed:
      return h + " requires a login before sending: set username and password_file for this smarthost";
    case Advice::relay_denied:
      return h + " does not let this account send to outside addresses (relay denied): check username and "
             "auth, and that host is the provider's sending server, not its incoming MX";
    case Advice::starttls_refused:
      return h + " refused STARTTLS: refusing to send without encryption (port 465 with tls = \"implicit\" "
             "may work)";
    case Advice::tls_required:
      return h + " requires encryption: set tls = \"starttls\" (port 587) or tls = \"implicit\" (port 465)";
    case Advice::quota:
      return h + " refuses more mail for now: the provider's sending limit was reached (new accounts are "
             "often limited per hour). Sending resumes by itself; set max_per_hour / max_per_day below "
             "the provider's limit to avoid this";
    case Advice::unavailable:
      return h + " is not accepting mail right now (busy or shutting down): retrying later";
    case Advice::refuses_session:
      return h + " refuses to talk to us: is our IP address on a block list, or is host/port wrong?";
    case Advice::session_temporary:
      return h + " is temporarily not accepting connections: retrying later";
    case Advice::connections:
      return h + " allows fewer simultaneous connections: lower max_connections for this smarthost";
    case Advice::tenant_blocked:
      return h + " blocks sending for this account's organisation: the mail waits until the provider lifts the "
             "block";
    case Advice::system_trouble:
      return h + " has a temporary problem of its own (busy or out of space): retrying later";
    case Advice::mailbox_full:
      return "the recipient's mailbox is full";
    case Advice::too_many_recipients:
      return h + " accepts fewer recipients per message: the others are sent in another attempt";
    case Advice::too_large:
      return "the message is too large for " + h + ": make the attachments smaller or share large "
             "files by link";
    case Advice::sender_refused:
      return "the provider refuses this sender address: set rewrite_sender (and rewrite_from_header) to "
             "the account's own address";
    case Advice::message_refused:
      return h + " refused this message (see its reply)";
    case Advice::message_deferred:
      return h + " deferred this message: retrying later";
    case Advice::recipient_refused:
      return h + " refused this recipient: check the address for typing errors";
    case Advice::recipient_deferred:
      return h + " deferred this recipient: retrying later";
    case Advice::unexpected:
      return h + " sent an unexpected reply: retrying later";
  }
  return {};
}

// RFC 3463 2: the reply's own code when it has one, else X.0.0; the class follows our decision.
std::string status_for(const Reply& r, Permanence p) {
  std::string s = r.enhanced.size() >= 5 ? r.enhanced : std::string("5.0.0");
  s[0] = p == Permanence::permanent ? '5' : '4';
  return s;
}

Permanence resolve(Perm p, int code) {
  if (p == Perm::by_code) return code >= 500 ? Permanence::permanent : Permanence::temporary;
  return p == Perm::permanent ? Permanence::permanent : Permanence::temporary;
}

}  // namespace

Verdict classify(Stage stage, const Reply& reply, std::string_view host) {
  const Facts f = facts_of(stage, reply);
  const std::string h = host_or_default(host);
  for (const Rule& rule : kRules) {
    if ((rule.stages & bit(stage)) == 0 || !rule.match(f)) continue;
    Permanence p = resolve(rule.perm, reply.code);
    // The provider's own words, recognised, say more than the rule's general advice; the rule
    // still decides scope and permanence.
    auto explained = words::explain_smtp(reply.code, reply.enhanced, reply.text(), host);
    std::string advice = explained ? words::one_line(*explained) : advice_text(rule.advice, h);
    return Verdict{rule.scope, p, rule.problem, std::move(advice), status_for(reply, p)};
  }
  // A 2xx/3xx where a failure was expected (or a code outside 4xx/5xx): Postfix treats this as a
  // protocol error and defers; the message is retried, nothing is bounced on a misunderstanding.
  return Verdict{Scope::message, Permanence::temporary, RouteProblem::none, advice_text(Advice::unexpected, h),
                 "4.5.0"};
}

namespace {

bool before_transaction(Stage s) { return (bit(s) & (kSession | kAuth | kStartTls)) != 0; }

std::string connection_advice(std::string_view what, const std::string& h, int port) {
  std::string where = port > 0 ? h + ":" + std::to_string(port) : h;
  std::string out = "cannot connect to " + where + " (" + std::string(what) + "): check host name, port and firewall";
  if (port == 25)
    out += "; many firewalls and providers block outgoing port 25: use port 587 with tls = \"starttls\" or "
           "465 with tls = \"implicit\"";
  return out;
}

}  // namespace

Verdict classify_failure(Stage stage, Failure failure, std::string_view host, int port) {
  const std::string h = host_or_default(host);
  const auto route_temp = [](RouteProblem p, std::string advice, const char* status) {
    return Verdict{Scope::route, Permanence::temporary, p, std::move(advice), status};
  };
  const auto route_perm = [](RouteProblem p, std::string advice, const char* status) {
    return Verdict{Scope::route, Permanence::permanent, p, std::move(advice), status};
  };
  switch (failure) {
    // TLS and login failures are about the route whenever they happen: never a fallback to plain
    // text (no silent downgrade), and a password is never sent unencrypted (RFC 4954 4).
    case Failure::tls_missing:
      return route_perm(RouteProblem::tls,
                        h + " does not offer STARTTLS: refusing to send without encryption (port 465 with "
                            "tls = \"implicit\" may work)",
                        "5.7.10");
    case Failure::tls_handshake:
      return route_temp(RouteProblem::tls,
                        "the TLS handshake with " + h + " failed: refusing to send without encryption (check "
                            "port and tls: 465 = \"implicit\", 587 = \"starttls\")",
                        "4.7.0");
    case Failure::tls_certificate:
      return route_perm(RouteProblem::tls,
                        "the certificate of " + h + " could not be verified: refusing to send. Is host the "
                            "name on the certificate (not an IP address)? A private CA needs ca_file",
                        "5.7.0");
    case Failure::auth_unavailable:
      return route_perm(RouteProblem::auth_rejected,
                        h + " offers no login we may use: the password is never sent without encryption "
                            "(check tls and auth)",
                        "5.7.0");
    default:
      break;
  }
  if (!before_transaction(stage)) {
    // Postfix defers the whole destination after an I/O error at any stage; for a single
    // smarthost that would let one message that breaks the connection stall the route forever.
    std::string advice = failure == Failure::protocol
                             ? h + " sent an invalid reply while this message was sent: retrying later"
                             : "the connection to " + h + " broke while this message was sent: retrying later";
    return Verdict{Scope::message, Permanence::temporary, RouteProblem::none, std::move(advice), "4.4.2"};
  }
  switch (failure) {
    case Failure::refused:
      return route_temp(RouteProblem::connection, connection_advice("connection refused", h, port), "4.4.1");
    case Failure::unreachable:
      return route_temp(RouteProblem::connection, connection_advice("host not found or unreachable", h, port),
                        "4.4.4");
    case Failure::timeout:
      return route_temp(RouteProblem::connection,
                        stage == Stage::connect ? connection_advice("timed out", h, port)
                                                : h + " stopped answering (timeout): retrying later",
                        stage == Stage::connect ? "4.4.1" : "4.4.2");
    case Failure::closed:
      return route_temp(RouteProblem::connection, h + " closed the connection: retrying later", "4.4.2");
    case Failure::protocol:
      return route_temp(RouteProblem::unavailable,
                        h + " does not speak SMTP as expected (wrong port or tls mode?): retrying later",
                        "4.5.0");
    default:
      break;
  }
  return route_temp(RouteProblem::unavailable, h + ": unexpected failure: retrying later", "4.0.0");
}

std::string_view to_string(Stage s) {
  switch (s) {
    case Stage::connect: return "connect";
    case Stage::greeting: return "greeting";
    case Stage::ehlo: return "ehlo";
    case Stage::starttls: return "starttls";
    case Stage::auth: return "auth";
    case Stage::mail: return "mail";
    case Stage::rcpt: return "rcpt";
    case Stage::data: return "data";
    case Stage::data_end: return "data_end";
  }
  return "?";
}

std::string_view to_string(Scope s) {
  switch (s) {
    case Scope::route: return "route";
    case Scope::message: return "message";
    case Scope::recipient: return "recipient";
  }
  return "?";
}

std::string_view to_string(RouteProblem p) {
  switch (p) {
    case RouteProblem::none: return "none";
    case RouteProblem::auth_rejected: return "auth_rejected";
    case RouteProblem::tls: return "tls";
    case RouteProblem::connection: return "connection";
    case RouteProblem::quota: return "quota";
    case RouteProblem::unavailable: return "unavailable";
  }
  return "?";
}

}  // namespace pb::smtp
