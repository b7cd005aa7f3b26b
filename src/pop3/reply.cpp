// POP3 reply parsing (RFC 1939, RFC 2449, RFC 3206): pure functions over one line of peer text.
// Garbage never throws: callers get nullopt / empty values and decide how to report it.
#include "pop3/reply.hpp"

#include <algorithm>
#include <charconv>

#include "util/text.hpp"

namespace pb::pop3 {

namespace {

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Strict unsigned decimal: digits only, no sign, no overflow.
template <typename T>
std::optional<T> parse_number(std::string_view s) {
  if (!is_digits(s)) return std::nullopt;
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// RFC 2449 8: resp-level = 1*rchar, rchar = ALPHA / "-"; levels joined by "/". Digits are
// tolerated because some servers number their private codes.
bool valid_resp_code(std::string_view code) {
  if (code.empty() || code.front() == '/' || code.back() == '/') return false;
  return std::all_of(code.begin(), code.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '/';
  });
}

// Codes are hierarchical (RFC 2449 8): "SYS/TEMP/QUOTA" still means SYS/TEMP.
bool code_is(std::string_view code, std::string_view known) {
  if (!text::istarts_with(code, known)) return false;
  return code.size() == known.size() || code[known.size()] == '/';
}

RespCode classify(std::string_view code) {
  if (code_is(code, "IN-USE")) return RespCode::in_use;            // RFC 2449 8.1.1
  if (code_is(code, "LOGIN-DELAY")) return RespCode::login_delay;  // RFC 2449 8.1.2
  if (code_is(code, "SYS/TEMP")) return RespCode::sys_temp;        // RFC 3206 4
  if (code_is(code, "SYS/PERM")) return RespCode::sys_perm;        // RFC 3206 4
  if (code_is(code, "AUTH")) return RespCode::auth;                // RFC 3206 5
  return RespCode::other;
}

}  // namespace

std::optional<StatusLine> parse_status(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // tolerate CR CR LF
  StatusLine st;
  // RFC 1939 3: the indicators are upper case; lower case accepted for robustness.
  std::size_t len = 0;
  if (text::istarts_with(line, "+OK")) {
    st.ok = true;
    len = 3;
  } else if (text::istarts_with(line, "-ERR")) {
    len = 4;
  } else {
    return std::nullopt;
  }
  std::string_view rest = line.substr(len);
  if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t') return std::nullopt;  // "+OKAY"
  rest = text::trim(rest);

  // RFC 2449 8: an extended response code in brackets starts the text.
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    if (close != std::string_view::npos && valid_resp_code(rest.substr(1, close - 1))) {
      st.code_text = std::string(rest.substr(1, close - 1));
      st.code = classify(st.code_text);
      rest = text::trim(rest.substr(close + 1));
    }
  }
  st.text = std::string(rest);
  return st;
}

std::string apop_timestamp(std::string_view greeting_text) {
  // RFC 1939 7: the timestamp is a msg-id, "<" ... "@" ... ">", without white space.
  std::size_t pos = 0;
  while ((pos = greeting_text.find('<', pos)) != std::string_view::npos) {
    std::size_t close = greeting_text.find('>', pos + 1);
    if (close == std::string_view::npos) break;
    std::string_view inner = greeting_text.substr(pos + 1, close - pos - 1);
    bool clean = std::none_of(inner.begin(), inner.end(), [](char c) {
      auto u = static_cast<unsigned char>(c);
      return u <= 0x20 || u == 0x7f || c == '<';
    });
    if (clean && inner.find('@') != std::string_view::npos)
      return std::string(greeting_text.substr(pos, close - pos + 1));
    pos += 1;
  }
  return {};
}

bool Capabilities::has_sasl(std::string_view mech) const {
  return std::any_of(sasl.begin(), sasl.end(), [&](const std::string& m) { return text::iequals(m, mech); });
}

Capabilities parse_capa(const std::vector<std::string>& lines) {
  Capabilities caps;
  for (const std::string& line : lines) {
    auto words = text::split_ws(text::trim(line));
    if (words.empty()) continue;
    std::string_view kw = words.front();
    // RFC 2449 6: capability names are case-insensitive.
    if (text::iequals(kw, "STLS")) caps.stls = true;  // RFC 2595 4
    else if (text::iequals(kw, "UIDL")) caps.uidl = true;
    else if (text::iequals(kw, "TOP")) caps.top = true;
    else if (text::iequals(kw, "PIPELINING")) caps.pipelining = true;
    else if (text::iequals(kw, "USER")) caps.user = true;
    else if (text::iequals(kw, "RESP-CODES")) caps.resp_codes = true;
    else if (text::iequals(kw, "SASL")) {  // RFC 2449 6.3
      for (std::size_t i = 1; i < words.size(); ++i) {
        std::string mech = text::to_upper(words[i]);
        if (!caps.has_sasl(mech)) caps.sasl.push_back(std::move(mech));
      }
    } else if (text::iequals(kw, "LOGIN-DELAY") && words.size() >= 2) {
      // RFC 2449 6.5: "LOGIN-DELAY 900" (before login possibly followed by "USER").
      caps.login_delay_s = parse_number<int>(words[1]);
    }
  }
  return caps;
}

std::optional<ListEntry> parse_list_line(std::string_view line) {
  // RFC 1939 5 scan listing: msg-number SP size; further text is discouraged but allowed.
  auto words = text::split_ws(text::trim(line));
  if (words.size() < 2) return std::nullopt;
  auto number = parse_number<std::uint32_t>(words[0]);
  auto size = parse_number<std::uint64_t>(words[1]);
  // Message numbers start at 1 (RFC 1939 5); a size of 0 is odd but not malformed.
  if (!number || *number == 0 || !size) return std::nullopt;
  return ListEntry{*number, *size};
}

std::optional<UidlEntry> parse_uidl_line(std::string_view line) {
  // RFC 1939 7 unique-id listing: msg-number SP unique-id, uid = 1*70 of 0x21..0x7E.
  auto words = text::split_ws(text::trim(line));
  if (words.size() != 2) return std::nullopt;
  auto number = parse_number<std::uint32_t>(words[0]);
  std::string_view uid = words[1];
  if (!number || *number == 0 || uid.empty() || uid.size() > 70) return std::nullopt;
  bool printable = std::all_of(uid.begin(), uid.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x21 && u <= 0x7e;
  });
  if (!printable) return std::nullopt;
  return UidlEntry{*number, std::string(uid)};
}

}  // namespace pb::pop3
