// Streaming decoder for a POP3 multi-line body (RETR): removes dot-stuffing (RFC 1939 3), detects
// the terminating ".", and emits the message with CRLF line ends, counting every octet it changed
// (bare LF, CR before the line end) and what it kept but SMTP cannot carry as is (inner CR, NUL).
// Fed line by line, so a 100 MB message never sits in memory.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pb::pop3 {

class Unstuffer {
 public:
  // Feed one received line WITHOUT its line terminator. Returns false when it was the terminating
  // "." (the line is not part of the message); true otherwise, and appends the decoded line plus
  // CRLF to `out`. CRs left at the end of `line` (the peer sent CR CR LF) are dropped, so no bare
  // CR reaches the spool from a line end. Allocates nothing but out's growth.
  bool feed_line(std::string_view line, bool had_crlf, std::string& out);
  std::uint64_t bare_lf_lines() const { return bare_lf_; }  // stored with CRLF instead
  std::uint64_t dropped_crs() const { return dropped_cr_; }  // CRs dropped before a line end
  std::uint64_t inner_crs() const { return inner_cr_; }      // CRs inside lines: kept
  std::uint64_t nul_bytes() const { return nul_; }           // NULs are kept but counted for the log

 private:
  std::uint64_t bare_lf_ = 0;
  std::uint64_t dropped_cr_ = 0;
  std::uint64_t inner_cr_ = 0;
  std::uint64_t nul_ = 0;
};

}  // namespace pb::pop3
