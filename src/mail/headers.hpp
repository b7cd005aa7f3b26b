// Header-block helpers, no I/O: pick single headers out of a message head (unfolding), decode
// RFC 2047 encoded words for display, and build our Received: trace header (RFC 5321 4.4).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb::mail {

// Collects the header block of a message fed line by line (lines without CRLF) until the empty
// line; bounded (max_bytes) so a message without a body separator cannot grow it without limit.
// Malformed lines (no colon, not a continuation) are skipped with their continuations.
class HeaderCollector {
 public:
  explicit HeaderCollector(std::size_t max_bytes = 64 * 1024) : max_(max_bytes) {}
  void feed_line(std::string_view line);  // ignored after the header block ended
  bool done() const { return done_; }
  // First header with this name (case-insensitive), unfolded, leading space trimmed.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;
  // Every kept field in message order (top first), values unfolded but untrimmed.
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  bool truncated() const { return truncated_; }  // the header block passed max_bytes

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
  std::size_t bytes_ = 0, max_;
  bool done_ = false;
  bool truncated_ = false;
  bool in_field_ = false;  // the previous line was a field we kept: continuations belong to it
};

// "=?UTF-8?B?...?=" / "=?ISO-8859-1?Q?...?=" words decoded to UTF-8 (RFC 2047); ISO-8859-1/15 and
// Windows-1252 converted, unknown charsets left encoded. Never throws.
std::string decode_rfc2047(std::string_view text);

struct ReceivedInfo {
  std::string from_host;   // the peer's name, e.g. "pop.example.net"
  std::string from_addr;   // the peer's IP if known
  std::string by_host;     // our hostname
  std::string protocol;    // "POP3S", "POP3", "ESMTPS" ...  (with = "..." clause)
  std::string id;          // our queue id
  std::string for_addr;    // single recipient, optional
  std::string extra;       // e.g. "account info; uidl 0001abcd" as a comment
  std::string mark;        // routing::LoopMarker's mark: "(postbridge mark=...)" proves the stamp ours
};
// Builds "Received: from ... by ... with ...; <RFC 5322 date>\r\n", folded under 78 columns.
// Every value is sanitised (no control bytes, no unbalanced parentheses), so peer text is safe.
std::string build_received(const ReceivedInfo& info, std::int64_t unix_time);
// RFC 5322 3.3 date-time in local time with numeric zone.
std::string rfc5322_date(std::int64_t unix_time);

}  // namespace pb::mail
