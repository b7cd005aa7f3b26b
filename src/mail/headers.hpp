// Header-block helpers, no I/O: pick single headers out of a message head (unfolding), decode
// RFC 2047 encoded words for display, build our Received: trace header (RFC 5321 4.4), and add
// the Message-ID:/Date: a submitted message lacks (RFC 6409 8).
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

// The "with" protocol of a Received: line for mail taken over SMTP (RFC 5321 4.4), as the IANA
// Mail Transmission Types registry names it: ESMTP, with "S" after TLS and "A" after AUTH (RFC
// 3848); UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA for a transaction with SMTPUTF8 (RFC 6531
// 3.7.3). A HELO session is plain "SMTP": the registry has no suffixes for it.
std::string smtp_transmission_type(bool esmtp, bool smtputf8, bool tls, bool authenticated);

// A new msg-id (RFC 5322 3.6.4): "<TIME.RANDOM@host>", TIME the Unix time in decimal and RANDOM
// 64 bits in hex: unique without a counter to keep, and not guessable. `host` should be a domain
// name ([service] hostname); anything not allowed in a dot-atom becomes "-".
std::string make_message_id(std::int64_t unix_time, std::uint64_t random, std::string_view host);

// Adds the Message-ID: and Date: fields a message lacks, as a submission server does for its
// clients (RFC 6409 8.2, 8.3: scanners and scripts often write neither, and large providers refuse
// mail without a Message-ID), while the message streams through (CRLF lines, split anywhere).
// The fields go at the end of the header section, right before the empty line that ends it (RFC
// 5322 2.1; RFC 6409 8 fixes no place): nothing has to be held back but the current line. A
// message without an empty line is all header, and they go at its end. A field counts as present
// when a header line starts with its name (any case, blanks before the colon allowed: RFC 5322
// 1.2.2, 4.5), empty or folded alike: RFC 5322 3.6 allows one of each, and a submission server
// does not replace what the author wrote. Every other byte passes unchanged.
class HeaderCompleter {
 public:
  // message_id: a whole msg-id, e.g. from make_message_id(); date: rfc5322_date(). A header line
  // longer than max_line (the DATA decoder refuses such a message anyway) ends the checking:
  // nothing is added, as the name of what follows cannot be told.
  HeaderCompleter(std::string message_id, std::string date, std::size_t max_line = 128 * 1024);
  // Appends `bytes` to `out`, the current header line held back until its line end, and the
  // missing fields where the header section ends.
  void feed(std::string_view bytes, std::string& out);
  // At the end of the message: the held-back line (given a CRLF) and, without an empty line, the
  // missing fields.
  void finish(std::string& out);
  bool in_header() const { return state_ == State::header; }  // feed() may still hold bytes back
  const HeaderCollector& headers() const { return headers_; }  // the message's own fields
  bool added_message_id() const { return added_message_id_; }
  bool added_date() const { return added_date_; }
  // The message's Message-ID as sent on: the author's, or the one added ("" if neither).
  std::string message_id() const;

 private:
  enum class State { header, body, unchecked };
  void end_line(std::string& out);
  void add_missing(std::string& out);

  std::string message_id_, date_;
  std::size_t max_line_;
  State state_ = State::header;
  std::string line_;  // the current header line so far, line end included once complete
  HeaderCollector headers_;
  bool has_message_id_ = false, has_date_ = false;
  bool added_message_id_ = false, added_date_ = false;
};

}  // namespace pb::mail
