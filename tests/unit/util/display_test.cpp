// display::width, cut, fit and the escaping of terminal controls (src/util/display.cpp).
// Promises: widths count columns, not bytes; a cut never splits a UTF-8 sequence or a character
// from its combining marks; no C0 or C1 control and no invalid byte reaches a terminal raw.
#include "util/display.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace pb::display;

TEST_CASE("display: widths count columns, not bytes") {
  CHECK(width("") == 0);
  CHECK(width("anna@example.org") == 16);
  CHECK(width("jürgen@müller.de") == 16);       // ü is two bytes, one column
  CHECK(width("山田@例え.jp") == 12);            // four CJK characters, two columns each
  CHECK(width("Cafe\xCC\x81") == 4);            // e + U+0301 COMBINING ACUTE: one column
  CHECK(width("\xEF\xBC\xA1") == 2);            // U+FF21 FULLWIDTH A
  CHECK(width("\xF0\x9F\x93\xA7") == 2);        // U+1F4E7 E-MAIL SYMBOL
  CHECK(width("\xE2\x80\x8B") == 0);            // U+200B ZERO WIDTH SPACE
  CHECK(width("\xFF\xFE") == 2);                // invalid bytes: one column each
  CHECK(char_width(0x1B) == 0);
  CHECK(char_width(0x9B) == 0);
  CHECK(char_width(0xAC00) == 2);                // Hangul syllable
}

TEST_CASE("display: a cut ends on a code-point boundary with an ellipsis") {
  CHECK(cut("short", 10) == "short");
  CHECK(cut("exactly10!", 10) == "exactly10!");
  CHECK(cut("abcdefghijk", 5) == "abcd…");
  CHECK(width(cut("abcdefghijk", 5)) == 5);
  // Each ü is two bytes: a byte count would cut the third one in half.
  CHECK(cut("üüüüüü", 4) == "üüü…");
  // A wide character that does not fit is left out whole: the cut may be one column short.
  CHECK(cut("山田太郎", 4) == "山…");
  CHECK(width(cut("山田太郎", 4)) == 3);
  // A combining mark stays with its letter.
  CHECK(cut("e\xCC\x81" "e\xCC\x81" "e\xCC\x81" "e\xCC\x81", 3) == "e\xCC\x81" "e\xCC\x81" "…");
  CHECK(cut("anything", 0).empty());
  CHECK(cut("\xFF\xFF\xFF\xFF", 3) == "\xFF\xFF…");
}

TEST_CASE("display: fit pads to the display width") {
  CHECK(fit("ab", 5) == "ab   ");
  CHECK(fit("ä", 3) == "ä  ");
  CHECK(fit("山田", 6) == "山田  ");
  CHECK(width(fit("山田太郎@例え.jp", 10)) == 10);
  CHECK(width(fit("jörg.müller@beispiel.de", 12)) == 12);
}

TEST_CASE("display: C1 and bidi controls and invalid bytes are escaped, text stays") {
  CHECK(escape_controls("plain text") == "plain text");
  CHECK(escape_controls("Grüße, 山田") == "Grüße, 山田");
  CHECK(escape_controls("a\xC2\x9B" "2Jb") == "a\\u009B2Jb");   // U+009B CSI
  CHECK(escape_controls("\xC2\x80\xC2\x9F") == "\\u0080\\u009F");
  CHECK(escape_controls("raw \x9B byte") == "raw \\x9B byte");  // CSI to a Latin-1 terminal
  CHECK(escape_controls("\xE4\xF6") == "\\xE4\\xF6");           // Latin-1, not UTF-8
  CHECK(escape_controls("cut \xE5\xB1") == "cut \\xE5\\xB1");   // half a sequence
  // Bidi overrides and isolates would reorder what the reader sees; the marks stay.
  CHECK(escape_controls("invoice\xE2\x80\xAE" "fdp.exe") == "invoice\\u202Efdp.exe");
  CHECK(escape_controls("\xE2\x80\xAA\xE2\x81\xA6\xE2\x81\xA9") == "\\u202A\\u2066\\u2069");
  CHECK(escape_controls("\xE2\x80\x8F") == "\xE2\x80\x8F");  // U+200F RIGHT-TO-LEFT MARK
}

TEST_CASE("display: safe leaves no control for a terminal to obey") {
  const std::string hostile = "-ERR [AUTH] \x1B]0;owned\x07\x1B[2J\xC2\x9B" "31m\x9B" "1m";
  const std::string shown = safe(hostile);
  for (unsigned char c : shown) {
    CHECK(c >= 0x20);
    CHECK(c != 0x7F);
    CHECK(c != 0x9B);
  }
  CHECK(shown.find("\xC2\x9B") == std::string::npos);
  CHECK(shown.find("owned") != std::string::npos);  // the words themselves are shown
  CHECK(safe("Grüße") == "Grüße");
}

TEST_CASE("display: table columns line up by display width") {
  std::vector<std::vector<std::string>> rows{{"ID", "SENDER", "SIZE", "NOTE"},
                                             {"1", "anna@example.org", "12", "ok"},
                                             {"22", "jürgen@müller.de", "3", "fine"},
                                             {"333", "山田@例え.jp", "4567", "long reply text"}};
  std::string out = table(rows, {{8}, {40}, {6, true}, {100}});
  CHECK(out ==
        "ID  SENDER           SIZE NOTE\n"
        "1   anna@example.org   12 ok\n"
        "22  jürgen@müller.de    3 fine\n"
        "333 山田@例え.jp     4567 long reply text\n");
  // Too wide: cut to the column's maximum, still aligned.
  std::string narrow = table(rows, {{8}, {10}, {6, true}, {100}});
  CHECK(narrow.find("anna@exam… ") != std::string::npos);
  CHECK(narrow.find("jürgen@mü…") != std::string::npos);
  CHECK(narrow.find("山田@例え… ") != std::string::npos);
  CHECK(table({{"山田太郎"}}, {{5}}) == "山田…\n");  // a wide character left out whole
}
