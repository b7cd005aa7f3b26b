// Streaming encoder for SMTP DATA (RFC 5321 4.5.2): dot-stuffs lines that start with ".", keeps
// every line within 998 octets, sends a bare CR as a space and a bare LF as CRLF, counts what it
// changed, and produces the final "CRLF.CRLF" (adding a CRLF first if the message lacked one).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pb::smtp {

// What the encoder had to change so that the message fits SMTP. Any change invalidates a DKIM
// signature over the changed part, so the caller logs these once per message.
struct BodyChanges {
  std::uint64_t long_lines = 0;  // lines over 998 octets, folded or broken (each counted once)
  std::uint64_t bare_cr = 0;     // CRs not followed by LF, each sent as a space
  std::uint64_t bare_lf = 0;     // LFs not preceded by CR, each sent as CRLF
  bool any() const { return long_lines != 0 || bare_cr != 0 || bare_lf != 0; }
};

// Plain words for the log, e.g. "2 lines over 998 octets broken (RFC 5322 2.1.1)"; empty when
// nothing changed.
std::string describe(const BodyChanges& changes);

// Promises, for any bytes split into chunks anywhere (even between CR and LF):
// - no bare CR or LF leaves feed()/finish(), and "CRLF.CRLF" appears only at the very end, so a
//   message can neither end the DATA phase early nor smuggle a second transaction;
// - no line has more than kMaxLine octets before its CRLF (the doubled dot aside);
// - the output depends on the bytes only, never on how they were split.
// Appends to `out` only. Keeps back at most kMaxLine octets of the current line between calls (a
// header line must be seen up to the limit to be folded at its last white space). After finish()
// the object is ready for the next message.
class Stuffer {
 public:
  // RFC 5322 2.1.1 and RFC 5321 4.5.3.1.6: 1000 octets with the CRLF, not counting the dot
  // doubled for transparency.
  static constexpr std::size_t kMaxLine = 998;

  // Encodes the next chunk of the message (any split, even mid-line) and appends to out.
  void feed(std::string_view chunk, std::string& out);
  // Appends the rest of the last line and the end-of-data marker.
  void finish(std::string& out);
  // What was changed in the message: so far, or after finish() in the whole message (until the
  // next message starts).
  const BodyChanges& changes() const { return changes_; }

 private:
  void start_message();
  void append(const char* from, const char* to, std::string& out);
  void shorten(std::string& out);
  std::size_t fold_point() const;
  std::size_t break_point() const;
  void write_piece(std::size_t n, std::string& out);
  void end_line(std::string& out);

  std::string line_;          // the current line's octets not written yet (CR/LF already replaced)
  bool line_written_ = false;  // part of the current line went out already (it was over the limit)
  bool line_counted_ = false;  // the current line is counted in changes_.long_lines
  bool in_header_ = true;      // before the empty line that ends the header section (RFC 5322 2.1)
  bool pending_cr_ = false;    // the previous chunk ended with CR: an LF may follow
  bool finished_ = false;      // finish() ended a message: the next feed() starts a new one
  BodyChanges changes_;
};

}  // namespace pb::smtp
