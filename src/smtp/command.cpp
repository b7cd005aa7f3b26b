// SMTP server-side input parsing (see command.hpp): command words, MAIL/RCPT paths and parameters
// (RFC 5321 4.1.2, RFC 1870, 3030, 3461, 4954, 6152, 6531), and the DATA stream state machine.
#include "smtp/command.hpp"

#include <array>
#include <charconv>
#include <vector>

#include "util/text.hpp"

namespace pb::smtp {
namespace {

struct VerbName {
  std::string_view name;
  Verb verb;
};
constexpr std::array kVerbs = {
    VerbName{"EHLO", Verb::ehlo},         VerbName{"HELO", Verb::helo},       VerbName{"MAIL", Verb::mail},
    VerbName{"RCPT", Verb::rcpt},         VerbName{"DATA", Verb::data},       VerbName{"BDAT", Verb::bdat},
    VerbName{"RSET", Verb::rset},         VerbName{"NOOP", Verb::noop},       VerbName{"QUIT", Verb::quit},
    VerbName{"VRFY", Verb::vrfy},         VerbName{"HELP", Verb::help},       VerbName{"STARTTLS", Verb::starttls},
    VerbName{"AUTH", Verb::auth},         VerbName{"EXPN", Verb::not_implemented},
    VerbName{"TURN", Verb::not_implemented}, VerbName{"ETRN", Verb::not_implemented},
    VerbName{"ATRN", Verb::not_implemented}, VerbName{"SEND", Verb::not_implemented},
    VerbName{"SOML", Verb::not_implemented}, VerbName{"SAML", Verb::not_implemented},
    VerbName{"BURL", Verb::not_implemented}, VerbName{"GET", Verb::http},
    VerbName{"POST", Verb::http},         VerbName{"HEAD", Verb::http},       VerbName{"PUT", Verb::http},
    VerbName{"CONNECT", Verb::http},      VerbName{"OPTIONS", Verb::http},
};

// RFC 5321 4.5.3.1.3: a path is at most 256 octets, angle brackets included.
constexpr std::size_t kMaxPath = 256;
// RFC 3461 4.4: ENVID is at most 100 characters.
constexpr std::size_t kMaxEnvid = 100;

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool has_non_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

Refusal syntax(std::string text) { return {code::bad_arguments, std::move(text)}; }

std::optional<std::uint64_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A path and what follows it. `mailbox` excludes the brackets and any source route.
struct PathSplit {
  std::string_view mailbox;
  std::string_view rest;
  std::size_t length = 0;  // of the path as sent, brackets included
};

// RFC 5321 4.1.2 Path = "<" [ A-d-l ":" ] Mailbox ">". The mailbox may be a Quoted-string local
// part (which may contain ">" and spaces) or end in an address literal. Without "<" we accept a
// bare mailbox up to the next space, as most servers do for old scripts.
std::optional<PathSplit> split_path(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s.front() != '<') {
    std::size_t end = s.find(' ');
    std::string_view box = s.substr(0, end);
    if (box.find_first_of("<>\"") != std::string_view::npos) return std::nullopt;
    return PathSplit{box, end == std::string_view::npos ? std::string_view() : s.substr(end), box.size()};
  }
  std::size_t i = 1;
  // RFC 5321 4.1.1.3 / Appendix C: source routes are accepted and ignored.
  if (i < s.size() && s[i] == '@') {
    std::size_t colon = s.find(':', i);
    if (colon == std::string_view::npos) return std::nullopt;
    for (std::size_t k = i; k < colon; ++k)
      if (!(is_alnum(s[k]) || s[k] == '@' || s[k] == ',' || s[k] == '.' || s[k] == '-' || s[k] == '[' ||
            s[k] == ']'))
        return std::nullopt;
    i = colon + 1;
  }
  std::size_t start = i;
  if (i < s.size() && s[i] == '"') {  // Quoted-string: skip to the closing quote
    for (++i; i < s.size() && s[i] != '"'; ++i)
      if (s[i] == '\\') ++i;
    if (i >= s.size()) return std::nullopt;
  }
  std::size_t close = s.find('>', i);
  if (close == std::string_view::npos) return std::nullopt;
  return PathSplit{s.substr(start, close - start), s.substr(close + 1), close + 1};
}

struct Param {
  std::string keyword;  // upper-case
  std::string_view value;
  bool has_value = false;
};

// RFC 5321 4.1.2 esmtp-param = esmtp-keyword ["=" esmtp-value]; esmtp-keyword = (ALPHA / DIGIT)
// *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531 3.3).
std::optional<Param> parse_param(std::string_view token) {
  Param p;
  std::size_t eq = token.find('=');
  std::string_view key = token.substr(0, eq);
  if (key.empty() || !is_alnum(key.front())) return std::nullopt;
  for (char c : key)
    if (!is_alnum(c) && c != '-') return std::nullopt;
  p.keyword = text::to_upper(key);
  if (eq == std::string_view::npos) return p;
  p.value = token.substr(eq + 1);
  p.has_value = true;
  if (p.value.empty()) return std::nullopt;
  for (char c : p.value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u == '=' || u == 127) return std::nullopt;
  }
  return p;
}

// Calls on_param for each parameter; stops at the first Refusal. Duplicates are syntax errors.
template <class F>
std::optional<Refusal> for_each_param(std::string_view rest, F&& on_param) {
  if (!rest.empty() && !is_blank(rest.front())) return syntax("expected a space after the address");
  std::vector<std::string> seen;
  for (std::string_view token : text::split_ws(rest)) {
    auto p = parse_param(token);
    if (!p) return syntax("malformed parameter \"" + text::printable(token, 60) + "\"");
    for (const auto& k : seen)
      if (k == p->keyword) return syntax("parameter " + p->keyword + " given twice");
    seen.push_back(p->keyword);
    if (auto r = on_param(*p)) return r;
  }
  return std::nullopt;
}

std::optional<Refusal> need_value(const Param& p) {
  if (!p.has_value) return syntax(p.keyword + " needs a value");
  return std::nullopt;
}

// RFC 5321 4.1.1.11: a parameter we do not implement is 555.
Refusal unsupported(const Param& p) { return {code::parameter_unsupported, "unsupported parameter " + p.keyword}; }

std::optional<Refusal> mail_param(const Param& p, MailCommand& m) {
  if (p.keyword == "SIZE") {  // RFC 1870 6: SIZE=1*20DIGIT
    if (auto r = need_value(p)) return r;
    m.size = parse_number(p.value);
    if (!m.size) return syntax("SIZE needs a number of octets");
  } else if (p.keyword == "BODY") {  // RFC 6152 2
    if (auto r = need_value(p)) return r;
    m.body = text::to_upper(p.value);
    // RFC 3030 3: BINARYMIME only where announced, and we do not announce it: the relay sends
    // everything on as DATA text, which binary content would not survive. 555 as Postfix says.
    if (m.body == "BINARYMIME")
      return Refusal{code::parameter_unsupported, "BODY=BINARYMIME is not offered here; send the message as 8BITMIME"};
    if (m.body != "7BIT" && m.body != "8BITMIME") return syntax("BODY must be 7BIT or 8BITMIME");
  } else if (p.keyword == "SMTPUTF8") {  // RFC 6531 3.4: no value
    if (p.has_value) return syntax("SMTPUTF8 takes no value");
    m.smtputf8 = true;
  } else if (p.keyword == "RET") {  // RFC 3461 4.3
    if (auto r = need_value(p)) return r;
    m.ret = text::to_upper(p.value);
    if (m.ret != "FULL" && m.ret != "HDRS") return syntax("RET must be FULL or HDRS");
  } else if (p.keyword == "ENVID") {  // RFC 3461 4.4
    if (auto r = need_value(p)) return r;
    auto id = xtext_decode(p.value);
    if (!id || id->size() > kMaxEnvid) return syntax("ENVID must be xtext of at most 100 characters");
    m.envid = std::move(*id);
  } else if (p.keyword == "AUTH") {  // RFC 4954 5: "<>" or an xtext mailbox; we only keep it
    if (auto r = need_value(p)) return r;
    auto who = xtext_decode(p.value, true);
    if (!who) return syntax("AUTH= must be xtext");
    m.auth = std::move(*who);
  } else {
    return unsupported(p);
  }
  return std::nullopt;
}

// RFC 3461 4.1: NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ).
std::optional<std::string> parse_notify(std::string_view value) {
  std::string upper = text::to_upper(value);
  if (upper == "NEVER") return upper;
  std::string_view rest = upper;
  std::array<bool, 3> seen{};
  constexpr std::array<std::string_view, 3> kinds = {"SUCCESS", "FAILURE", "DELAY"};
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    bool ok = false;
    for (std::size_t k = 0; k < kinds.size(); ++k)
      if (item == kinds[k] && !seen[k]) ok = seen[k] = true;
    if (!ok) return std::nullopt;
    if (comma == std::string_view::npos) return upper;
    rest.remove_prefix(comma + 1);
  }
}

std::optional<Refusal> rcpt_param(const Param& p, RcptCommand& r, bool smtputf8) {
  if (p.keyword == "NOTIFY") {
    if (auto e = need_value(p)) return e;
    auto n = parse_notify(p.value);
    if (!n) return syntax("NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
    r.notify = std::move(*n);
  } else if (p.keyword == "ORCPT") {  // RFC 3461 4.2: addr-type ";" xtext
    if (auto e = need_value(p)) return e;
    std::size_t semi = p.value.find(';');
    std::string_view type = p.value.substr(0, semi);
    bool type_ok = !type.empty() && semi != std::string_view::npos;
    for (char c : type) type_ok = type_ok && (is_alnum(c) || c == '-');
    auto addr = type_ok ? xtext_decode(p.value.substr(semi + 1), smtputf8) : std::nullopt;
    if (!addr || addr->empty()) return syntax("ORCPT must be addr-type;xtext");
    r.orcpt = std::string(type) + ";" + *addr;
  } else {
    return unsupported(p);
  }
  return std::nullopt;
}

// "FROM:" / "TO:" then optional blanks (RFC 5321 has none; common clients send one).
std::optional<std::string_view> after_keyword(std::string_view arg, std::string_view keyword) {
  if (!text::istarts_with(arg, keyword)) return std::nullopt;
  arg.remove_prefix(keyword.size());
  while (!arg.empty() && is_blank(arg.front())) arg.remove_prefix(1);
  return arg;
}

Refusal non_ascii(std::string_view what) {
  return {code::utf8_required, std::string(what) + " contains non-ASCII characters but SMTPUTF8 was not requested"};
}

}  // namespace

CommandLine split_command(std::string_view line) {
  CommandLine c;
  std::size_t sp = line.find(' ');
  c.word = line.substr(0, sp);
  c.argument = sp == std::string_view::npos ? std::string_view() : trim_blanks(line.substr(sp + 1));
  c.verb = Verb::unknown;
  for (const auto& v : kVerbs)
    if (text::iequals(c.word, v.name)) c.verb = v.verb;
  return c;
}

std::variant<MailCommand, Refusal> parse_mail(std::string_view argument) {
  auto rest = after_keyword(argument, "FROM:");
  if (!rest) return syntax("syntax: MAIL FROM:<address> [parameters]");
  auto path = split_path(*rest);
  if (!path) return syntax("syntax: MAIL FROM:<address> [parameters]");
  if (path->length > kMaxPath) return Refusal{code::bad_sender_syntax, "sender address too long"};
  MailCommand m;
  if (auto r = for_each_param(path->rest, [&](const Param& p) { return mail_param(p, m); })) return *r;
  if (!m.smtputf8 && has_non_ascii(path->mailbox)) return non_ascii("sender address");
  m.sender = std::string(path->mailbox);
  return m;
}

std::variant<RcptCommand, Refusal> parse_rcpt(std::string_view argument, bool smtputf8) {
  auto rest = after_keyword(argument, "TO:");
  if (!rest) return syntax("syntax: RCPT TO:<address> [parameters]");
  auto path = split_path(*rest);
  if (!path) return syntax("syntax: RCPT TO:<address> [parameters]");
  if (path->mailbox.empty()) return Refusal{code::bad_recipient_syntax, "a recipient address is required"};
  if (path->length > kMaxPath) return Refusal{code::bad_recipient_syntax, "recipient address too long"};
  RcptCommand r;
  if (auto e = for_each_param(path->rest, [&](const Param& p) { return rcpt_param(p, r, smtputf8); })) return *e;
  if (!smtputf8 && has_non_ascii(path->mailbox)) return non_ascii("recipient address");
  r.recipient = std::string(path->mailbox);
  return r;
}

std::optional<BdatCommand> parse_bdat(std::string_view argument) {
  auto words = text::split_ws(argument);
  if (words.empty() || words.size() > 2) return std::nullopt;
  for (char c : words[0])
    if (!is_digit(c)) return std::nullopt;
  auto size = parse_number(words[0]);
  if (!size) return std::nullopt;
  if (words.size() == 2 && !text::iequals(words[1], "LAST")) return std::nullopt;
  return BdatCommand{*size, words.size() == 2};
}

std::variant<AuthCommand, Refusal> parse_auth(std::string_view argument) {
  auto words = text::split_ws(argument);
  if (words.empty() || words.size() > 2) return syntax("syntax: AUTH mechanism [initial-response]");
  // RFC 4422 3.1: mechanism names are 1-20 characters of A-Z, 0-9, "-" and "_".
  if (words[0].size() > 20) return syntax("syntax: AUTH mechanism [initial-response]");
  for (char c : words[0])
    if (!is_alnum(c) && c != '-' && c != '_') return syntax("syntax: AUTH mechanism [initial-response]");
  AuthCommand a;
  a.mechanism = text::to_upper(words[0]);
  if (words.size() == 2) a.initial_response = std::string(words[1]);
  return a;
}

std::optional<std::string> xtext_decode(std::string_view s, bool allow_utf8) {
  auto hex = [](char c) -> int {
    if (is_digit(c)) return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;  // RFC 3461 says upper case; lenient
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (s[i] == '+') {
      if (i + 2 >= s.size()) return std::nullopt;  // "+" needs two hex digits
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if ((u >= 33 && u <= 126 && u != '=') || (allow_utf8 && u >= 0x80)) {
      out += s[i];
    } else {
      return std::nullopt;
    }
  }
  return out;
}

bool valid_helo_argument(std::string_view argument) {
  if (argument.empty() || argument.size() > 255) return false;
  for (char c : argument) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u == 127) return false;
  }
  return true;
}

// ---- DATA ---------------------------------------------------------------------------------------

DataDecoder::DataDecoder(std::uint64_t max_size, std::size_t max_line, BareLineEnds mode, Framing framing)
    : max_size_(max_size), max_line_(max_line), mode_(mode), framing_(framing) {}

void DataDecoder::emit(std::string_view bytes, std::string& out) {
  size_ += bytes.size();
  if (max_size_ != 0 && size_ > max_size_) too_big_ = true;
  if (!refused()) out.append(bytes);
}

std::size_t DataDecoder::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size() && state_ != State::done) {
    if (state_ == State::text) {
      // The bulk of a message: copy the run of ordinary bytes up to the next CR, LF or NUL.
      std::size_t j = i;
      while (j < in.size() && in[j] != '\r' && in[j] != '\n' && in[j] != '\0') ++j;
      if (j > i) {
        emit(in.substr(i, j - i), out);
        line_length_ += j - i;
        if (line_length_ > max_line_) line_too_long_ = true;
        i = j;
        continue;
      }
    }
    step(in[i++], out);
  }
  return i;
}

void DataDecoder::finish(std::string& out) {
  if (state_ == State::cr) on_bare_cr(out);
  state_ = State::done;
}

// A LF without CR ends the line as CRLF would (normalize), but the next line is no line start
// for the end marker: "\n.\n" or "\n.\r\n" is message text, never an end of data.
void DataDecoder::on_bare_lf(std::string& out) {
  ++bare_lf_;
  emit("\r\n", out);
  line_length_ = 0;
  state_ = framing_ == Framing::dot ? State::lf_start : State::text;
}

// A CR without LF stays in its line as a byte (normalize); it never ends a line.
void DataDecoder::on_bare_cr(std::string& out) {
  ++bare_cr_;
  emit("\r", out);
  if (++line_length_ > max_line_) line_too_long_ = true;
  state_ = State::text;
}

void DataDecoder::step(char c, std::string& out) {
  switch (state_) {
    case State::line_start:
      if (c == '.' && framing_ == Framing::dot) {
        state_ = State::dot;
        return;
      }
      state_ = State::text;
      step(c, out);
      return;
    case State::lf_start:
      state_ = State::text;  // RFC 5321 4.5.2: the leading dot of a stuffed line is dropped
      if (c != '.') step(c, out);
      return;
    case State::dot:
      if (c == '\r') {
        state_ = State::dot_cr;
        return;
      }
      state_ = State::text;  // RFC 5321 4.5.2: the leading dot of a stuffed line is dropped
      step(c, out);
      return;
    case State::dot_cr:
      if (c == '\n') {
        state_ = State::done;  // CRLF "." CRLF
        return;
      }
      on_bare_cr(out);  // "." CR without LF: the dot was stuffing, the CR is bare
      step(c, out);
      return;
    case State::text:
      if (c == '\r') {
        state_ = State::cr;
      } else if (c == '\n') {
        on_bare_lf(out);
      } else {
        if (c == '\0') ++nul_;
        emit(std::string_view(&c, 1), out);
        if (++line_length_ > max_line_) line_too_long_ = true;
      }
      return;
    case State::cr:
      if (c == '\n') {
        emit("\r\n", out);
        line_length_ = 0;
        state_ = State::line_start;
        return;
      }
      on_bare_cr(out);  // CR followed by something other than LF
      step(c, out);
      return;
    case State::done:
      return;
  }
}

}  // namespace pb::smtp
