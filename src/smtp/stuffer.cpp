// SMTP DATA encoder (RFC 5321 4.5.2): memchr finds line ends, and well-formed CRLF lines that do
// not start with "." are copied in one append per run of lines, so 100 MB streams at memory speed.
#include "smtp/stuffer.hpp"

#include <cstring>

namespace pb::smtp {

namespace {

constexpr std::string_view kCrlf = "\r\n";

const char* find(const char* from, const char* to, char c) {
  return static_cast<const char*>(std::memchr(from, c, static_cast<std::size_t>(to - from)));
}

}  // namespace

void Stuffer::feed(std::string_view chunk, std::string& out) {
  if (chunk.empty()) return;
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  if (pending_cr_) {
    // CR at the end of the previous chunk: with this LF it is one CRLF; alone it is a bare CR,
    // which becomes CRLF too. Either way exactly one line end is written.
    pending_cr_ = false;
    out.append(kCrlf);
    at_line_start_ = true;
    if (*p == '\n') ++p;
  }
  const char* run = p;       // bytes from here on are copied verbatim at the next append
  const char* lf = nullptr;  // next LF at or after p (cached: bare CRs must not rescan for it)
  bool lf_known = false;
  while (p < end) {
    if (at_line_start_ && *p == '.') {  // RFC 5321 4.5.2: double a leading dot
      out.append(run, p);
      out.push_back('.');
      run = p;
    }
    if (!lf_known || (lf != nullptr && lf < p)) {
      lf = find(p, end, '\n');
      lf_known = true;
    }
    const char* stop = lf != nullptr ? lf : end;
    const char* cr = find(p, stop, '\r');
    if (cr == nullptr) {
      if (lf == nullptr) {  // the line continues in the next chunk
        at_line_start_ = false;
        break;
      }
      out.append(run, lf);  // bare LF -> CRLF (RFC 5321 2.3.8)
      out.append(kCrlf);
      p = run = lf + 1;
      at_line_start_ = true;
      continue;
    }
    if (cr + 1 == lf) {  // a proper CRLF: stays inside the verbatim run
      p = lf + 1;
      at_line_start_ = true;
      continue;
    }
    out.append(run, cr);
    if (cr + 1 == end) {  // CR LF may be split between chunks: decided by the next feed/finish
      pending_cr_ = true;
      return;
    }
    out.append(kCrlf);  // bare CR -> CRLF (RFC 5321 2.3.8)
    p = run = cr + 1;
    at_line_start_ = true;
  }
  out.append(run, end);
}

void Stuffer::finish(std::string& out) {
  if (pending_cr_) {
    out.append(kCrlf);
    at_line_start_ = true;
  }
  if (!at_line_start_) out.append(kCrlf);  // RFC 5321 4.1.1.4: the mark must start a line
  out.append(".\r\n");
  at_line_start_ = true;
  pending_cr_ = false;
}

}  // namespace pb::smtp
