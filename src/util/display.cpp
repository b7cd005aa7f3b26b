// Terminal widths after Unicode's East Asian Width (UAX #11: W and F are two columns) and its
// general categories Mn/Me (combining marks: no column of their own). The tables hold the blocks
// that occur in names, addresses and subjects, not every assigned code point.
#include "util/display.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "util/hex.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

namespace pb::display {
namespace {

struct Range {
  char32_t first, last;
};

// Combining marks and zero-width format characters, sorted.
constexpr Range kZeroWidth[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x0711, 0x0711},
    {0x0730, 0x074A}, {0x07A6, 0x07B0}, {0x0900, 0x0902}, {0x093A, 0x093A}, {0x093C, 0x093C},
    {0x0941, 0x0948}, {0x094D, 0x094D}, {0x0951, 0x0957}, {0x0E31, 0x0E31}, {0x0E34, 0x0E3A},
    {0x0E47, 0x0E4E}, {0x1160, 0x11FF}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F},
    {0x202A, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0x302A, 0x302D}, {0x3099, 0x309A},
    {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
};

// East Asian Wide and Fullwidth blocks and the emoji that terminals draw two columns wide, sorted.
constexpr Range kWide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},   {0x23F0, 0x23F0},
    {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26D4, 0x26D4},   {0x26EA, 0x26EA},
    {0x26F2, 0x26F5},   {0x26FA, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},   {0x2728, 0x2728},
    {0x274C, 0x274C},   {0x2753, 0x2755},   {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},
    {0x27BF, 0x27BF},   {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x3029},
    {0x302E, 0x303E},   {0x3041, 0x3098},   {0x309B, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},
    {0xA000, 0xA4CF},   {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4}, {0x17000, 0x18CFF},
    {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A},
    {0x1F200, 0x1F251}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F9FF},
    {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

template <std::size_t N>
bool in(const Range (&table)[N], char32_t cp) {
  auto it = std::upper_bound(std::begin(table), std::end(table), cp,
                             [](char32_t c, const Range& r) { return c < r.first; });
  return it != std::begin(table) && cp <= std::prev(it)->last;
}

// One code point at s[i]: its value and length, or length 0 when the bytes there are not valid
// UTF-8 (RFC 3629 3: no overlong forms, no surrogates, nothing above U+10FFFF).
using utf8::decode;
using utf8::Decoded;

constexpr std::string_view kEllipsis = "…";

}  // namespace

int char_width(char32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return 0;
  if (cp < 0x300) return 1;
  if (in(kZeroWidth, cp)) return 0;
  return in(kWide, cp) ? 2 : 1;
}

std::size_t width(std::string_view utf8) {
  std::size_t cols = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    Decoded d = decode(utf8, i);
    cols += d.len ? static_cast<std::size_t>(char_width(d.cp)) : 1;
    i += d.len ? d.len : 1;
  }
  return cols;
}

std::string cut(std::string_view utf8, std::size_t columns) {
  if (width(utf8) <= columns) return std::string(utf8);
  if (columns == 0) return {};
  const std::size_t budget = columns - 1;  // one column for the "…"
  std::size_t cols = 0, i = 0;
  while (i < utf8.size()) {
    Decoded d = decode(utf8, i);
    std::size_t w = d.len ? static_cast<std::size_t>(char_width(d.cp)) : 1;
    // A zero-width mark always stays with the character before it.
    if (cols + w > budget) break;
    cols += w;
    i += d.len ? d.len : 1;
  }
  return std::string(utf8.substr(0, i)) + std::string(kEllipsis);
}

std::string fit(std::string_view utf8, std::size_t columns) {
  std::string out = cut(utf8, columns);
  out.append(columns - std::min(columns, width(out)), ' ');
  return out;
}

std::string table(const std::vector<std::vector<std::string>>& rows, const std::vector<Column>& columns) {
  std::vector<std::size_t> widths(columns.size(), 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size() && c < columns.size(); ++c)
      widths[c] = std::max(widths[c], std::min(columns[c].max, width(row[c])));
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size() && c < columns.size(); ++c) {
      std::string text = cut(row[c], widths[c]);
      const bool last = c + 1 == row.size() || c + 1 == columns.size();
      std::string pad(last && !columns[c].right ? 0 : widths[c] - std::min(widths[c], width(text)), ' ');
      line += (c ? " " : "") + (columns[c].right ? pad + text : text + pad);
    }
    out += line + "\n";
  }
  return out;
}

namespace {

// C1 controls (a terminal obeys U+009B like ESC [), and the bidirectional embeddings, overrides
// and isolates (U+202A..U+202E, U+2066..U+2069): a subject "invoice<U+202E>fdp.exe" would read
// "invoiceexe.pdf" (CVE-2021-42574, "Trojan Source"). The marks U+200E/U+200F stay: they only
// nudge the order of neutral characters in right-to-left text and cannot reverse a word.
bool shown_escaped(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

std::string escape_controls(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  char buf[8];
  for (std::size_t i = 0; i < s.size();) {
    Decoded d = decode(s, i);
    if (d.len == 0) {
      out += "\\x";
      hex::append(static_cast<unsigned char>(s[i]), out, hex::Case::upper);
      ++i;
      continue;
    }
    if (shown_escaped(d.cp)) {
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(d.cp));
      out += buf;
    } else {
      out.append(s.substr(i, d.len));
    }
    i += d.len;
  }
  return out;
}

std::string safe(std::string_view s, std::size_t max) { return escape_controls(text::printable(s, max)); }

}  // namespace pb::display
