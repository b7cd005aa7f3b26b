// POP3 multi-line body decoder (RFC 1939 3): one pass per line, output appended to the caller's
// buffer, counters for the peer's sloppiness (bare LF, NUL) so the fetcher can log them once.
#include "pop3/unstuffer.hpp"

#include <algorithm>
#include <cstring>

namespace pb::pop3 {

bool Unstuffer::feed_line(std::string_view line, bool had_crlf, std::string& out) {
  // "abc\r\r\n" arrives as "abc\r": keep the line, lose the stray CR (it would otherwise become
  // an extra empty line when the message is relayed).
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // RFC 1939 3: a line holding only "." ends the response. Accepted with a bare LF too, or a
  // sloppy server's message would never end.
  if (line == ".") return false;
  // RFC 1939 3: a line starting with "." was byte-stuffed; drop the first dot.
  if (!line.empty() && line.front() == '.') line.remove_prefix(1);
  if (!had_crlf) ++bare_lf_;
  if (!line.empty() && std::memchr(line.data(), '\0', line.size()) != nullptr)  // rare: count then
    nul_ += static_cast<std::uint64_t>(std::count(line.begin(), line.end(), '\0'));
  out.append(line);
  out.append("\r\n", 2);
  return true;
}

}  // namespace pb::pop3
