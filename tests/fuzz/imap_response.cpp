// Fuzz target: everything an IMAP server sends, as the client's parser sees it (src/imap/response).
// Promises checked: no crash, UB or unbounded growth; the same responses whatever the read sizes.
//
// The input is a server byte stream. The first byte picks how it is cut into reads (1..256 bytes
// each, or all at once); the stream is parsed twice, cut that way and whole, with a sink that takes
// every message literal, and both runs must agree on every response and on the literal bytes.
#include <string>
#include <vector>

#include "fuzz.hpp"
#include "imap/response.hpp"

using namespace pb;

namespace {

struct Sink : imap::LiteralSink {
  std::string bytes;
  std::uint64_t expected = 0, got = 0;
  int open = 0;
  bool begin(std::uint32_t, std::optional<std::uint32_t>, std::string_view, std::uint64_t size) override {
    PB_FUZZ_CHECK(open == 0, "begin inside a literal");
    ++open;
    expected = size;
    got = 0;
    bytes += "<begin>";
    return true;
  }
  void data(std::string_view b) override {
    PB_FUZZ_CHECK(open == 1, "data outside a literal");
    got += b.size();
    PB_FUZZ_CHECK(got <= expected, "more literal bytes than announced");
    bytes.append(b);
  }
  void end() override {
    PB_FUZZ_CHECK(open == 1 && got == expected, "end without the announced bytes");
    --open;
    bytes += "<end>";
  }
};

std::string render(const imap::Response& r) {
  std::string out = std::to_string(static_cast<int>(r.kind)) + "|" + r.tag + "|" +
                    std::to_string(static_cast<int>(r.status)) + "|" + (r.number ? std::to_string(*r.number) : "-") +
                    "|" + r.name + "|" + r.code.name + "|" + r.code.args + "|" + r.text + "|";
  for (const auto& t : r.data) out += std::to_string(static_cast<int>(t.kind)) + ":" + t.text + ":" + std::to_string(t.number) + ",";
  return out;
}

void check_response(const imap::Response& r) {
  int depth = 0;
  for (const auto& t : r.data) {
    if (t.kind == imap::TokenKind::list_begin) ++depth;
    if (t.kind == imap::TokenKind::list_end) --depth;
    PB_FUZZ_CHECK(depth >= 0 && depth <= 64, "list depth");
  }
  PB_FUZZ_CHECK(depth == 0, "unbalanced lists in a complete response");
  PB_FUZZ_CHECK(r.kind != imap::Kind::tagged || !r.tag.empty(), "tagged without a tag");
  if (r.kind == imap::Kind::tagged)
    PB_FUZZ_CHECK(r.status == imap::Status::ok || r.status == imap::Status::no || r.status == imap::Status::bad, r.tag);
  if (auto f = imap::parse_fetch(r)) {
    PB_FUZZ_CHECK(r.name == "FETCH" && f->seq == *r.number, r.name);
    if (f->uid) PB_FUZZ_CHECK(*f->uid > 0, "UID 0");
  }
  if (r.code.kind == imap::CodeKind::capability) {
    auto caps = imap::parse_capabilities(r.code.words);
    for (const auto& w : caps.words) PB_FUZZ_CHECK(caps.has(w) && !w.empty(), w);
  }
}

// Parses `in` cut into pieces of `step` bytes; returns the responses rendered, and "!kind" at a ParseError.
std::vector<std::string> parse(std::string_view in, std::size_t step, Sink& sink) {
  imap::Parser p;
  p.set_sink(&sink);
  std::vector<std::string> out;
  try {
    for (std::size_t pos = 0; pos < in.size();) {
      std::string_view piece = in.substr(pos, std::min(step, in.size() - pos));
      std::size_t used = 0;
      while (used < piece.size()) {
        std::size_t n = p.feed(piece.substr(used));
        used += n;
        if (p.ready()) {
          imap::Response r = p.take();
          check_response(r);
          out.push_back(render(r));
        } else {
          PB_FUZZ_CHECK(n > 0, "feed consumed nothing without a ready response");
        }
      }
      pos += piece.size();
    }
  } catch (const imap::ParseError& e) {
    out.push_back("!" + std::to_string(static_cast<int>(e.kind())));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t step = data[0] == 0 ? SIZE_MAX : data[0];
  std::string_view in = fuzz::view(data + 1, size - 1);
  Sink cut, whole;
  auto a = parse(in, step, cut);
  auto b = parse(in, SIZE_MAX, whole);
  PB_FUZZ_CHECK(a == b, in);
  PB_FUZZ_CHECK(cut.bytes == whole.bytes, in);
  imap::sequence_set({static_cast<std::uint32_t>(size), 1, 2, 3});
  return 0;
}
