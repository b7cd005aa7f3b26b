// IMAP response parser (RFC 9051 2.2.2, 4, 7, 9): a byte-driven state machine over lines and
// literals. Lists are flattened to begin/end tokens and every size is checked before it is used.
#include "imap/response.hpp"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "util/text.hpp"

namespace pb::imap {

namespace {

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (!is_digits(s)) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint32_t> parse_u32(std::string_view s) {
  auto v = parse_u64(s);
  if (!v || *v > 0xffffffffu) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

bool is_ctl(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+">.
bool valid_tag(std::string_view tag) {
  return !tag.empty() && std::none_of(tag.begin(), tag.end(), [](char c) {
    return is_ctl(c) || static_cast<unsigned char>(c) > 0x7e || std::string_view(" (){%*\"\\+").find(c) != std::string_view::npos;
  });
}

// The FETCH items whose value is a message or a part of one (RFC 9051 7.5.2).
bool is_body_item(std::string_view name) {
  return text::istarts_with(name, "BODY[") || text::istarts_with(name, "BINARY[") || text::iequals(name, "RFC822") ||
         text::iequals(name, "RFC822.TEXT") || text::iequals(name, "RFC822.HEADER");
}

std::pair<std::string_view, std::string_view> split_word(std::string_view s) {
  std::size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return {s, {}};
  return {s.substr(0, sp), s.substr(sp + 1)};
}

CodeKind code_kind(std::string_view name) {
  struct Entry {
    const char* name;
    CodeKind kind;
  };
  static constexpr Entry kCodes[] = {
      {"ALERT", CodeKind::alert},
      {"AUTHENTICATIONFAILED", CodeKind::authenticationfailed},  // RFC 5530 3
      {"AUTHORIZATIONFAILED", CodeKind::authorizationfailed},
      {"EXPIRED", CodeKind::expired},
      {"UNAVAILABLE", CodeKind::unavailable},
      {"PRIVACYREQUIRED", CodeKind::privacyrequired},
      {"CONTACTADMIN", CodeKind::contactadmin},
      {"TRYCREATE", CodeKind::trycreate},
      {"NONEXISTENT", CodeKind::nonexistent},
      {"ALREADYEXISTS", CodeKind::alreadyexists},
      {"CANNOT", CodeKind::cannot},
      {"LIMIT", CodeKind::limit},
      {"OVERQUOTA", CodeKind::overquota},
      {"INUSE", CodeKind::inuse},
      {"SERVERBUG", CodeKind::serverbug},
      {"UIDVALIDITY", CodeKind::uidvalidity},
      {"UIDNEXT", CodeKind::uidnext},
      {"CAPABILITY", CodeKind::capability},
      {"APPENDUID", CodeKind::appenduid},  // RFC 4315 3
      {"COPYUID", CodeKind::copyuid},
      {"UIDNOTSTICKY", CodeKind::uidnotsticky},
      {"PERMANENTFLAGS", CodeKind::permanentflags},
      {"READ-ONLY", CodeKind::read_only},
      {"READ-WRITE", CodeKind::read_write},
      {"CLOSED", CodeKind::closed},  // RFC 7162 3.2.11, sent by servers that do QRESYNC
  };
  for (const auto& e : kCodes)
    if (text::iequals(name, e.name)) return e.kind;
  return CodeKind::other;
}

}  // namespace

std::optional<std::uint32_t> as_u32(const Token& t) {
  if (t.kind != TokenKind::number || t.number > 0xffffffffu) return std::nullopt;
  return static_cast<std::uint32_t>(t.number);
}

void parse_resp_text(std::string_view s, RespCode& code, std::string& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  std::size_t close = s.find(']');
  if (!s.empty() && s.front() == '[' && close != std::string_view::npos) {
    auto [name, args] = split_word(s.substr(1, close - 1));
    code.name = text::to_upper(name);
    code.kind = code_kind(name);
    code.args = std::string(args);
    for (auto w : text::split_ws(args))
      code.words.push_back(code.kind == CodeKind::capability ? text::to_upper(w) : std::string(w));
    bool numbered = code.kind == CodeKind::uidvalidity || code.kind == CodeKind::uidnext ||
                    code.kind == CodeKind::appenduid || code.kind == CodeKind::copyuid;
    if (numbered && !code.words.empty()) code.number = parse_u32(code.words.front());
    s.remove_prefix(close + 1);
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  }
  out = std::string(s);
}

Parser::Parser(Limits limits) : limits_(limits) {}

void Parser::fail(ParseErrorKind kind, const std::string& what) {
  state_ = State::failed;
  line_.clear();
  literal_buf_.clear();
  throw ParseError(kind, what);
}

void Parser::reset() {
  state_ = State::idle;
  head_done_ = false;
  line_.clear();
  current_ = Response{};
  depth_ = 0;
  response_bytes_ = 0;
  literal_left_ = 0;
  literal_buf_.clear();
  fetch_uid_.reset();
}

Response Parser::take() {
  if (state_ != State::ready) throw std::logic_error("imap::Parser::take() without a ready response");
  Response r = std::move(current_);
  reset();
  return r;
}

std::size_t Parser::feed(std::string_view in) {
  if (state_ == State::failed) throw ParseError(ParseErrorKind::syntax, "the response stream broke earlier");
  std::size_t used = 0;
  while (used < in.size() && state_ != State::ready) {
    if (state_ == State::literal) {
      used += feed_literal(in.substr(used));
      continue;
    }
    state_ = State::line;
    std::string_view rest = in.substr(used);
    std::size_t nl = rest.find('\n');
    std::size_t piece = nl == std::string_view::npos ? rest.size() : nl;
    // +1: the CR before the LF belongs to the line until end_of_line() removes it.
    if (line_.size() + piece > limits_.max_line + 1)
      fail(ParseErrorKind::line_too_long, "a response line longer than " + std::to_string(limits_.max_line) + " bytes");
    line_.append(rest.data(), piece);
    used += nl == std::string_view::npos ? piece : piece + 1;
    if (nl != std::string_view::npos) end_of_line();
  }
  return used;
}

std::size_t Parser::feed_literal(std::string_view in) {
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), literal_left_));
  if (literal_streamed_) sink_->data(in.substr(0, n));
  else if (!literal_skipped_) literal_buf_.append(in.data(), n);
  literal_left_ -= n;
  if (literal_left_ == 0) end_literal();
  return n;
}

void Parser::end_of_line() {
  std::string_view l = line_;
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);  // RFC 9051 2.2: lines end with CRLF
  response_bytes_ += l.size() + 2;
  if (response_bytes_ > limits_.max_response)
    fail(ParseErrorKind::response_too_large, "a response larger than " + std::to_string(limits_.max_response) + " bytes");
  std::string line = std::move(line_);
  line_.clear();
  l = std::string_view(line).substr(0, l.size());
  if (!head_done_) parse_head(l);
  else parse_data(l);
}

void Parser::parse_head(std::string_view l) {
  head_done_ = true;
  if (!l.empty() && l.front() == '+') {  // RFC 9051 7.6: continue-req = "+" SP (resp-text / base64)
    current_.kind = Kind::continuation;
    l.remove_prefix(1);
    if (!l.empty() && l.front() == ' ') l.remove_prefix(1);
    current_.text = std::string(l);
    state_ = State::ready;
    return;
  }
  auto [first, rest] = split_word(l);
  if (first == "*") {
    current_.kind = Kind::untagged;
    auto [word, after] = split_word(rest);
    if (is_digits(word)) {  // RFC 9051 7.4/7.5: message-data = nz-number SP ("EXPUNGE" / "FETCH" ...)
      current_.number = parse_u32(word);
      if (!current_.number) fail(ParseErrorKind::bad_number, "a message number beyond 32 bits");
      std::tie(word, after) = split_word(after);
    }
    if (word.empty() || std::any_of(word.begin(), word.end(), [](char c) { return is_ctl(c) || c == '(' || c == '"'; }))
      fail(ParseErrorKind::syntax, "an untagged response without a name");
    current_.name = text::to_upper(word);
    const std::string& n = current_.name;
    if (!current_.number && (n == "OK" || n == "NO" || n == "BAD" || n == "PREAUTH" || n == "BYE")) {
      current_.status = n == "OK" ? Status::ok : n == "NO" ? Status::no : n == "BAD" ? Status::bad
                        : n == "PREAUTH" ? Status::preauth : Status::bye;
      parse_resp_text(after, current_.code, current_.text);  // resp-text holds no literals
      state_ = State::ready;
      return;
    }
    parse_data(after);
    return;
  }
  // RFC 9051 7.1: response-tagged = tag SP resp-cond-state CRLF
  if (!valid_tag(first)) fail(ParseErrorKind::syntax, "a response that is neither tagged, untagged nor a continuation");
  current_.kind = Kind::tagged;
  current_.tag = std::string(first);
  auto [word, after] = split_word(rest);
  if (text::iequals(word, "OK")) current_.status = Status::ok;
  else if (text::iequals(word, "NO")) current_.status = Status::no;
  else if (text::iequals(word, "BAD")) current_.status = Status::bad;
  else fail(ParseErrorKind::syntax, "a tagged response without OK, NO or BAD");
  parse_resp_text(after, current_.code, current_.text);
  state_ = State::ready;
}

void Parser::push(Token t) {
  if (current_.data.size() >= limits_.max_tokens)
    fail(ParseErrorKind::response_too_large, "a response of more than " + std::to_string(limits_.max_tokens) + " values");
  // The UID of a FETCH, remembered so a streamed body can be named by it (RFC 9051 7.5.2).
  if (t.kind == TokenKind::number && depth_ == 1 && current_.name == "FETCH" && !current_.data.empty() &&
      current_.data.back().kind == TokenKind::atom && text::iequals(current_.data.back().text, "UID"))
    fetch_uid_ = as_u32(t);
  current_.data.push_back(std::move(t));
}

void Parser::parse_data(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ') {
      ++i;
    } else if (c == '(') {
      if (depth_ >= limits_.max_depth)
        fail(ParseErrorKind::too_deep, "lists nested deeper than " + std::to_string(limits_.max_depth) + " levels");
      ++depth_;
      push({TokenKind::list_begin, {}, 0});
      ++i;
    } else if (c == ')') {
      if (depth_ == 0) fail(ParseErrorKind::unbalanced, "a \")\" without \"(\"");
      --depth_;
      push({TokenKind::list_end, {}, 0});
      ++i;
    } else if (c == '"') {  // RFC 9051 9: quoted = DQUOTE *QUOTED-CHAR DQUOTE, escapes \\ and \"
      std::string v;
      std::size_t j = i + 1;
      for (;; ++j) {
        if (j >= s.size()) fail(ParseErrorKind::syntax, "a quoted string without its closing quote");
        if (s[j] == '"') break;
        if (s[j] == '\\') {
          if (j + 1 >= s.size() || (s[j + 1] != '\\' && s[j + 1] != '"'))
            fail(ParseErrorKind::syntax, "a quoted string with a bad escape");
          ++j;
        }
        v += s[j];
      }
      push({TokenKind::string, std::move(v), 0});
      i = j + 1;
    } else if (c == '{') {  // RFC 9051 4.3 / RFC 7888: literal = "{" number64 ["+"] "}" CRLF
      std::size_t close = s.find('}', i);
      if (close == std::string_view::npos || close + 1 != s.size())
        fail(ParseErrorKind::syntax, "a literal marker that does not end its line");
      std::string_view digits = s.substr(i + 1, close - i - 1);
      if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
      if (!is_digits(digits)) fail(ParseErrorKind::syntax, "a literal without a size");
      auto size = parse_u64(digits);
      if (!size) fail(ParseErrorKind::literal_too_large, "a literal larger than 2^64 bytes");
      start_literal(*size);
      return;
    } else if (is_ctl(c)) {
      fail(ParseErrorKind::syntax, "a control character in a response");
    } else {
      std::size_t j = i;
      while (j < s.size() && s[j] != ' ' && s[j] != '(' && s[j] != ')' && s[j] != '"') {
        if (is_ctl(s[j])) fail(ParseErrorKind::syntax, "a control character in a response");
        if (s[j] == '[') {  // a section "BODY[HEADER.FIELDS (TO)]" holds spaces and parens
          std::size_t close = s.find(']', j);
          if (close == std::string_view::npos) fail(ParseErrorKind::syntax, "a \"[\" without \"]\"");
          j = close;
        }
        ++j;
      }
      std::string_view word = s.substr(i, j - i);
      if (is_digits(word)) {
        auto v = parse_u64(word);
        if (!v) fail(ParseErrorKind::bad_number, "a number beyond 64 bits");
        push({TokenKind::number, std::string(word), *v});
      } else if (text::iequals(word, "NIL")) {
        push({TokenKind::nil, {}, 0});
      } else {
        push({TokenKind::atom, std::string(word), 0});
      }
      i = j;
    }
  }
  if (depth_ != 0) fail(ParseErrorKind::unbalanced, "a response that ends inside a parenthesised list");
  state_ = State::ready;
}

void Parser::start_literal(std::uint64_t size) {
  const auto& d = current_.data;
  bool message = sink_ && current_.name == "FETCH" && depth_ == 1 && !d.empty() && d.back().kind == TokenKind::atom &&
                 is_body_item(d.back().text);
  literal_size_ = literal_left_ = size;
  literal_streamed_ = literal_skipped_ = false;
  literal_buf_.clear();
  if (message) {
    if (size > limits_.max_streamed_literal)
      fail(ParseErrorKind::literal_too_large, "a message literal of " + std::to_string(size) + " bytes");
    literal_streamed_ = sink_->begin(current_.number.value_or(0), fetch_uid_, d.back().text, size);
    literal_skipped_ = !literal_streamed_;
  } else {
    if (size > limits_.max_buffered_literal)
      fail(ParseErrorKind::literal_too_large, "a literal of " + std::to_string(size) + " bytes where at most " +
                                                  std::to_string(limits_.max_buffered_literal) + " are expected");
    if (response_bytes_ + size > limits_.max_response)
      fail(ParseErrorKind::response_too_large, "a response larger than " + std::to_string(limits_.max_response) + " bytes");
  }
  state_ = State::literal;
  if (size == 0) end_literal();
}

void Parser::end_literal() {
  state_ = State::line;
  if (literal_streamed_ || literal_skipped_) {
    if (literal_streamed_) sink_->end();
    push({TokenKind::streamed, {}, literal_size_});
  } else {
    response_bytes_ += literal_buf_.size();
    push({TokenKind::string, std::move(literal_buf_), 0});
    literal_buf_.clear();
  }
  literal_streamed_ = literal_skipped_ = false;
}

bool Capabilities::has(std::string_view name) const {
  return std::any_of(words.begin(), words.end(), [&](const std::string& w) { return text::iequals(w, name); });
}

Capabilities parse_capabilities(const std::vector<std::string>& words) {
  Capabilities caps;
  for (const auto& w : words) {
    std::string up = text::to_upper(w);
    if (!up.empty() && !caps.has(up)) caps.words.push_back(std::move(up));
  }
  return caps;
}

Capabilities parse_capabilities(const std::vector<Token>& atoms) {
  std::vector<std::string> words;
  for (const auto& t : atoms)
    if (t.kind == TokenKind::atom) words.push_back(t.text);
  return parse_capabilities(words);
}

std::optional<FetchData> parse_fetch(const Response& r) {
  const auto& d = r.data;
  if (r.kind != Kind::untagged || r.name != "FETCH" || !r.number || d.size() < 2 ||
      d.front().kind != TokenKind::list_begin || d.back().kind != TokenKind::list_end)
    return std::nullopt;
  FetchData f;
  f.seq = *r.number;
  std::size_t i = 1, end = d.size() - 1;
  while (i < end) {
    if (d[i].kind != TokenKind::atom || i + 1 >= end) return std::nullopt;
    std::string name = text::to_upper(d[i].text);
    const Token& v = d[i + 1];
    std::size_t next = i + 2;
    if (v.kind == TokenKind::list_begin) {  // skip to the matching list_end
      std::size_t depth = 0;
      for (next = i + 1; next < end; ++next) {
        if (d[next].kind == TokenKind::list_begin) ++depth;
        else if (d[next].kind == TokenKind::list_end && --depth == 0) break;
        else if (name == "FLAGS" && depth == 1 && d[next].kind == TokenKind::atom) f.flags.push_back(d[next].text);
      }
      if (next >= end) return std::nullopt;
      ++next;
    } else if (v.kind == TokenKind::list_end) {
      return std::nullopt;
    }
    if (name == "UID") {
      f.uid = as_u32(v);
      if (!f.uid || *f.uid == 0) return std::nullopt;  // RFC 9051 2.3.1.1: UIDs are nz-number
    } else if (name == "RFC822.SIZE") {
      if (v.kind != TokenKind::number) return std::nullopt;
      f.size = v.number;
    } else if (is_body_item(name)) {
      if (v.kind == TokenKind::streamed) f.body_size = v.number;
      else if (v.kind == TokenKind::string) f.body = v.text;
      else if (v.kind == TokenKind::nil) f.body_nil = true;
      else return std::nullopt;
    }
    i = next;
  }
  return f;
}

std::string sequence_set(std::vector<std::uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string out;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) out += ':' + std::to_string(uids[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace pb::imap
