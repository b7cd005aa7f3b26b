// Small string helpers shared by parsers: case-insensitive compare, trimming, splitting.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace pb::text {

bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split_ws(std::string_view s);  // on runs of spaces/tabs
// Printable rendering of peer text for logs and errors: C0 controls (ESC, CR, LF, TAB ...), DEL,
// C1 controls (U+0080..U+009F) and bytes that are not well-formed UTF-8 (a stray 0x9B) shown as
// \xNN per byte, so nothing reaches a terminal as an escape sequence; other UTF-8 text is kept as
// it is. Capped at about `max` bytes (then "…"), never inside a character.
std::string printable(std::string_view s, std::size_t max = 300);
// Appends the UTF-8 encoding of one code point (the caller guarantees a valid scalar value).
void append_utf8(char32_t cp, std::string& out);
// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace pb::text
