// IDN conversion through libidn2 (Debian libidn2-0): IDNA2008 and UTS #46 mapping are large tables
// (case folding, NFC, bidi and contextual rules) that a hand-written punycode coder would get wrong.
#include "mail/idn.hpp"

#include <idn2.h>

#include <algorithm>
#include <memory>

#include "util/text.hpp"

namespace pb::mail {
namespace {

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool has_a_label(std::string_view lower) {
  return lower.starts_with("xn--") || lower.find(".xn--") != std::string_view::npos;
}

struct Idn2Free {
  void operator()(char* p) const { idn2_free(p); }
};

}  // namespace

std::optional<std::string> domain_to_ascii(std::string_view domain) {
  if (domain.empty()) return std::nullopt;
  if (domain.front() == '[') return std::string(domain);
  if (is_ascii(domain)) {
    std::string lower = text::to_lower(domain);
    // Plain ASCII names need no table; A-labels are checked so that broken punycode is caught.
    if (!has_a_label(lower)) return lower;
  }
  std::string input(domain);  // libidn2 wants a NUL-terminated string
  char* raw = nullptr;
  int rc = idn2_to_ascii_8z(input.c_str(), &raw, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<char, Idn2Free> out(raw);
  if (rc != IDN2_OK || !out) return std::nullopt;
  std::string ascii = text::to_lower(out.get());
  // RFC 5891 5.4: an A-label must decode to a valid U-label that encodes to it again. libidn2
  // 2.3 passes A-labels through unchecked ("xn--iraa" is two U+02DB, which IDNA2008 disallows),
  // so such a name would compare differently from its own display form: check the round trip.
  char* unicode_raw = nullptr;
  rc = idn2_to_unicode_8z8z(ascii.c_str(), &unicode_raw, 0);
  std::unique_ptr<char, Idn2Free> unicode(unicode_raw);
  if (rc != IDN2_OK || !unicode) return std::nullopt;
  char* back_raw = nullptr;
  rc = idn2_to_ascii_8z(unicode.get(), &back_raw, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<char, Idn2Free> back(back_raw);
  if (rc != IDN2_OK || !back || text::to_lower(back.get()) != ascii) return std::nullopt;
  return ascii;
}

std::string domain_for_display(std::string_view domain) {
  if (!is_ascii(domain) || !has_a_label(text::to_lower(domain))) return std::string(domain);
  std::string input(domain);
  char* raw = nullptr;
  int rc = idn2_to_unicode_8z8z(input.c_str(), &raw, 0);
  std::unique_ptr<char, Idn2Free> out(raw);
  if (rc != IDN2_OK || !out) return std::string(domain);
  return out.get();
}

std::optional<std::string> comparable_address(const Address& a) {
  auto domain = domain_to_ascii(a.domain());
  if (!domain) return std::nullopt;
  return text::to_lower(a.local()) + "@" + *domain;
}

}  // namespace pb::mail
