// Header helpers (RFC 5322 2.2, RFC 2047, RFC 5321 4.4, RFC 6409 8): bounded header collection,
// encoded-word decoding for display, our Received: line, and the fields a submitted message lacks.
// Pure functions; peer text never breaks them.
#include "mail/headers.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "util/text.hpp"
#include "util/utf8.hpp"

namespace pb::mail {

// ---------------------------------------------------------------------------------------------
// HeaderCollector

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// RFC 5322 3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126 (printable, no colon).
bool valid_field_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
  });
}

}  // namespace

void HeaderCollector::feed_line(std::string_view line) {
  if (done_) return;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {  // RFC 5322 2.1: the first empty line ends the header section
    done_ = true;
    return;
  }
  bytes_ += line.size() + 2;
  if (bytes_ > max_) {  // a message without a separator: stop, keep what we have
    done_ = true;
    truncated_ = true;
    return;
  }
  if (is_wsp(line.front())) {
    // RFC 5322 2.2.3: unfolding removes only the CRLF; the leading WSP stays.
    if (in_field_) fields_.back().second.append(line);
    return;
  }
  std::size_t colon = line.find(':');
  std::string_view name = colon == std::string_view::npos ? std::string_view{} : line.substr(0, colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);  // RFC 5322 4.5.3 obs syntax
  in_field_ = valid_field_name(name);  // else malformed (mbox "From " line, junk): skipped
  if (in_field_) fields_.emplace_back(std::string(name), std::string(line.substr(colon + 1)));
}

std::optional<std::string> HeaderCollector::get(std::string_view name) const {
  for (const auto& [n, v] : fields_)
    if (text::iequals(n, name)) return std::string(text::trim(v));
  return std::nullopt;
}

std::vector<std::string> HeaderCollector::get_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : fields_)
    if (text::iequals(n, name)) out.emplace_back(text::trim(v));
  return out;
}

// ---------------------------------------------------------------------------------------------
// RFC 2047 decoding

namespace {



// Decoded text is for display: control bytes (a "=0D=0A" smuggled into a Subject) become spaces.
char32_t displayable(char32_t cp) { return (cp < 0x20 || cp == 0x7F) ? U' ' : cp; }

// Windows-1252 0x80..0x9F (0 = unassigned).
constexpr std::array<char16_t, 32> kCp1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

char32_t cp1252(unsigned char b) {
  if (b < 0x80 || b >= 0xA0) return b;
  char16_t cp = kCp1252High[b - 0x80];
  return cp == 0 ? utf8::kReplacement : cp;
}

// ISO-8859-15 differs from ISO-8859-1 in eight positions (the euro sign and friends).
char32_t latin9(unsigned char b) {
  switch (b) {
    case 0xA4: return 0x20AC;
    case 0xA6: return 0x0160;
    case 0xA8: return 0x0161;
    case 0xB4: return 0x017D;
    case 0xB8: return 0x017E;
    case 0xBC: return 0x0152;
    case 0xBD: return 0x0153;
    case 0xBE: return 0x0178;
    default: return b;
  }
}

// Copies UTF-8, replacing each byte of an invalid sequence (overlong, surrogate, > U+10FFFF,
// truncated) with U+FFFD, so the page and JSON always get valid UTF-8.
void append_checked_utf8(std::string_view s, std::string& out) {
  for (char32_t cp : utf8::code_points(s)) text::append_utf8(displayable(cp), out);
}

enum class Charset { utf8, cp1252, latin9 };

std::optional<Charset> charset_of(std::string_view name) {
  if (std::size_t star = name.find('*'); star != std::string_view::npos) name = name.substr(0, star);  // RFC 2231 5
  std::string key;
  for (char c : name)
    if (c != '-' && c != '_') key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (key == "UTF8") return Charset::utf8;
  // WHATWG Encoding: ISO-8859-1 and US-ASCII labels are decoded as Windows-1252, its superset, because
  // mailers routinely label cp1252 text (curly quotes, euro) as Latin-1.
  if (key == "USASCII" || key == "ASCII" || key == "ISO88591" || key == "LATIN1" || key == "WINDOWS1252" ||
      key == "CP1252")
    return Charset::cp1252;
  if (key == "ISO885915" || key == "LATIN9") return Charset::latin9;
  return std::nullopt;
}

std::string to_utf8(std::string_view bytes, Charset cs) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  if (cs == Charset::utf8) {
    append_checked_utf8(bytes, out);
    return out;
  }
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    text::append_utf8(displayable(cs == Charset::cp1252 ? cp1252(b) : latin9(b)), out);
  }
  return out;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// RFC 2047 4.1 (RFC 4648 4 alphabet). Missing padding is tolerated; junk is not.
std::optional<std::string> decode_b(std::string_view s) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char c : s) {
    if (c == '=') {
      ++pad;
      continue;
    }
    int v = base64_value(c);
    if (v < 0 || pad > 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (pad > 2) return std::nullopt;
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 2047 4.2: "_" is a space, "=XX" a byte, everything else itself.
std::optional<std::string> decode_q(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      out.push_back(' ');
    } else if (s[i] == '=') {
      if (i + 2 >= s.size()) return std::nullopt;  // truncated "=X"
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// RFC 2047 2: token = 1*<any CHAR except SPACE, CTLs, and especials>.
bool valid_charset_token(std::string_view s) {
  constexpr std::string_view especials = "()<>@,;:\"/[]?.=";
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [&](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7F && especials.find(c) == std::string_view::npos;
  });
}

struct EncodedWord {
  std::size_t length = 0;  // bytes of input consumed, "=?" to "?=" inclusive
  Charset charset = Charset::utf8;
  std::string bytes;       // decoded, still in `charset`
};

// s starts with "=?". nullopt when it is not a well-formed word in a charset we know.
std::optional<EncodedWord> decode_word(std::string_view s) {
  std::size_t q1 = s.find('?', 2);
  if (q1 == std::string_view::npos || !valid_charset_token(s.substr(2, q1 - 2))) return std::nullopt;
  if (q1 + 2 >= s.size() || s[q1 + 2] != '?') return std::nullopt;
  char enc = s[q1 + 1];
  std::size_t start = q1 + 3;
  std::size_t q3 = s.find('?', start);  // encoded-text never contains "?" (RFC 2047 2)
  if (q3 == std::string_view::npos || q3 == start || q3 + 1 >= s.size() || s[q3 + 1] != '=') return std::nullopt;
  std::string_view encoded = s.substr(start, q3 - start);
  if (std::any_of(encoded.begin(), encoded.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u >= 0x7F;
      }))
    return std::nullopt;
  auto cs = charset_of(s.substr(2, q1 - 2));
  if (!cs) return std::nullopt;  // unknown charset: leave the word for the reader to see
  std::optional<std::string> bytes;
  if (enc == 'B' || enc == 'b') bytes = decode_b(encoded);
  else if (enc == 'Q' || enc == 'q') bytes = decode_q(encoded);
  if (!bytes) return std::nullopt;
  return EncodedWord{q3 + 2, *cs, std::move(*bytes)};
}

bool is_lwsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::string decode_rfc2047(std::string_view text) {
  // Words are recognised anywhere, not only between white space as RFC 2047 5 requires: real
  // mailers break that rule and this output is only ever displayed. Likewise the bytes of adjacent
  // words in one charset are converted together, so a UTF-8 character split across two words
  // (forbidden by RFC 2047 5, common in practice) still comes out whole.
  std::string out;
  out.reserve(text.size());
  std::string pending;  // bytes of the current run of adjacent encoded words
  // A flag plus a plain value rather than std::optional: g++ 12 -O2 reports a false
  // "maybe-uninitialized" for the optional here.
  bool in_run = false;
  Charset run_charset = Charset::utf8;
  auto flush = [&] {
    if (in_run) out += to_utf8(pending, run_charset);
    pending.clear();
    in_run = false;
  };
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    std::size_t j = i;
    while (j < n && is_lwsp(text[j])) ++j;
    std::optional<EncodedWord> word;
    if (j + 1 < n && text[j] == '=' && text[j + 1] == '?') word = decode_word(text.substr(j));
    if (word) {
      // RFC 2047 6.2: white space between two adjacent encoded words is not displayed.
      if (!in_run) out.append(text.substr(i, j - i));
      if (in_run && run_charset != word->charset) flush();
      in_run = true;
      run_charset = word->charset;
      pending += word->bytes;
      i = j + word->length;
      continue;
    }
    flush();
    out.append(text.substr(i, j - i));
    if (j < n) out.push_back(text[j++]);
    i = j;
  }
  flush();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Received: and Date

namespace {

constexpr std::size_t kMaxLine = 78;      // RFC 5322 2.1.1 "SHOULD" limit, CRLF excluded
constexpr std::size_t kMaxToken = 255;    // one host name / id; keeps lines far below 998
constexpr std::size_t kMaxComment = 512;

// Cuts at most `max` bytes without splitting a UTF-8 sequence.
std::string_view cap_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

// A single received-token (host, address, protocol, id, mailbox): no white space, no control
// bytes, nothing that opens a comment, quoted string or angle-addr, no ";" before the date.
// Brackets only as an address literal filling the whole token ("[192.0.2.1]", RFC 5321 4.4
// Extended-Domain): a stray "[" (an EHLO "[1.2.3.4") would open a domain literal that hides the
// rest of the field, the "for" clause included, from a reader such as received_for().
std::string clean_token(std::string_view s, std::string_view fallback) {
  std::string_view t = cap_utf8(text::trim(s), kMaxToken);
  const bool literal = t.size() >= 2 && t.front() == '[' && t.back() == ']' &&
                       t.substr(1, t.size() - 2).find_first_of("[]") == std::string_view::npos;
  std::string out;
  for (char c : t) {
    auto u = static_cast<unsigned char>(c);
    bool bad = u <= 0x20 || u == 0x7F || std::string_view("()<>;\\\"").find(c) != std::string_view::npos ||
               ((c == '[' || c == ']') && !literal);
    out.push_back(bad ? '?' : c);
  }
  return out.empty() ? std::string(fallback) : out;
}

// Comment text (RFC 5322 3.2.2): control bytes become spaces, "\" cannot escape our ")", and
// parentheses stay balanced so the comment ends where we end it.
std::string clean_comment(std::string_view s) {
  std::string out;
  std::vector<std::size_t> open;
  for (char c : cap_utf8(text::trim(s), kMaxComment)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = ' ';
    if (c == '\\') c = '/';
    if (c == '(') open.push_back(out.size());
    if (c == ')') {
      if (open.empty()) c = ']';
      else open.pop_back();
    }
    out.push_back(c);
  }
  for (std::size_t pos : open) out[pos] = '[';
  return out;
}

struct Segment {
  std::string text;           // never broken inside
  bool line_start = false;    // begins a new continuation line (readability)
};

// RFC 5322 2.2.3 folding: white space before a segment becomes CRLF + TAB when the segment would
// pass column 78 or starts a clause. A single over-long segment still gets its own line.
std::string fold(std::string_view field, const std::vector<Segment>& segs) {
  std::string out(field);
  std::size_t col = out.size();
  bool line_empty = true;  // nothing but the field name / the TAB on this line yet
  for (const Segment& s : segs) {
    if (!line_empty && (s.line_start || col + 1 + s.text.size() > kMaxLine)) {
      out += "\r\n\t";
      col = 1;
      line_empty = true;
    }
    if (!(line_empty && col == 1)) {
      out += ' ';
      ++col;
    }
    out += s.text;
    col += s.text.size();
    line_empty = false;
  }
  out += "\r\n";
  return out;
}

}  // namespace

std::string build_received(const ReceivedInfo& info, std::int64_t unix_time) {
  // RFC 5321 4.4 Time-stamp-line: From-domain By-domain Opt-info ";" date-time, where
  // Opt-info = [Via] [With] [ID] [For]; comments may sit between the clauses (RFC 5322 3.6.7).
  std::vector<Segment> segs;
  if (!info.from_host.empty() || !info.from_addr.empty()) {
    segs.push_back({"from " + clean_token(info.from_host, "unknown"), false});
    if (!text::trim(info.from_addr).empty()) segs.push_back({"(" + clean_token(info.from_addr, "") + ")", false});
  }
  segs.push_back({"by " + clean_token(info.by_host, "localhost"), true});
  segs.push_back({info.mark.empty() ? "(postbridge)" : "(postbridge mark=" + clean_token(info.mark, "") + ")", false});
  if (!text::trim(info.protocol).empty()) segs.push_back({"with " + clean_token(info.protocol, ""), false});
  if (!text::trim(info.id).empty()) segs.push_back({"id " + clean_token(info.id, ""), false});
  if (std::string extra = clean_comment(info.extra); !extra.empty()) {
    auto words = text::split_ws(extra);
    for (std::size_t i = 0; i < words.size(); ++i) {
      std::string w(words[i]);
      if (i == 0) w.insert(0, "(");
      if (i + 1 == words.size()) w += ")";
      segs.push_back({std::move(w), i == 0});
    }
  }
  if (!text::trim(info.for_addr).empty())
    segs.push_back({"for <" + clean_token(info.for_addr, "") + ">", true});
  segs.back().text += ';';
  segs.push_back({rfc5322_date(unix_time), false});
  return fold("Received:", segs);
}

std::string rfc5322_date(std::int64_t unix_time) {
  // RFC 5322 3.3; names fixed in English, whatever the process locale says.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  // Out of range, the epoch beats a garbage header: localtime_r fails only beyond an int of
  // years, and tm_year + 1900 overflows just below that; RFC 5322 3.3 wants a 4-digit year anyway.
  if (localtime_r(&t, &tm) == nullptr || tm.tm_year < 0 || tm.tm_year > 9999 - 1900) {
    t = 0;
    gmtime_r(&t, &tm);
  }
  long offset = tm.tm_gmtoff;  // seconds east of UTC (glibc)
  char sign = offset < 0 ? '-' : '+';
  offset = std::labs(offset) / 60;
  char buf[80];
  std::snprintf(buf, sizeof buf, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld", kDays[tm.tm_wday % 7], tm.tm_mday,
                kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, offset / 60,
                offset % 60);
  return buf;
}

std::string smtp_transmission_type(bool esmtp, bool smtputf8, bool tls, bool authenticated) {
  if (!esmtp) return "SMTP";
  std::string type = smtputf8 ? "UTF8SMTP" : "ESMTP";
  if (tls) type += 'S';
  if (authenticated) type += 'A';
  return type;
}

std::string make_message_id(std::int64_t unix_time, std::uint64_t random, std::string_view host) {
  // RFC 5322 3.2.3 atext, and dots between atoms: a name from the config is kept as it is.
  std::string right;
  for (char c : host) {
    bool atext = std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos;
    right.push_back(atext ? c : '-');
  }
  while (!right.empty() && right.front() == '.') right.erase(0, 1);
  while (!right.empty() && right.back() == '.') right.pop_back();
  if (right.empty()) right = "localhost";
  char left[48];
  std::snprintf(left, sizeof left, "%lld.%016llx", static_cast<long long>(unix_time),
                static_cast<unsigned long long>(random));
  return "<" + std::string(left) + "@" + right + ">";
}

// ---------------------------------------------------------------------------------------------
// HeaderCompleter

HeaderCompleter::HeaderCompleter(std::string message_id, std::string date, std::size_t max_line)
    : message_id_(std::move(message_id)), date_(std::move(date)), max_line_(max_line) {}

void HeaderCompleter::feed(std::string_view bytes, std::string& out) {
  while (state_ == State::header && !bytes.empty()) {
    std::size_t lf = bytes.find('\n');
    line_.append(bytes.substr(0, lf == std::string_view::npos ? bytes.size() : lf + 1));
    bytes.remove_prefix(lf == std::string_view::npos ? bytes.size() : lf + 1);
    if (lf != std::string_view::npos) {
      end_line(out);
    } else if (line_.size() > max_line_) {
      state_ = State::unchecked;
      out += line_;
      line_.clear();
    }
  }
  out.append(bytes);
}

void HeaderCompleter::finish(std::string& out) {
  if (state_ != State::header) return;
  if (!line_.empty()) {
    line_ += "\r\n";  // the message ended inside a header line (BDAT need not end with CRLF)
    end_line(out);
  }
  if (state_ == State::header) add_missing(out);
  state_ = State::body;
}

std::string HeaderCompleter::message_id() const {
  if (added_message_id_) return message_id_;
  return headers_.get("Message-ID").value_or("");
}

void HeaderCompleter::end_line(std::string& out) {
  std::string_view text = line_;
  text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.empty()) {  // RFC 5322 2.1: the first empty line ends the header section
    add_missing(out);
    state_ = State::body;
  } else if (std::size_t colon = text.find(':'); !is_wsp(text.front()) && colon != std::string_view::npos) {
    std::string_view name = text.substr(0, colon);  // a field; a line without a colon is malformed
    while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
    has_message_id_ = has_message_id_ || text::iequals(name, "Message-ID");
    has_date_ = has_date_ || text::iequals(name, "Date");
  }
  headers_.feed_line(text);
  out += line_;
  line_.clear();
}

void HeaderCompleter::add_missing(std::string& out) {
  if (!has_message_id_) {
    out += "Message-ID: " + message_id_ + "\r\n";
    added_message_id_ = true;
  }
  if (!has_date_) {
    out += "Date: " + date_ + "\r\n";
    added_date_ = true;
  }
}

}  // namespace pb::mail
