// The human-readable part of a DSN (RFC 3464 2.1, RFC 6522 3): what happened to each recipient and
// what to do about it, in English and then in German, worded for a sender or for the postmaster.
#include <cstdio>
#include <string>
#include <vector>

#include "mail/dsn_fields.hpp"
#include "mail/headers.hpp"
#include "util/text.hpp"

namespace pb::mail::dsn_fields {

namespace {


struct Words {
  const char* en;
  const char* de;
};

// What a failure is about, by RFC 3463 subject (X.1 addressing, X.2 mailbox, X.3 system/size,
// X.4 network, X.7 policy): one classification, worded for the sender or for the postmaster.
enum class Cause { delayed, address, mailbox_full, too_large, network, policy, other };

Cause cause_of(std::string_view status, bool delayed) {
  if (delayed) return Cause::delayed;
  std::string_view sd = status.size() > 2 ? status.substr(2) : std::string_view{};
  if (sd.substr(0, 2) == "1.") return Cause::address;
  if (sd == "2.2") return Cause::mailbox_full;
  if (sd == "3.4" || sd == "2.3") return Cause::too_large;
  if (sd.substr(0, 2) == "4.") return Cause::network;
  if (sd.substr(0, 2) == "7.") return Cause::policy;
  return Cause::other;
}

// What the sender can do, in Cause order.
constexpr Words kSenderAdvice[] = {
    {"Nothing to do yet: delivery is retried automatically. You will get another message if it "
     "finally fails.",
     "Sie müssen noch nichts tun: die Zustellung wird automatisch wiederholt. Sie erhalten eine "
     "weitere Nachricht, falls sie endgültig scheitert."},
    {"The address is probably wrong or no longer exists. Check it for typing errors and send the "
     "message again.",
     "Die Adresse ist vermutlich falsch oder existiert nicht mehr. Bitte prüfen Sie sie auf "
     "Tippfehler und senden Sie die Nachricht erneut."},
    {"The recipient's mailbox is full. Try again later or reach the recipient another way.",
     "Das Postfach des Empfängers ist voll. Versuchen Sie es später erneut oder erreichen Sie den "
     "Empfänger auf anderem Weg."},
    {"The message is too large. Make the attachments smaller or share large files by link.",
     "Die Nachricht ist zu groß. Verkleinern Sie die Anhänge oder teilen Sie große Dateien per Link."},
    {"The mail server could not be reached for too long. Please send the message again later; if "
     "this keeps happening, forward this notice to your IT administrator.",
     "Der Mailserver war zu lange nicht erreichbar. Bitte senden Sie die Nachricht später erneut; "
     "passiert das öfter, leiten Sie diese Nachricht an Ihre IT-Betreuung weiter."},
    {"A rule of the mail provider refused the message (for example, the sender address is not "
     "allowed, or it looked like spam). Please forward this notice to your IT administrator.",
     "Eine Regel des Mail-Anbieters hat die Nachricht abgelehnt (zum Beispiel ist die "
     "Absenderadresse nicht erlaubt oder sie wirkte wie Spam). Bitte leiten Sie diese Nachricht an "
     "Ihre IT-Betreuung weiter."},
    {"Please check the address. If the reason is unclear, forward this notice to your IT administrator.",
     "Bitte prüfen Sie die Adresse. Ist der Grund unklar, leiten Sie diese Nachricht an Ihre "
     "IT-Betreuung weiter."},
};

// What the postmaster can do, in Cause order: the receiving server is usually the office server,
// and the message is kept in postbridge's queue until it is retried or deleted.
constexpr Words kPostmasterAdvice[] = {
    {"Nothing yet: delivery is retried automatically. If the answer above goes on, fix its cause at "
     "the receiving server.",
     "Noch nichts: die Zustellung wird automatisch wiederholt. Bleibt es bei der Antwort oben, beheben "
     "Sie die Ursache am empfangenden Server."},
    {"The receiving server does not know this address. Create the mailbox or an alias there (or, for "
     "a multidrop account, set default_recipient), then retry the message (see above).",
     "Der empfangende Server kennt diese Adresse nicht. Legen Sie dort das Postfach oder einen Alias an "
     "(oder setzen Sie bei einem Multidrop-Konto default_recipient) und stellen Sie die Nachricht erneut "
     "zu (siehe oben)."},
    {"The mailbox is full at the receiving server. Make room there, then retry the message (see above).",
     "Das Postfach ist am empfangenden Server voll. Schaffen Sie dort Platz und stellen Sie die Nachricht "
     "erneut zu (siehe oben)."},
    {"The message is larger than the receiving server accepts. Raise its size limit, then retry the "
     "message (see above).",
     "Die Nachricht ist größer, als der empfangende Server annimmt. Erhöhen Sie dort die Grenze und "
     "stellen Sie die Nachricht erneut zu (siehe oben)."},
    {"The receiving server could not be reached for too long. Check that it runs (postbridge test "
     "local), then retry the message (see above).",
     "Der empfangende Server war zu lange nicht erreichbar. Prüfen Sie, ob er läuft (postbridge test "
     "local), und stellen Sie die Nachricht erneut zu (siehe oben)."},
    {"A rule of the receiving server refused the message (a spam or virus filter, a sender check): "
     "its log says which.",
     "Eine Regel des empfangenden Servers hat die Nachricht abgelehnt (Spam- oder Virenfilter, "
     "Absenderprüfung): sein Protokoll sagt, welche."},
    {"The receiving server's answer above says why; fix that, then retry or delete the message (see above).",
     "Die Antwort des empfangenden Servers oben nennt den Grund; beheben Sie ihn und stellen Sie die "
     "Nachricht erneut zu oder löschen Sie sie (siehe oben)."},
};

Words advice_for(std::string_view status, Kind kind, bool to_postmaster) {
  if (kind == Kind::relayed)
    return {"Nothing: the message is on its way. The provider's server does not confirm deliveries, so no "
            "further report will come, not even when the message arrives.",
            "Nichts: die Nachricht ist unterwegs. Der Server des Anbieters bestätigt keine Zustellungen; es "
            "kommt deshalb keine weitere Nachricht, auch nicht, wenn sie ankommt."};
  const auto i = static_cast<std::size_t>(cause_of(status, kind == Kind::delayed));
  return to_postmaster ? kPostmasterAdvice[i] : kSenderAdvice[i];
}

std::string original_subject(std::string_view headers) {
  HeaderCollector h;
  std::size_t start = 0;
  while (start < headers.size() && !h.done()) {
    std::size_t nl = headers.find("\r\n", start);
    h.feed_line(headers.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    start = nl == std::string_view::npos ? headers.size() : nl + 2;
  }
  auto subject = h.get("Subject");
  if (!subject) return {};
  std::string s = clean(readable(decode_rfc2047(*subject)));
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return readable(s);  // the cut may have split a UTF-8 sequence
}

struct Lang {
  const char* intro;            // "This is the mail system at "
  const char* failed_lead;
  const char* delayed_lead;
  const char* relayed_lead;
  const char* subject;          // "Subject of your message: "
  const char* not_delivered;
  const char* delayed;
  const char* relayed;
  const char* server_said;      // "The server %s answered:"
  const char* answer;           // "The answer was:"
  const char* reason;           // "Reason:" (our own words, not a server's reply)
  const char* retry_until;      // "Retried until: "
  const char* what_to_do;
};

constexpr Lang kEnglish{
    "This is the mail system at ",
    "Your message could not be delivered to the recipients below. It has NOT reached them.",
    "Your message has not been delivered yet to the recipients below. Nothing is lost: delivery is "
    "being retried.",
    "Your message was handed on to the mail provider for the recipients below. You asked for a "
    "delivery confirmation, but the provider's server does not send them: this report confirms that "
    "the message left here, not that it reached the mailbox.",
    "Subject of your message: ",
    "not delivered",
    "delayed",
    "handed on (relayed)",
    "The server %s answered:",
    "The answer was:",
    "Reason:",
    "Retried until: ",
    "What to do: ",
};

constexpr Lang kEnglishPostmaster{
    .intro = "This is the mail system at ",
    .failed_lead = "A message could not be delivered to the recipients below. It has NOT reached them.",
    .delayed_lead = "A message has not been delivered yet to the recipients below. Nothing is lost: delivery is "
                    "being retried.",
    .relayed_lead = "A message was handed on to the mail provider for the recipients below.",
    .subject = "Subject of the message: ",
    .not_delivered = "not delivered",
    .delayed = "delayed",
    .relayed = "handed on",
    .server_said = "The server %s answered:",
    .answer = "The answer was:",
    .reason = "Reason:",
    .retry_until = "Retried until: ",
    .what_to_do = "What to do: ",
};

constexpr Lang kGermanPostmaster{
    .intro = "Dies ist das Mailsystem auf ",
    .failed_lead = "Eine Nachricht konnte an die folgenden Empfänger NICHT zugestellt werden.",
    .delayed_lead = "Eine Nachricht wurde an die folgenden Empfänger noch nicht zugestellt. Es geht nichts "
                    "verloren: die Zustellung wird wiederholt.",
    .relayed_lead = "Eine Nachricht wurde für die folgenden Empfänger an den Mail-Anbieter übergeben.",
    .subject = "Betreff der Nachricht: ",
    .not_delivered = "nicht zugestellt",
    .delayed = "verzögert",
    .relayed = "übergeben",
    .server_said = "Der Server %s antwortete:",
    .answer = "Die Antwort lautete:",
    .reason = "Grund:",
    .retry_until = "Weitere Versuche bis: ",
    .what_to_do = "Was tun: ",
};

constexpr Lang kGerman{
    "Dies ist das Mailsystem auf ",
    "Ihre Nachricht konnte an die folgenden Empfänger NICHT zugestellt werden.",
    "Ihre Nachricht wurde an die folgenden Empfänger noch nicht zugestellt. Es geht nichts verloren: "
    "die Zustellung wird wiederholt.",
    "Ihre Nachricht wurde für die folgenden Empfänger an den Mail-Anbieter weitergegeben. Sie haben "
    "eine Zustellbestätigung angefordert, aber der Server des Anbieters verschickt keine: diese "
    "Nachricht bestätigt, dass die Nachricht von hier abgeschickt wurde, nicht, dass sie im Postfach "
    "angekommen ist.",
    "Betreff Ihrer Nachricht: ",
    "nicht zugestellt",
    "verzögert",
    "weitergegeben",
    "Der Server %s antwortete:",
    "Die Antwort lautete:",
    "Grund:",
    "Weitere Versuche bis: ",
    "Was tun: ",
};

const char* lead_of(const Lang& l, Kind report) {
  return report == Kind::failed ? l.failed_lead : report == Kind::delayed ? l.delayed_lead : l.relayed_lead;
}

const char* outcome_of(const Lang& l, Kind k) {
  return k == Kind::failed ? l.not_delivered : k == Kind::delayed ? l.delayed : l.relayed;
}

// Who said the quoted words: a server's reply is introduced as its answer; our own words (the
// X-Postbridge diagnostic type) are a reason, never put in a server's mouth.
std::string said_by(const Lang& l, const DsnRecipient& r, const std::string& first_line) {
  if (!is_smtp_reply(first_line)) return l.reason;
  std::string host = clean(readable(r.remote_mta));
  if (host.empty()) return l.answer;
  char buf[512];
  std::snprintf(buf, sizeof buf, l.server_said, host.substr(0, 255).c_str());
  return buf;
}

void describe(const Lang& l, bool german, const DsnInput& in, const std::string& subject, Kind report,
              std::string& out) {
  out += l.intro + clean(readable(in.reporting_mta)) + ".\r\n\r\n";
  out += lead_of(l, report);
  out += "\r\n";
  if (!subject.empty()) out += std::string(l.subject) + "\"" + subject + "\"\r\n";
  for (const DsnRecipient& r : in.recipients) {
    Kind kind = kind_of(r);
    out += "\r\n  <" + clean(readable(r.final_recipient)) + ">: " + outcome_of(l, kind) + "\r\n";
    std::vector<std::string> diag = diagnostic_lines(r.diagnostic);
    if (!diag.empty()) {
      out += "  " + said_by(l, r, diag.front()) + "\r\n";
      for (const std::string& line : diag) out += "    " + readable(line) + "\r\n";
    }
    if (kind == Kind::delayed && r.will_retry_until != 0)
      out += std::string("  ") + l.retry_until + rfc5322_date(r.will_retry_until) + "\r\n";
    Words w = advice_for(status_of(r), kind, in.to_postmaster);
    out += std::string("  ") + l.what_to_do + (german ? w.de : w.en) + "\r\n";
  }
}

}  // namespace

std::string human_part(const DsnInput& in, Kind report) {
  std::string text;
  // The caller's paragraphs keep their line structure; any line end becomes CRLF.
  if (!text::trim(in.explanation).empty()) {
    for (const std::string& line : split_lines(text::trim(in.explanation), true)) text += readable(line) + "\r\n";
    text += "\r\n";
  }
  std::string subject = original_subject(normalise_headers(in.original_headers));
  describe(in.to_postmaster ? kEnglishPostmaster : kEnglish, false, in, subject, report, text);
  text += "\r\n--- Deutsch ---\r\n\r\n";
  describe(in.to_postmaster ? kGermanPostmaster : kGerman, true, in, subject, report, text);
  return text;
}

}  // namespace pb::mail::dsn_fields
