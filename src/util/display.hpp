// Text for a terminal: how many columns UTF-8 text takes (a small wcwidth), cutting and padding
// to a column count on code-point boundaries, and escaping what a terminal would obey. No I/O.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pb::display {

// Columns one code point takes: 0 for combining marks, zero-width characters and controls, 2 for
// East Asian wide and fullwidth characters and emoji, 1 for the rest.
int char_width(char32_t cp);
// Columns of UTF-8 text; a byte that starts no valid sequence counts as one column.
std::size_t width(std::string_view utf8);
// The longest prefix of at most `columns` columns, cut between code points (never inside a UTF-8
// sequence, and never between a character and its combining marks); a cut ends with "…", which
// counts in the columns.
std::string cut(std::string_view utf8, std::size_t columns);
// Cut to `columns` and padded with spaces to exactly `columns` (left-aligned, for table cells).
std::string fit(std::string_view utf8, std::size_t columns);

// A table for a terminal: rows of cells (the first row holds the titles), one space between
// columns, each column as wide as its widest cell but at most `max` columns (longer cells are cut
// with "…"); the last column is neither padded nor cut beyond its `max`. Cells must be safe().
struct Column {
  std::size_t max;
  bool right = false;  // numbers: aligned on the right
};
std::string table(const std::vector<std::vector<std::string>>& rows, const std::vector<Column>& columns);

// C1 controls (U+0080..U+009F; terminals obey U+009B like ESC [) and the bidi embedding, override
// and isolate controls (U+202A..U+202E, U+2066..U+2069) shown as \u0080, \u202E ..., and bytes
// that are not valid UTF-8 as \xNN; everything else unchanged.
std::string escape_controls(std::string_view s);
// Peer or mail text made safe for a terminal or a page: text::printable (C0 controls and DEL
// escaped, at most `max` bytes), then escape_controls.
std::string safe(std::string_view s, std::size_t max = 300);

}  // namespace pb::display
