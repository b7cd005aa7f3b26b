// Fuzz target: the DATA stream both ways, the server's decoder (smtp::DataDecoder, normalising or
// refusing bare line ends) and the client's encoder (smtp::Stuffer). Promises checked: the SMTP
// smuggling defences hold for any bytes in either mode, however the stream is split into reads,
// and the two are inverse to each other (but for the folding of lines over 998 octets and bare
// CRs sent as spaces).
//
// Input: byte 0 picks the decoder's limits, its mode and the read sizes, the rest is the stream.
#include <string>

#include "fuzz.hpp"
#include "smtp/command.hpp"
#include "smtp/stuffer.hpp"

using namespace pb;

namespace {

struct Decoded {
  std::size_t consumed = 0;
  bool done = false, refused = false, bare_refused = false, too_long = false, too_big = false;
  std::uint64_t size = 0, nul = 0, bare_lf = 0, bare_cr = 0;
  std::string out;
  bool operator==(const Decoded&) const = default;
};

// Feeds `in` in pieces of the given sizes (cycled), as reads from the socket would come.
Decoded decode(std::string_view in, std::uint64_t max_size, std::size_t max_line, smtp::BareLineEnds mode,
               const std::vector<std::size_t>& sizes) {
  smtp::DataDecoder d(max_size, max_line, mode);
  Decoded r;
  std::size_t pos = 0, k = 0;
  while (pos < in.size() && !d.done()) {
    std::size_t n = std::min(sizes[k++ % sizes.size()], in.size() - pos);
    std::size_t used = d.feed(in.substr(pos, n), r.out);
    PB_FUZZ_CHECK(used <= n, in);
    PB_FUZZ_CHECK(used == n || d.done(), in);  // everything is consumed until the end marker
    pos += used;
  }
  r.consumed = pos;
  r.done = d.done();
  r.refused = d.refused();
  r.bare_refused = d.bare_refused();
  r.bare_lf = d.bare_lf();
  r.bare_cr = d.bare_cr();
  r.too_long = d.line_too_long();
  r.too_big = d.too_big();
  r.size = d.size();
  r.nul = d.nul_bytes();
  return r;
}

std::string stuff(std::string_view in, const std::vector<std::size_t>& sizes) {
  smtp::Stuffer s;
  std::string out;
  std::size_t pos = 0, k = 0;
  while (pos < in.size()) {
    std::size_t n = std::min(sizes[k++ % sizes.size()], in.size() - pos);
    s.feed(in.substr(pos, n), out);
    pos += n;
  }
  s.finish(out);
  return out;
}

// What the Stuffer promises to transmit for lines within the limit: every bare LF a CRLF, every
// bare CR a space (a CR at the very end the missing line end), a final CRLF added.
std::string normalised(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') {
      out += "\r\n";
      ++i;
    } else if (in[i] == '\r') {
      out += i + 1 == in.size() ? "\r\n" : " ";
    } else if (in[i] == '\n') {
      out += "\r\n";
    } else {
      out += in[i];
    }
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

// A decoded message as the Stuffer sends it: every bare CR a space.
std::string cr_as_space(std::string_view m) {
  std::string out(m);
  for (std::size_t i = 0; i < out.size(); ++i)
    if (out[i] == '\r' && (i + 1 == out.size() || out[i + 1] != '\n')) out[i] = ' ';
  return out;
}

// No LF without its CR (a bare CR may remain inside a line).
bool lf_only_after_cr(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  return true;
}

// A message with its long lines folded or broken (CRLF before white space, or CRLF SP inserted)
// squeezes to the same as the original: every CRLF before white space and all white space gone.
std::string squeezed(std::string_view m) {
  std::string out;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m.substr(i, 2) == "\r\n" && i + 2 < m.size() && (m[i + 2] == ' ' || m[i + 2] == '\t')) {
      ++i;
      continue;
    }
    if (m[i] != ' ' && m[i] != '\t') out += m[i];
  }
  return out;
}

// The receiver gets `sent` back: exactly, or, where a line was over the limit, folded or broken.
bool same_message(std::string_view sent, std::string_view got) {
  if (fuzz::longest_line(sent) <= smtp::Stuffer::kMaxLine) return got == sent;
  return fuzz::longest_line(got) <= smtp::Stuffer::kMaxLine && squeezed(got) == squeezed(sent);
}

void check_decoder(std::string_view in, std::uint64_t max_size, std::size_t max_line, smtp::BareLineEnds mode,
                   std::size_t chunk) {
  const bool reject = mode == smtp::BareLineEnds::reject;
  Decoded whole = decode(in, max_size, max_line, mode, {in.size() + 1});
  Decoded bytes = decode(in, max_size, max_line, mode, {1});
  Decoded mixed = decode(in, max_size, max_line, mode, {chunk, 1, 2 * chunk + 1, 2});
  // Once refused, how much of the refused message reached `out` depends on the reads (a run of
  // text is appended before its length is checked); the server drops it either way.
  if (whole.refused) whole.out = bytes.out = mixed.out = "";
  PB_FUZZ_CHECK(whole == bytes, in);
  PB_FUZZ_CHECK(whole == mixed, in);

  std::string_view used = in.substr(0, whole.consumed);
  if (whole.done) {
    // Only "." CRLF at the start or after a CRLF ends the data (RFC 5321 4.1.1.4).
    PB_FUZZ_CHECK(used == ".\r\n" || used.ends_with("\r\n.\r\n"), used);
    PB_FUZZ_CHECK(used == ".\r\n" || used.find("\r\n.\r\n") == used.size() - 5, used);
  } else {
    PB_FUZZ_CHECK(whole.consumed == in.size(), in);
  }
  PB_FUZZ_CHECK(whole.bare_refused == (reject && whole.bare_lf + whole.bare_cr > 0), in);
  PB_FUZZ_CHECK(whole.refused == (whole.bare_refused || whole.too_long || whole.too_big), in);
  if (max_size != 0) PB_FUZZ_CHECK(whole.too_big == (whole.size > max_size), in);
  if (whole.refused) return;
  // An accepted message: CRLF lines only (normalising, a bare CR may stay inside a line), counted
  // exactly, each line within the limit.
  PB_FUZZ_CHECK(reject ? fuzz::crlf_only(whole.out) : lf_only_after_cr(whole.out), whole.out);
  PB_FUZZ_CHECK(whole.out.size() == whole.size, whole.out);
  PB_FUZZ_CHECK(fuzz::longest_line(whole.out) <= max_line, whole.out);
  PB_FUZZ_CHECK(whole.nul == static_cast<std::uint64_t>(std::count(whole.out.begin(), whole.out.end(), '\0')), in);
  if (!whole.done) return;
  PB_FUZZ_CHECK(whole.out.empty() || whole.out.ends_with("\r\n"), whole.out);
  // Sending the message on (Stuffer) and receiving it again gives the same message.
  std::string wire = stuff(whole.out, {whole.out.size() + 1});
  Decoded again = decode(wire, 0, max_line, smtp::BareLineEnds::reject, {wire.size() + 1});
  PB_FUZZ_CHECK(again.done && again.consumed == wire.size() && !again.refused, wire);
  PB_FUZZ_CHECK(same_message(cr_as_space(whole.out), again.out), wire);
}

void check_stuffer(std::string_view in, std::size_t chunk) {
  std::string whole = stuff(in, {in.size() + 1});
  PB_FUZZ_CHECK(whole == stuff(in, {1}), in);
  PB_FUZZ_CHECK(whole == stuff(in, {chunk, 2, 1, chunk + 3}), in);
  // No bare CR or LF leaves the client, and the end marker is only at the very end.
  PB_FUZZ_CHECK(fuzz::crlf_only(whole), whole);
  PB_FUZZ_CHECK(whole == ".\r\n" || whole.find("\r\n.\r\n") == whole.size() - 5, whole);
  PB_FUZZ_CHECK(!whole.starts_with(".\r\n") || whole == ".\r\n", whole);
  // The server gets the message back, line ends made CRLF, long lines folded or broken.
  Decoded got = decode(whole, 0, whole.size() + 1, smtp::BareLineEnds::reject, {whole.size() + 1});
  PB_FUZZ_CHECK(got.done && got.consumed == whole.size() && !got.refused, whole);
  PB_FUZZ_CHECK(same_message(normalised(in), got.out), whole);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::uint64_t kMaxSizes[] = {0, 0, 16, 1000};
  static constexpr std::size_t kMaxLines[] = {1000, 4, 78, 1 << 20};
  const unsigned p = data[0];
  std::string_view in = fuzz::view(data + 1, size - 1);
  const auto mode = (p & 16) ? smtp::BareLineEnds::reject : smtp::BareLineEnds::normalize;
  check_decoder(in, kMaxSizes[p & 3], kMaxLines[(p >> 2) & 3], mode, 1 + (p >> 5));
  check_stuffer(in, 1 + (p >> 5));
  return 0;
}
