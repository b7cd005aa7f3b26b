// SMTP/LMTP reply parsing (RFC 5321 4.2), no I/O: multi-line replies, enhanced status codes
// (RFC 3463), and EHLO keywords (RFC 5321 4.1.1.1). Malformed replies throw; nothing else does.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pb::smtp {

struct Reply {
  int code = 0;                       // 250, 451, 550...
  std::string enhanced;               // "5.1.1" or empty
  std::vector<std::string> lines;     // text of each line (after "250-"/"250 "), enhanced code kept
  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  // One line for logs and the page: "550 5.1.1 <x@y>: Recipient address rejected" (lines joined
  // with " / ", the enhanced code repeated on later lines dropped, control bytes shown as \xNN).
  std::string text() const;
};

// Accumulates reply lines; feed() returns true when the reply is complete.
class ReplyParser {
 public:
  // Throws std::runtime_error on a malformed line (no 3-digit code, code changes mid-reply, more
  // than kMaxLines lines...). Throws std::logic_error if called again before take().
  bool feed(std::string_view line);
  Reply take();  // the complete reply; resets the parser

  static constexpr std::size_t kMaxLines = 1000;  // bounds memory against an endless reply

 private:
  Reply cur_;
  bool started_ = false;
  bool complete_ = false;
};

struct Extensions {
  bool pipelining = false, eightbitmime = false, smtputf8 = false, starttls = false, chunking = false,
       enhancedstatuscodes = false, dsn = false;
  std::optional<std::uint64_t> size;  // SIZE limit; 0 = announced without a limit
  std::vector<std::string> auth;      // upper-case mechanisms
  bool has_auth(std::string_view mech) const;
};
// From a complete EHLO/LHLO reply (the first line is the greeting, the rest keywords).
Extensions parse_ehlo(const Reply& r);

}  // namespace pb::smtp
