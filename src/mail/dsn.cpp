// RFC 3464 DSN builder, RFC 3461 xtext encodings and bounce-loop guard. The report is assembled
// from sanitised values only (no CR/LF/control bytes survive into a field), encoded to 7 bit (only
// a returned 8-bit original stays 8-bit, labelled so), and folded below 998 octets.
#include "mail/dsn.hpp"

#include <cctype>
#include <cstdio>
#include <optional>
#include <random>

#include "util/hex.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

namespace pb::mail {

namespace {

constexpr std::size_t kFoldAt = 78;     // RFC 5322 2.1.1 SHOULD
constexpr std::size_t kLongWord = 900;  // longer words are cut so no line passes 998 octets
constexpr std::size_t kQpLine = 76;     // RFC 2045 6.7 (5)

// ---------------------------------------------------------------------------------------------
// Value hygiene

bool is_ctl(unsigned char u) { return u < 0x20 || u == 0x7F; }

// Removes control bytes (CR and LF above all: a value can never start a new field); TAB -> space.
std::string clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\t') out.push_back(' ');
    else if (!is_ctl(u)) out.push_back(c);
  }
  return std::string(text::trim(out));
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// 8-bit bytes as \xNN: the delivery-status part is 7-bit text (RFC 3464 2.1, RFC 6533 3).
std::string seven_bit(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out.push_back(c);
    } else {
      out += "\\x";
      hex::append(u, out, hex::Case::upper);
    }
  }
  return out;
}


// Peer text for the human-readable part: valid UTF-8 (Latin-1 bytes become U+FFFD), no controls.
std::string readable(std::string_view s) {
  std::string out;
  for (char32_t cp : utf8::code_points(s)) text::append_utf8(cp < 0x20 || cp == 0x7F ? U' ' : cp, out);
  return out;
}

// "\x{" HEX "}" at `i`: an EmbeddedUnicodeChar (RFC 6533 3) already written out.
bool escape_at(const std::vector<char32_t>& cps, std::size_t i) {
  if (i + 4 >= cps.size() || cps[i] != '\\' || cps[i + 1] != 'x' || cps[i + 2] != '{') return false;
  std::size_t j = i + 3;
  while (j < cps.size() && j - i - 3 < 6 && std::isxdigit(static_cast<int>(cps[j] < 0x80 ? cps[j] : 0))) ++j;
  return j > i + 3 && j < cps.size() && cps[j] == '}';
}

// RFC 6533 3: utf-8-addr-xtext, 7-bit form of a UTF-8 address: "+", "=", "\" and non-ASCII as
// EmbeddedUnicodeChar "\x{HEXPOINT}", without leading zeros (HEXPOINT has none: "\x{FC}" for ü).
// With keep_escapes an escape already written out is copied: the value arrived as type "utf-8"
// and is in that form already, so its escapes must not be escaped again.
std::string utf8_addr_xtext(std::string_view addr, bool keep_escapes = false) {
  std::string out;
  std::vector<char32_t> cps = utf8::code_points(addr);
  for (std::size_t i = 0; i < cps.size(); ++i) {
    char32_t cp = cps[i];
    if (cp > 0x20 && cp < 0x7F && cp != '+' && cp != '=' && (cp != '\\' || (keep_escapes && escape_at(cps, i)))) {
      out.push_back(static_cast<char>(cp));
    } else if (cp > 0x20) {
      char buf[16];
      std::snprintf(buf, sizeof buf, cp < 0x100 ? "\\x{%02X}" : "\\x{%X}", static_cast<unsigned>(cp));
      out += buf;
    }
  }
  return out;
}

// "rfc822; addr" (RFC 3464 2.3.2) or, for a UTF-8 address, "utf-8; xtext" (RFC 6533 3).
std::string address_value(std::string_view addr) {
  std::string a = clean(addr);
  if (is_ascii(a)) return "rfc822; " + a;
  return "utf-8; " + utf8_addr_xtext(a);
}

// RFC 3464 2.3.1: Original-Recipient from ORCPT ("type;address", already xtext-decoded by the
// SMTP listener: decoding again would turn "a+41" into "aA"), or a differing address.
std::string original_recipient(const DsnRecipient& r) {
  std::string orig = clean(r.original);
  std::size_t semi = orig.find(';');
  if (semi == std::string::npos) {
    if (orig.empty() || orig == clean(r.final_recipient)) return {};
    return address_value(orig);
  }
  std::string type = text::to_lower(text::trim(std::string_view(orig).substr(0, semi)));
  std::string value = clean(text::trim(std::string_view(orig).substr(semi + 1)));
  if (type == "rfc822" && !is_ascii(value)) return address_value(value);
  if (type == "utf-8") return "utf-8; " + (is_ascii(value) ? value : utf8_addr_xtext(value, true));
  return seven_bit(clean(type)) + "; " + seven_bit(value);  // the type too: the part is 7-bit
}

// RFC 3463 2: class "." subject "." detail, subject and detail 1*3 digits.
std::size_t digits(std::string_view s, std::size_t at) {
  std::size_t n = 0;
  while (at + n < s.size() && s[at + n] >= '0' && s[at + n] <= '9') ++n;
  return n;
}

bool valid_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t subject = digits(s, 2);
  if (subject == 0 || subject > 3 || 2 + subject >= s.size() || s[2 + subject] != '.') return false;
  std::size_t detail = digits(s, 3 + subject);
  return detail > 0 && detail <= 3 && 3 + subject + detail == s.size();
}

// RFC 3464 2.3.6: "smtp" only for a real SMTP reply ("550 ..." / "550-...").
bool is_smtp_reply(std::string_view line) {
  return line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && std::isdigit(static_cast<unsigned char>(line[1])) &&
         std::isdigit(static_cast<unsigned char>(line[2])) && (line.size() == 3 || line[3] == ' ' || line[3] == '-');
}

// RFC 3464 2.3.3: the actions we report. Anything unknown counts as failed: a report must never
// make a failure look like good news.
enum class Kind { failed, delayed, relayed };

Kind kind_of(const DsnRecipient& r) {
  std::string_view a = text::trim(r.action);
  return text::iequals(a, "delayed") ? Kind::delayed : text::iequals(a, "relayed") ? Kind::relayed : Kind::failed;
}

bool is_delayed(const DsnRecipient& r) { return kind_of(r) == Kind::delayed; }

std::string action_of(const DsnRecipient& r) {
  switch (kind_of(r)) {
    case Kind::delayed: return "delayed";
    case Kind::relayed: return "relayed";
    case Kind::failed: break;
  }
  return "failed";
}

// The report as a whole: failed if any recipient failed, else delayed if any is delayed, else
// relayed. An empty list is a failure report, as before there were other kinds.
Kind report_kind(const DsnInput& in) {
  bool failed = in.recipients.empty(), delayed = false;
  for (const DsnRecipient& r : in.recipients) {
    failed = failed || kind_of(r) == Kind::failed;
    delayed = delayed || kind_of(r) == Kind::delayed;
  }
  return failed ? Kind::failed : delayed ? Kind::delayed : Kind::relayed;
}

// The caller's status if valid; else the enhanced code of the diagnostic reply (RFC 2034 4:
// it follows the reply code) with the class of the action; else 5.0.0 / 4.0.0 / 2.0.0.
std::string status_of(const DsnRecipient& r) {
  std::string s = clean(r.status);
  if (valid_status(s)) return s;
  const Kind kind = kind_of(r);
  const char cls = kind == Kind::relayed ? '2' : kind == Kind::delayed ? '4' : '5';
  const std::string first_line = clean(r.diagnostic.substr(0, r.diagnostic.find_first_of("\r\n")));
  // "550 5.1.1 ..." and "550-5.1.1 ..." (first line of a multi-line reply) alike.
  std::vector<std::string_view> words =
      text::split_ws(first_line.size() > 4 ? std::string_view(first_line).substr(4) : std::string_view{});
  if (is_smtp_reply(first_line) && !words.empty() && valid_status(words[0])) {
    std::string derived(words[0]);
    derived[0] = cls;
    return derived;
  }
  return std::string(1, cls) + ".0.0";
}

// The lines of a text (CRLF, LF or CR separated), each cleaned; empty ones dropped unless
// `keep_empty` (paragraph breaks; a CRLF pair counts once).
std::vector<std::string> split_lines(std::string_view d, bool keep_empty = false) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= d.size(); ++i) {
    if (i < d.size() && d[i] != '\r' && d[i] != '\n') continue;
    std::string line = clean(d.substr(start, i - start));
    if (!line.empty() || (keep_empty && i < d.size())) out.push_back(std::move(line));
    if (i + 1 < d.size() && d[i] == '\r' && d[i + 1] == '\n') ++i;
    start = i + 1;
  }
  return out;
}

std::vector<std::string> diagnostic_lines(std::string_view d) { return split_lines(d); }


// ---------------------------------------------------------------------------------------------
// Output encodings

// RFC 5322 2.2.3 folding of "Name: line1 line2 ...": words are joined by single spaces, a line
// longer than 78 folds before a word, and each further input line starts a continuation line
// (a multi-line SMTP reply stays readable). Words over 900 octets are cut, so no line passes 998.
std::string fold_field(std::string_view name, const std::vector<std::string>& lines) {
  std::string out = std::string(name) + ":";
  std::size_t col = out.size();
  bool word_on_line = false;  // only the field name so far: never fold right after it
  for (std::size_t li = 0; li < lines.size(); ++li) {
    std::vector<std::string_view> words = text::split_ws(lines[li]);
    for (std::size_t wi = 0; wi < words.size(); ++wi) {
      std::string_view rest = words[wi];
      bool first_of_line = li > 0 && wi == 0;
      while (!rest.empty()) {
        std::string_view w = rest.substr(0, kLongWord);
        rest.remove_prefix(w.size());
        if (first_of_line || (word_on_line && col + 1 + w.size() > kFoldAt) || col + 1 + w.size() > 998) {
          out += "\r\n";
          col = 0;
        }
        first_of_line = false;
        out += ' ';
        out += w;
        col += 1 + w.size();
        word_on_line = true;
      }
    }
  }
  return out + "\r\n";
}

std::string fold_field(std::string_view name, std::string_view value) {
  return fold_field(name, std::vector<std::string>{std::string(value)});
}

// RFC 2045 6.7 quoted-printable of text with CRLF line breaks (kept as hard breaks). Encoded lines
// stay within 76 octets; a leading "." or "From " is encoded too, so no relay or mbox mangles it.
std::string quoted_printable(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find("\r\n", start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    start = end == std::string_view::npos ? text.size() : end + 2;
    std::size_t len = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      auto u = static_cast<unsigned char>(line[i]);
      auto encode = [&](std::size_t at_col) {
        bool last = i + 1 == line.size();
        bool plain = (u >= 33 && u <= 126 && u != '=') || ((u == ' ' || u == '\t') && !last);
        if (at_col == 0 && (u == '.' || line.substr(i, 5) == "From ")) plain = false;
        if (plain) return std::string(1, static_cast<char>(u));
        std::string escaped = "=";
        hex::append(u, escaped, hex::Case::upper);
        return escaped;
      };
      std::string enc = encode(len);
      if (len + enc.size() > kQpLine - 1) {  // room for the soft break "="
        out += "=\r\n";
        len = 0;
        enc = encode(0);
      }
      out += enc;
      len += enc.size();
    }
    out += "\r\n";
  }
  return out;
}

// The original header block with CRLF line ends, up to its first empty line.
std::string normalise_headers(std::string_view h) {
  std::string out;
  std::size_t i = 0;
  while (i < h.size()) {
    std::size_t j = i;
    while (j < h.size() && h[j] != '\r' && h[j] != '\n') ++j;
    if (j == i) break;  // empty line: end of the header block
    out.append(h.substr(i, j - i));
    out += "\r\n";
    if (j < h.size() && h[j] == '\r' && j + 1 < h.size() && h[j + 1] == '\n') ++j;
    i = j + 1;
  }
  return out;
}

// 7-bit and no line over 998 octets: may go as Content-Transfer-Encoding 7bit (RFC 2045 2.7).
bool fits_7bit(std::string_view crlf_text) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < crlf_text.size(); ++i) {
    auto u = static_cast<unsigned char>(crlf_text[i]);
    if (u == '\r' && i + 1 < crlf_text.size() && crlf_text[i + 1] == '\n') {
      line = 0;
      ++i;
      continue;
    }
    if (u >= 0x80 || u == 0 || u == '\r' || u == '\n' || ++line > 998) return false;
  }
  return true;
}

std::string random_hex(std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(kHex[rng() & 15]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The human-readable part, English then German.

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

// ---------------------------------------------------------------------------------------------
// The machine-readable part (RFC 3464 2.2 per-message, 2.3 per-recipient fields).

std::string delivery_status(const DsnInput& in) {
  std::string out;
  out += fold_field("Reporting-MTA", "dns; " + seven_bit(clean(in.reporting_mta)));
  if (std::string envid = seven_bit(clean(in.envid)); !envid.empty())
    out += fold_field("Original-Envelope-Id", envid);
  if (in.arrival != 0) out += fold_field("Arrival-Date", rfc5322_date(in.arrival));
  for (const DsnRecipient& r : in.recipients) {
    out += "\r\n";  // RFC 3464 2.1: groups of fields are separated by an empty line
    if (std::string orig = original_recipient(r); !orig.empty()) out += fold_field("Original-Recipient", orig);
    out += fold_field("Final-Recipient", address_value(r.final_recipient));
    out += fold_field("Action", action_of(r));
    out += fold_field("Status", status_of(r));
    if (std::string mta = seven_bit(clean(r.remote_mta)); !mta.empty()) out += fold_field("Remote-MTA", "dns; " + mta);
    std::vector<std::string> diag = diagnostic_lines(r.diagnostic);
    if (!diag.empty()) {
      for (std::string& line : diag) line = seven_bit(line);
      diag.front().insert(0, is_smtp_reply(diag.front()) ? "smtp; " : "X-Postbridge; ");
      out += fold_field("Diagnostic-Code", diag);
    }
    if (r.last_attempt != 0) out += fold_field("Last-Attempt-Date", rfc5322_date(r.last_attempt));
    if (is_delayed(r) && r.will_retry_until != 0) out += fold_field("Will-Retry-Until", rfc5322_date(r.will_retry_until));
  }
  return out;
}

struct Part {
  std::string headers;  // MIME headers, CRLF-terminated
  std::string body;     // CRLF-terminated
};

bool contains(const std::vector<Part>& parts, const std::string& s) {
  for (const Part& p : parts)
    if (p.body.find(s) != std::string::npos || p.headers.find(s) != std::string::npos) return true;
  return false;
}

// The whole message with CRLF line ends (a bare CR or LF becomes CRLF), ending with CRLF.
std::string normalise_message(std::string_view m) {
  std::string out;
  out.reserve(m.size() + 2);
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] != '\r' && m[i] != '\n') {
      out.push_back(m[i]);
      continue;
    }
    if (m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n') ++i;
    out += "\r\n";
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

// Can travel inside the report as it is: no NUL, no line over 998 octets (RFC 5322 2.1.1).
bool returnable(std::string_view crlf_text) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < crlf_text.size(); ++i) {
    if (crlf_text[i] == '\r' && i + 1 < crlf_text.size() && crlf_text[i + 1] == '\n') {
      line = 0;
      ++i;
    } else if (crlf_text[i] == '\0' || ++line > 998) {
      return false;
    }
  }
  return true;
}

// Part 3 (RFC 6522 3): the whole original as message/rfc822 when the caller returns it (RET=FULL,
// RFC 3461 4.3) and it can travel inside the report; 8-bit text stays 8-bit, labelled so, since a
// message/rfc822 body may not be encoded (RFC 2046 5.2.1). Otherwise its header section as
// text/rfc822-headers, quoted-printable if 8-bit. Nothing when there is neither.
std::optional<Part> original_part(const DsnInput& in, Kind report, bool& eight_bit) {
  const std::string what = report == Kind::relayed ? "Relayed message" : "Undelivered message";
  std::string full = normalise_message(in.original_message);
  if (!full.empty() && returnable(full)) {
    eight_bit = !is_ascii(full);
    return Part{std::string("Content-Type: message/rfc822\r\n") +
                    (eight_bit ? "Content-Transfer-Encoding: 8bit\r\n" : "") + "Content-Description: " + what + "\r\n",
                std::move(full)};
  }
  std::string orig = normalise_headers(in.original_headers.empty() ? in.original_message : in.original_headers);
  if (orig.empty()) return std::nullopt;
  bool plain = fits_7bit(orig);
  return Part{std::string(plain ? "Content-Type: text/rfc822-headers\r\n"
                                : "Content-Type: text/rfc822-headers; charset=utf-8\r\n"
                                  "Content-Transfer-Encoding: quoted-printable\r\n") +
                  "Content-Description: " + what + " headers\r\n",
              plain ? orig : quoted_printable(orig)};
}

const char* subject_of(Kind report) {
  switch (report) {
    case Kind::delayed: return "Delayed Mail (still being retried)";
    case Kind::relayed: return "Relayed Mail (no further delivery confirmation)";
    case Kind::failed: break;
  }
  return "Undelivered Mail Returned to Sender";
}

}  // namespace

std::string report_subject(const DsnInput& in) { return subject_of(report_kind(in)); }

std::string build_dsn(const DsnInput& in) {
  const Kind report = report_kind(in);
  std::vector<Part> parts;
  parts.push_back({"Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n"
                   "Content-Description: Notification\r\n",
                   quoted_printable(human_part(in, report))});
  parts.push_back({"Content-Type: message/delivery-status\r\n"
                   "Content-Description: Delivery report\r\n",
                   delivery_status(in)});
  bool eight_bit = false;
  if (auto original = original_part(in, report, eight_bit)) parts.push_back(std::move(*original));

  // RFC 2046 5.1.1: the boundary must not occur in any part. "=_" cannot appear in
  // quoted-printable output, and the other parts are checked.
  std::string boundary;
  do {
    boundary = "=_pb_" + random_hex(32);
  } while (contains(parts, "--" + boundary));

  std::string postmaster = clean(in.postmaster);
  std::string to = clean(in.to).empty() ? postmaster : clean(in.to);
  std::string host = clean(in.reporting_mta);
  std::string msg;
  msg += "From: \"Mail Delivery System\" <" + postmaster + ">\r\n";
  msg += "To: <" + to + ">\r\n";
  msg += std::string("Subject: ") + subject_of(report) + "\r\n";
  msg += "Date: " + rfc5322_date(in.now) + "\r\n";
  // The host only makes the id unique: cut (like its other uses) so the line stays below 998.
  msg += "Message-ID: <" + std::to_string(in.now) + "." + random_hex(16) + "@" +
         seven_bit(host.empty() ? "localhost" : host).substr(0, 255) + ">\r\n";
  msg += "MIME-Version: 1.0\r\n";
  if (eight_bit) msg += "Content-Transfer-Encoding: 8bit\r\n";  // RFC 2045 6.4: says what the parts hold
  msg += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  msg += "Auto-Submitted: auto-replied\r\n";  // RFC 3834 5
  msg += "\r\nThis is a MIME-encapsulated message (RFC 3464 delivery status notification).\r\n";
  for (const Part& p : parts) {
    // RFC 2046 5.1.1: the CRLF before "--boundary" belongs to the delimiter, so each body keeps its own.
    msg += "\r\n--" + boundary + "\r\n" + p.headers + "\r\n" + p.body;
  }
  msg += "\r\n--" + boundary + "--\r\n";
  return msg;
}

namespace {

// The value of a Content-Type parameter (RFC 2045 5.1), unquoted; empty if absent.
std::string content_type_param(std::string_view ct, std::string_view name) {
  std::size_t pos = ct.find(';');
  while (pos != std::string_view::npos) {
    std::size_t next = ct.find(';', pos + 1);
    std::string_view param = text::trim(ct.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1));
    std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && text::iequals(text::trim(param.substr(0, eq)), name)) {
      std::string_view v = text::trim(param.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    pos = next;
  }
  return {};
}

}  // namespace

std::string xtext_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= '!' && u <= '~' && u != '+' && u != '=') {
      out.push_back(c);
    } else {
      out += '+';
      hex::append(u, out, hex::Case::upper);
    }
  }
  return out;
}

std::string orcpt_parameter(std::string_view stored) {
  constexpr std::size_t kMaxOrcpt = 500 - 6;  // RFC 3461 4.2: the whole "ORCPT=..." parameter
  std::size_t semi = stored.find(';');
  if (semi == std::string_view::npos || semi == 0) return {};
  std::string type(stored.substr(0, semi));
  std::string_view address = stored.substr(semi + 1);
  for (char c : type)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return {};
  std::string value;
  if (text::iequals(type, "utf-8"))
    value = "utf-8;" + utf8_addr_xtext(address, true);
  else if (!is_ascii(address))  // RFC 6533 3: a UTF-8 address has type "utf-8", not "rfc822"
    value = "utf-8;" + utf8_addr_xtext(address);
  else
    value = type + ";" + xtext_encode(address);
  return value.size() <= kMaxOrcpt ? value : std::string();
}

bool is_bounce(const HeaderCollector& h, std::string_view envelope_sender) {
  std::string_view sender = text::trim(envelope_sender);
  if (sender.empty() || sender == "<>") return true;  // RFC 5321 4.5.5: the null reverse-path
  if (auto ct = h.get("Content-Type")) {
    std::string_view type = text::trim(std::string_view(*ct).substr(0, ct->find(';')));
    if (text::iequals(type, "multipart/report") &&
        text::iequals(content_type_param(*ct, "report-type"), "delivery-status"))
      return true;
  }
  if (auto as = h.get("Auto-Submitted")) {
    // RFC 3834 5: auto-submitted = "no" / "auto-generated" / "auto-replied" / extension, params.
    std::string_view v = text::trim(std::string_view(*as).substr(0, as->find_first_of(";(")));
    if (!v.empty() && !text::iequals(v, "no")) return true;
  }
  return false;
}

}  // namespace pb::mail
