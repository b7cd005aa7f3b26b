// Streaming encoder for SMTP DATA (RFC 5321 4.5.2): dot-stuffs lines that start with ".", turns a
// bare LF or bare CR into CRLF (spool files are CRLF already; this is defence), and produces the
// final "CRLF.CRLF" (adding a CRLF first if the message did not end with one).
#pragma once
#include <string>
#include <string_view>

namespace pb::smtp {

// No bare CR or LF ever leaves feed()/finish(), and "CRLF.CRLF" appears only at the very end, so
// a message cannot end the DATA phase early or smuggle a second transaction (SMTP smuggling).
// Chunks may split anywhere, including between CR and LF. Appends to `out` only; no other
// allocation. After finish() the object is ready for the next message.
class Stuffer {
 public:
  // Encodes the next chunk of the message (any split, even mid-line) and appends to out.
  void feed(std::string_view chunk, std::string& out);
  // Appends the end-of-data marker.
  void finish(std::string& out);

 private:
  bool at_line_start_ = true;
  bool pending_cr_ = false;  // the previous chunk ended with CR: an LF may follow
};

}  // namespace pb::smtp
