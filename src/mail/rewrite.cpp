// From:/Reply-To: rewriting on the raw header block: fields are located as byte ranges so that
// everything not rewritten is copied as it was; only the first From mailbox is parsed (RFC 5322 3.4).
#include "mail/rewrite.hpp"

#include <stdexcept>
#include <vector>

#include "mail/address.hpp"
#include "util/text.hpp"

namespace pb::mail {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// [begin, end) of one line including its line end ("\r\n", "\n" or none at the very end).
struct Line {
  std::size_t begin, end;
};

Line line_at(std::string_view s, std::size_t pos) {
  std::size_t nl = s.find('\n', pos);
  return Line{pos, nl == std::string_view::npos ? s.size() : nl + 1};
}

bool is_empty_line(std::string_view s, Line l) {
  std::string_view t = s.substr(l.begin, l.end - l.begin);
  return t == "\r\n" || t == "\n";
}

// One field: its first line and continuation lines (RFC 5322 2.2.3), as a byte range.
struct Field {
  std::size_t begin, end;
  std::string_view name;  // empty for a malformed line or leading continuation lines
};

std::vector<Field> split_fields(std::string_view head) {
  std::vector<Field> fields;
  for (std::size_t pos = 0; pos < head.size();) {
    Line l = line_at(head, pos);
    if (is_wsp(head[pos]) && !fields.empty()) {
      fields.back().end = l.end;  // continuation of the previous field
    } else {
      std::string_view line = head.substr(l.begin, l.end - l.begin);
      std::size_t colon = line.find(':');
      std::string_view name = colon == std::string_view::npos ? std::string_view{} : text::trim(line.substr(0, colon));
      fields.push_back(Field{l.begin, l.end, is_wsp(head[pos]) ? std::string_view{} : name});
    }
    pos = l.end;
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// The first mailbox of a From value (RFC 5322 3.4: mailbox-list / group, RFC 6854).

struct Mailbox {
  std::string display;  // ready to emit as a display-name ("" = none)
  std::string address;  // addr-spec, "" if none
};

// Positions of the top-level (outside quotes, comments and angle brackets) characters of `v`.
class Scanner {
 public:
  explicit Scanner(std::string_view v) : v_(v) {}
  // Index of the first top-level character in `set` at or after `from`, or npos.
  std::size_t find(std::string_view set, std::size_t from) const {
    int depth = 0;  // comment nesting
    bool quoted = false, angle = false;
    for (std::size_t i = from; i < v_.size(); ++i) {
      char c = v_[i];
      if ((quoted || depth > 0) && c == '\\') {
        ++i;  // quoted-pair (RFC 5322 3.2.1)
        continue;
      }
      if (quoted) {
        quoted = c != '"';
      } else if (depth > 0) {
        depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      } else if (angle) {
        angle = c != '>';
      } else if (set.find(c) != std::string_view::npos) {
        return i;
      } else if (c == '"') {
        quoted = true;
      } else if (c == '(') {
        depth = 1;
      } else if (c == '<') {
        angle = true;
      }
    }
    return std::string_view::npos;
  }

 private:
  std::string_view v_;
};

// atext (RFC 5322 3.2.3) plus 8-bit bytes (RFC 6532 3.2): may stand unquoted in a phrase.
bool atext(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// Removes quoted-string quotes and quoted-pair backslashes: the phrase as a reader sees it.
std::string unquote(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') continue;
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out.push_back(s[i]);
  }
  return out;
}

// A display name copied from the original is kept verbatim unless it holds top-level specials
// that a phrase may not contain (a broken client's `Schmidt, Anna <a@b>`): then it is quoted.
std::string safe_phrase(std::string_view raw) {
  raw = text::trim(raw);
  if (raw.empty()) return {};
  if (Scanner(raw).find(",;:@<>[]", 0) == std::string_view::npos) return std::string(raw);
  return quote(unquote(raw));
}

// Old style `a@b (Anna Schmidt)`: the comment text becomes the display name; words that are
// atoms or encoded words (RFC 2047 5: allowed in a phrase) stay unquoted, anything else is quoted.
std::string phrase_from_comment(std::string_view comment) {
  std::string plain;
  for (std::size_t i = 0; i < comment.size(); ++i) {
    if (comment[i] == '\\' && i + 1 < comment.size()) ++i;
    plain.push_back(comment[i]);
  }
  std::string_view t = text::trim(plain);
  if (t.empty()) return {};
  bool simple = true;
  for (std::string_view w : text::split_ws(t)) {
    bool encoded = w.size() > 4 && w.substr(0, 2) == "=?" && w.substr(w.size() - 2) == "?=";
    for (char c : w) simple = simple && (encoded || atext(c));
  }
  return simple ? std::string(t) : quote(t);
}

// Drops comments from an addr-spec and returns the first comment's content.
std::string strip_comments(std::string_view s, std::string& first_comment) {
  std::string out;
  int depth = 0;
  std::size_t start = 0;
  bool quoted = false, have = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if ((quoted || depth > 0) && c == '\\' && i + 1 < s.size()) {
      if (depth == 0) out.append(s.substr(i, 2));
      ++i;
      continue;
    }
    if (depth > 0) {
      depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      if (depth == 0 && !have) {
        first_comment = std::string(s.substr(start, i - start));
        have = true;
      }
      continue;
    }
    if (!quoted && c == '(') {
      depth = 1;
      start = i + 1;
      continue;
    }
    if (c == '"') quoted = !quoted;
    out.push_back(c);
  }
  return std::string(text::trim(out));
}

// One mailbox ([display] <addr> or addr (comment)) from [begin, end) of the unfolded value.
Mailbox parse_mailbox(std::string_view v) {
  Mailbox m;
  std::size_t lt = Scanner(v).find("<", 0);
  if (lt != std::string_view::npos) {
    m.display = safe_phrase(v.substr(0, lt));
    std::size_t gt = v.find('>', lt);
    std::string_view inner = v.substr(lt + 1, (gt == std::string_view::npos ? v.size() : gt) - lt - 1);
    // RFC 5322 4.4 obs-angle-addr: "<@relay1,@relay2:user@x>" — the route is not part of the address.
    if (!inner.empty() && text::trim(inner).front() == '@') {
      std::size_t colon = inner.find(':');
      inner = colon == std::string_view::npos ? std::string_view{} : inner.substr(colon + 1);
    }
    std::string ignored;
    m.address = strip_comments(inner, ignored);
    return m;
  }
  std::string comment;
  m.address = strip_comments(v, comment);
  m.display = phrase_from_comment(comment);
  return m;
}

std::string unfold(std::string_view raw) {
  std::string out;
  for (char c : raw)
    if (c != '\r' && c != '\n') out.push_back(c);
  return out;
}

Mailbox first_mailbox(std::string_view value) {
  const Scanner sc(value);
  std::string group;
  std::size_t start = 0;
  std::size_t colon = sc.find(":", 0);
  // A top-level ":" before any "<" or "@" opens a group (RFC 5322 3.4: group = display-name ":" ...).
  std::size_t first_special = sc.find("<@", 0);
  if (colon != std::string_view::npos && (first_special == std::string_view::npos || colon < first_special)) {
    group = safe_phrase(value.substr(0, colon));
    start = colon + 1;
  }
  // The mailbox ends at a top-level "," or ";". A segment without "@" and "<" is part of a broken
  // display name ("Schmidt, Anna <a@b>"), so it is joined with the next one.
  std::size_t end = start;
  while (true) {
    end = sc.find(",;", end);
    std::string_view seg = value.substr(start, (end == std::string_view::npos ? value.size() : end) - start);
    bool complete = Scanner(seg).find("<@", 0) != std::string_view::npos;
    if (complete || end == std::string_view::npos || value[end] == ';') break;
    ++end;
  }
  std::string_view seg = value.substr(start, (end == std::string_view::npos ? value.size() : end) - start);
  Mailbox m = text::trim(seg).empty() ? Mailbox{} : parse_mailbox(seg);
  if (m.display.empty()) m.display = group;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Output

constexpr std::size_t kFoldAt = 78;  // RFC 5322 2.1.1

// Folds one unfolded field ("Name: value", no line end) at white space: CRLF is inserted before
// a WSP that sits between two non-WSP characters. Unfolding (RFC 5322 2.2.3) gives the input back.
std::string fold_line(std::string_view field) {
  std::string out;
  std::size_t line_start = 0;    // in out
  std::size_t last_break = std::string::npos;  // in out: a WSP we may break before
  for (std::size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (is_wsp(c) && i > 0 && !is_wsp(field[i - 1]) && i + 1 < field.size() && !is_wsp(field[i + 1]))
      last_break = out.size();
    out.push_back(c);
    if (out.size() - line_start > kFoldAt && last_break != std::string::npos && last_break > line_start) {
      out.insert(last_break, "\r\n");
      line_start = last_break + 2;
      last_break = std::string::npos;
    }
  }
  return out + "\r\n";
}

void check_new_from(const std::string& new_from) {
  for (char c : new_from) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '<' || c == '>' || c == ',' || c == ';' || c == '(' || c == ')')
      throw std::invalid_argument("rewrite_sender must be a plain address like info@example.net");
  }
  if (!Address::parse(new_from)) throw std::invalid_argument("rewrite_sender is not a valid address: " + new_from);
}

bool same_address(std::string_view a, std::string_view b) {
  auto pa = Address::parse(a);
  auto pb = Address::parse(b);
  // RFC 5321 2.4: the local part is case-sensitive, domains are not.
  return pa && pb && pa->local() == pb->local() && text::iequals(pa->domain(), pb->domain());
}

}  // namespace

std::size_t header_block_end(std::string_view message) {
  for (std::size_t pos = 0; pos < message.size();) {
    Line l = line_at(message, pos);
    if (is_empty_line(message, l)) return l.end;
    pos = l.end;
  }
  return std::string_view::npos;
}

std::string rewrite_from_header(std::string_view header_block, const std::string& new_from) {
  check_new_from(new_from);
  // The head proper ends before the empty line; the empty line and what follows are kept as is.
  std::size_t body = header_block_end(header_block);
  std::size_t head_end = header_block.size();
  if (body != std::string_view::npos) head_end = body - (body >= 2 && header_block[body - 2] == '\r' ? 2 : 1);
  std::string_view head = header_block.substr(0, head_end);
  std::string_view tail = header_block.substr(head_end);

  std::vector<Field> fields = split_fields(head);
  const Field* from = nullptr;
  bool has_reply_to = false, several_from = false;
  for (const Field& f : fields) {
    if (text::iequals(f.name, "From")) {
      several_from = several_from || from != nullptr;
      if (!from) from = &f;
    }
    has_reply_to = has_reply_to || text::iequals(f.name, "Reply-To");
  }

  std::string out;
  out.reserve(header_block.size() + new_from.size() + 64);
  if (!from) {  // RFC 5322 3.6: From is required; the provider would refuse the message anyway
    out.append(head);
    if (!out.empty() && out.back() != '\n') out += "\r\n";
    out += fold_line("From: <" + new_from + ">");
    out.append(tail);
    return out;
  }

  std::string_view raw_field = head.substr(from->begin, from->end - from->begin);
  std::string_view raw_value = raw_field.substr(raw_field.find(':') + 1);  // folding and line end kept
  Mailbox m = first_mailbox(unfold(raw_value));
  if (!several_from && same_address(m.address, new_from)) return std::string(header_block);

  std::string replacement = fold_line("From: " + (m.display.empty() ? "" : m.display + " ") + "<" + new_from + ">");
  if (!has_reply_to && !m.address.empty()) {
    std::string reply_to = "Reply-To:" + std::string(raw_value);
    if (reply_to.back() != '\n') reply_to += "\r\n";
    // RFC 5322 2.1.1: 998 octets per line at most; "Reply-To:" is 4 longer than "From:".
    std::size_t first_nl = reply_to.find('\n');
    if (first_nl > 998) reply_to = fold_line("Reply-To:" + unfold(raw_value));
    replacement += reply_to;
  }
  for (const Field& f : fields) {
    if (&f == from) out += replacement;
    else if (!text::iequals(f.name, "From")) out.append(head.substr(f.begin, f.end - f.begin));
  }
  out.append(tail);
  return out;
}

}  // namespace pb::mail
