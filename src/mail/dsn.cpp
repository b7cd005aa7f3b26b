// RFC 3464 DSN field values and RFC 3461/6533 encodings: every value is sanitised (no CR/LF/control
// bytes survive into a field), encoded to 7 bit and folded below 998 octets. The report itself is
// assembled in dsn_report.cpp, its human-readable words come from dsn_words.cpp.
#include "mail/dsn.hpp"

#include <cctype>
#include <cstdio>
#include <random>

#include "mail/dsn_fields.hpp"
#include "util/hex.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

namespace pb::mail {

namespace dsn_fields {

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
std::vector<std::string> split_lines(std::string_view d, bool keep_empty) {
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

}  // namespace dsn_fields

using namespace dsn_fields;

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

}  // namespace pb::mail
