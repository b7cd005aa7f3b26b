// util/utf8 and util/hex: the strict decoder every parser of peer text relies on, and the hex
// digits each format writes in its own case.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "util/hex.hpp"
#include "util/utf8.hpp"

using namespace pb;

TEST_CASE("utf8: decode takes well-formed characters whole") {
  CHECK(utf8::decode("a", 0).cp == U'a');
  CHECK(utf8::decode("a", 0).len == 1);
  CHECK(utf8::decode("\xC3\xBC", 0).cp == 0xFC);       // ü
  CHECK(utf8::decode("\xE2\x82\xAC", 0).cp == 0x20AC);  // €
  CHECK(utf8::decode("\xF0\x9F\x98\x80", 0).len == 4);
}

TEST_CASE("utf8: decode refuses what RFC 3629 forbids") {
  CHECK(utf8::decode("\xC0\xAF", 0).len == 0);          // overlong
  CHECK(utf8::decode("\xE0\x80\xAF", 0).len == 0);      // overlong
  CHECK(utf8::decode("\xED\xA0\x80", 0).len == 0);      // surrogate
  CHECK(utf8::decode("\xF4\x90\x80\x80", 0).len == 0);  // above U+10FFFF
  CHECK(utf8::decode("\x9B", 0).len == 0);              // stray continuation byte
  CHECK(utf8::decode("\xE2\x82", 0).len == 0);          // truncated
}

TEST_CASE("utf8: code_points replaces each bad byte with U+FFFD") {
  CHECK(utf8::code_points("a\xFF" "b") == std::vector<char32_t>{U'a', 0xFFFD, U'b'});
  CHECK(utf8::code_points("\xE2\x82") == std::vector<char32_t>{0xFFFD, 0xFFFD});
}

TEST_CASE("hex: writes two digits an octet in the case asked for") {
  CHECK(hex::encode(std::string("\x00\x7F\xAB", 3), hex::Case::lower) == "007fab");
  CHECK(hex::encode(std::string("\x00\x7F\xAB", 3), hex::Case::upper) == "007FAB");
  std::string out = "%";
  hex::append(0x2F, out, hex::Case::upper);
  CHECK(out == "%2F");
}
