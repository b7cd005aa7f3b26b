// text::printable and the log layer against hostile text: ESC sequences, C1 controls, stray 8-bit
// bytes and broken UTF-8 come out as \xNN; readable UTF-8 stays readable; the cap never splits one.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "util/log.hpp"
#include "util/text.hpp"

using pb::text::printable;
using namespace std::string_literals;

namespace {

// Everything log::write() puts on stderr while `f` runs (fd 2 pointed at a temporary file).
template <class F>
std::string captured_stderr(F f) {
  std::FILE* tmp = std::tmpfile();
  REQUIRE(tmp);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(tmp), STDERR_FILENO);
  f();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  std::rewind(tmp);
  for (int c; (c = std::fgetc(tmp)) != EOF;) out += static_cast<char>(c);
  std::fclose(tmp);
  return out;
}

}  // namespace

TEST_CASE("printable: every control shown in hex: C0, ESC, DEL, C1, stray 8-bit bytes, broken UTF-8", "[text][log]") {
  CHECK(printable("a\r\nb") == "a\\x0D\\x0Ab");
  CHECK(printable("\x1b[2J\x1b]0;owned\x07") == "\\x1B[2J\\x1B]0;owned\\x07");
  CHECK(printable("tab\there") == "tab\\x09here");
  CHECK(printable("nul\0x"s) == "nul\\x00x");
  CHECK(printable("del\x7f") == "del\\x7F");
  CHECK(printable("\xc2\x9b" "31m") == "\\xC2\\x9B31m");     // U+009B CSI, well-formed UTF-8
  CHECK(printable("\xc2\x80\xc2\x9f") == "\\xC2\\x80\\xC2\\x9F");  // both ends of C1
  CHECK(printable("\x9b" "31mred") == "\\x9B31mred");       // the 8-bit CSI byte alone
  CHECK(printable("\xc3") == "\\xC3");                      // a truncated sequence
  CHECK(printable("\xc0\xaf") == "\\xC0\\xAF");              // an overlong '/'
  CHECK(printable("\xed\xa0\x80") == "\\xED\\xA0\\x80");      // a UTF-16 surrogate
  CHECK(printable("\xf4\x90\x80\x80") == "\\xF4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(printable("\xff\xfe") == "\\xFF\\xFE");
}

TEST_CASE("printable: readable UTF-8 stays as it is, and the cap keeps characters whole", "[text][log]") {
  CHECK(printable("Müller ¡olé! 東京 👍 \xc2\xa0nbsp") == "Müller ¡olé! 東京 👍 \xc2\xa0nbsp");  // U+00A0 is not C1
  CHECK(printable("plain ascii ~") == "plain ascii ~");
  CHECK(printable("ääää", 3) == "ää…");  // 4 bytes reached: stop before the third, never half of it
  CHECK(printable("abcdef", 3) == "abc…");
}

TEST_CASE("log: a peer's escape sequences and line breaks never reach the log as themselves", "[text][log]") {
  std::string out = captured_stderr([] {
    pb::log::warn("relay: login as 'x\x1b[2J\x1b]2;pwned\x07\r\nfake line\xc2\x9b\x9b' rejected");
  });
  CHECK(out == "<4>relay: login as 'x\\x1B[2J\\x1B]2;pwned\\x07\\x0D\\x0Afake line\\xC2\\x9B\\x9B' rejected\n");
  CHECK(captured_stderr([] { pb::log::warn("Grüße aus Köln"); }) == "<4>Grüße aus Köln\n");
}
