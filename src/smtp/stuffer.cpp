// SMTP DATA encoder (RFC 5321 4.5.2): memchr finds line ends, and well-formed CRLF lines of at most
// 998 octets that do not start with "." are copied in one append per run of lines, so 100 MB
// streams at memory speed; only lines that need a change go through the line buffer.
#include "smtp/stuffer.hpp"

#include <algorithm>
#include <cstring>

namespace pb::smtp {

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr char kCr = '\r';

const char* find(const char* from, const char* to, char c) {
  return static_cast<const char*>(std::memchr(from, c, static_cast<std::size_t>(to - from)));
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }  // RFC 5322 2.2.3: where a header may be folded

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string count(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string describe(const BodyChanges& c) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (c.long_lines) add(count(c.long_lines, "line", "lines") + " over 998 octets broken (RFC 5322 2.1.1)");
  if (c.bare_cr) add(count(c.bare_cr, "bare CR", "bare CRs") + " sent as " + (c.bare_cr == 1 ? "a space" : "spaces") +
                     " (RFC 5321 2.3.8)");
  if (c.bare_lf) add(count(c.bare_lf, "bare LF", "bare LFs") + " sent as CRLF (RFC 5321 2.3.8)");
  return out;
}

void Stuffer::feed(std::string_view chunk, std::string& out) {
  if (finished_) start_message();
  if (chunk.empty()) return;
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  if (pending_cr_) {  // CR at the end of the previous chunk: with this LF it is one CRLF
    pending_cr_ = false;
    if (*p == '\n') {
      ++p;
      end_line(out);
    } else {
      append(&kCr, &kCr + 1, out);  // a bare CR after all
    }
  }
  const char* run = p;  // whole well-formed lines from here on go out verbatim at the next append
  while (p < end) {
    const char* lf = find(p, end, '\n');
    if (lf == nullptr) {  // the line continues in the next chunk; a last CR may be half of a CRLF
      out.append(run, p);
      pending_cr_ = end[-1] == '\r';
      append(p, pending_cr_ ? end - 1 : end, out);
      return;
    }
    bool crlf = lf > p && lf[-1] == '\r';
    const char* content_end = crlf ? lf - 1 : lf;
    bool verbatim = crlf && line_.empty() && !line_written_ && *p != '.' &&
                    static_cast<std::size_t>(content_end - p) <= kMaxLine && find(p, content_end, '\r') == nullptr;
    if (verbatim) {
      if (content_end == p) in_header_ = false;  // RFC 5322 2.1: the empty line ends the header section
      p = lf + 1;
      continue;
    }
    out.append(run, p);
    if (!crlf) ++changes_.bare_lf;  // RFC 5321 2.3.8: a bare LF ends a line everywhere else too
    append(p, content_end, out);
    end_line(out);
    p = run = lf + 1;
  }
  out.append(run, end);
}

void Stuffer::finish(std::string& out) {
  if (finished_) start_message();
  // A CR at the very end is taken as the line end whose LF never came.
  if (pending_cr_ || !line_.empty() || line_written_) end_line(out);  // RFC 5321 4.1.1.4: the mark starts a line
  out.append(".\r\n");
  pending_cr_ = false;
  in_header_ = true;
  finished_ = true;
}

void Stuffer::start_message() {
  changes_ = {};
  finished_ = false;
}

// Adds octets of the current line (no LF among them) to line_, never letting it pass kMaxLine + 1.
void Stuffer::append(const char* from, const char* to, std::string& out) {
  while (from < to) {
    std::size_t room = kMaxLine + 1 - line_.size();
    const char* stop = from + std::min(room, static_cast<std::size_t>(to - from));
    std::size_t start = line_.size();
    line_.append(from, stop);
    // RFC 5321 2.3.8 allows CR only in CRLF, and a bare CR is what SMTP smuggling (CVE-2023-51764)
    // plays with: a next hop that takes it for a line end would see a line where we see none, so
    // it never leaves as it came. Turning it into CRLF (as postbridge once did) split the line,
    // and a header line split that way spills its tail into the body. A space keeps every line
    // and its length, as Postfix's cleanup_replace_stray_cr_lf does.
    for (auto i = line_.find('\r', start); i != std::string::npos; i = line_.find('\r', i + 1)) {
      line_[i] = ' ';
      ++changes_.bare_cr;
    }
    from = stop;
    if (line_.size() > kMaxLine) shorten(out);
  }
}

// line_ is over the limit: write it out in pieces until the rest fits. Header lines are folded at
// white space (RFC 5322 2.2.3: unfolding gives back the very same line); a header line without
// white space and every body line are broken with CRLF SP, as Postfix does (smtp_line_length_limit):
// a continuation that starts with a space can never be taken for a MIME boundary, a header, the
// end of a MIME part's header or a "." line, which limits the damage to MIME-formatted mail.
void Stuffer::shorten(std::string& out) {
  if (!line_counted_) ++changes_.long_lines;
  line_counted_ = true;
  while (line_.size() > kMaxLine) {
    std::size_t fold = in_header_ ? fold_point() : 0;
    std::size_t n = fold != 0 ? fold : break_point();
    write_piece(n, out);
    out.append(kCrlf);
    if (fold != 0) line_.erase(0, n);  // the continuation starts with the white space folded at
    else line_.replace(0, n, " ");
    line_written_ = true;
  }
}

// The last white space that can start a continuation line within the limit, after something that
// is not white space (no line may consist of white space alone, RFC 5322 3.2.2); 0 if there is none.
std::size_t Stuffer::fold_point() const {
  for (std::size_t i = kMaxLine; i > 0; --i)
    if (is_wsp(line_[i]) && !is_wsp(line_[i - 1])) return i;
  return 0;
}

// kMaxLine octets, or fewer so that a UTF-8 sequence (at most 4 octets) is not cut in two.
std::size_t Stuffer::break_point() const {
  std::size_t n = kMaxLine;
  while (n > kMaxLine - 3 && is_utf8_continuation(line_[n])) --n;
  return is_utf8_continuation(line_[n]) ? kMaxLine : n;
}

// Writes the first n octets of line_; a piece that starts with "." is a line start (continuations
// start with white space), so the dot is doubled (RFC 5321 4.5.2).
void Stuffer::write_piece(std::size_t n, std::string& out) {
  if (n > 0 && line_[0] == '.') out.push_back('.');
  out.append(line_, 0, n);
}

void Stuffer::end_line(std::string& out) {
  if (line_.empty() && !line_written_) in_header_ = false;  // RFC 5322 2.1: the empty line
  write_piece(line_.size(), out);
  out.append(kCrlf);
  line_.clear();
  line_written_ = false;
  line_counted_ = false;
}

}  // namespace pb::smtp
