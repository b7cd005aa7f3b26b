// POP3 multi-line body decoder (RFC 1939 3): one pass per line, output appended to the caller's
// buffer, counters for the peer's sloppiness (bare LF, stray CR, NUL) so the fetcher can log them once.
#include "pop3/unstuffer.hpp"

#include <algorithm>
#include <cstring>

namespace pb::pop3 {

namespace {

std::uint64_t count_of(std::string_view line, char c) {
  if (line.empty() || std::memchr(line.data(), c, line.size()) == nullptr) return 0;  // the usual case: one scan
  return static_cast<std::uint64_t>(std::count(line.begin(), line.end(), c));
}

}  // namespace

bool Unstuffer::feed_line(std::string_view line, bool had_crlf, std::string& out) {
  // "abc\r\r\n" arrives as "abc\r". SMTP cannot carry that CR (RFC 5321 2.3.8), and sent on as
  // anything it would change the line; it is what a doubled line-end conversion leaves behind, so
  // it goes, as Postfix's smtpd drops every CR before a line end. Counted for the log.
  std::size_t kept = line.find_last_not_of('\r');
  std::size_t crs = line.size() - (kept == std::string_view::npos ? 0 : kept + 1);
  line.remove_suffix(crs);
  // RFC 1939 3: a line holding only "." ends the response. Accepted with a bare LF too, or a
  // sloppy server's message would never end.
  if (line == ".") return false;
  dropped_cr_ += crs;
  // RFC 1939 3: a line starting with "." was byte-stuffed; drop the first dot.
  if (!line.empty() && line.front() == '.') line.remove_prefix(1);
  if (!had_crlf) ++bare_lf_;
  // A CR inside a line is stored as the provider sent it; the SMTP encoder (smtp::Stuffer) sends
  // it as a space and counts it per message.
  inner_cr_ += count_of(line, '\r');
  nul_ += count_of(line, '\0');
  out.append(line);
  out.append("\r\n", 2);
  return true;
}

}  // namespace pb::pop3
