// Fuzz target: a message header block as the fetcher and the listener read it: the header
// collector, the RFC 5322 address-list parser, Received "for", RFC 2047 decoding, IDN conversion,
// the bounce check and the multidrop router that stands on all of them.
//
// The input is a header block (lines; an empty line ends it). Every field value goes through
// every parser, whatever its name, so each field exercises them all.
#include <string>

#include "config/config.hpp"
#include "fuzz.hpp"
#include "mail/addrlist.hpp"
#include "mail/dsn.hpp"
#include "mail/headers.hpp"
#include "mail/idn.hpp"
#include "routing/multidrop.hpp"
#include "util/text.hpp"

using namespace pb;

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

bool lower_ascii(std::string_view s) {
  for (char c : s)
    if ((c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// What multidrop routing is configured with (the README's example, plus an IDN domain).
const config::Multidrop& multidrop() {
  static const config::Multidrop md = [] {
    config::Multidrop m;
    m.domains = {"firma.de", "xn--mller-kva.de"};
    m.rewrite_domain = "firma.local";
    m.map = {{"info@firma.de", {"anna@firma.local", "ben@firma.local"}, 1}};
    m.default_recipient = "postmaster@firma.local";
    return m;
  }();
  return md;
}

// An address's domain in both IDN directions; comparable_address built from it.
void check_idn(const mail::Address& a) {
  auto ascii = mail::domain_to_ascii(a.domain());
  auto comparable = mail::comparable_address(a);
  PB_FUZZ_CHECK(ascii.has_value() == comparable.has_value(), a.str());
  std::string display = mail::domain_for_display(a.domain());
  PB_FUZZ_CHECK(!display.empty(), a.str());
  if (!ascii) return;
  if (a.domain().front() == '[') {
    PB_FUZZ_CHECK(*ascii == a.domain(), a.str());
    return;
  }
  PB_FUZZ_CHECK(!ascii->empty() && lower_ascii(*ascii), *ascii);
  PB_FUZZ_CHECK(*comparable == text::to_lower(a.local()) + "@" + *ascii, *comparable);
  // The A-label is its own A-label, and its display form converts back to it.
  auto twice = mail::domain_to_ascii(*ascii);
  PB_FUZZ_CHECK(twice && *twice == *ascii, *ascii);
  PB_FUZZ_CHECK(fuzz::valid_utf8(mail::domain_for_display(*ascii)), *ascii);
  auto back = mail::domain_to_ascii(mail::domain_for_display(*ascii));
  PB_FUZZ_CHECK(back && *back == *ascii, *ascii);
}

void check_address(const mail::Address& a) {
  auto again = mail::Address::parse(a.str());
  PB_FUZZ_CHECK(again && *again == a, a.str());
  PB_FUZZ_CHECK(!fuzz::has_control(a.str()), a.str());
  check_idn(a);
}

void check_address_list(std::string_view value) {
  const bool clean_input = fuzz::valid_utf8(value);
  mail::AddressList list = mail::parse_address_list(value);
  for (const mail::Mailbox& mb : list.mailboxes) {
    check_address(mb.address);
    // Display and group names are for people: valid UTF-8 whenever the field was.
    if (clean_input) {
      PB_FUZZ_CHECK(fuzz::valid_utf8(mb.display), mb.display);
      PB_FUZZ_CHECK(fuzz::valid_utf8(mb.group), mb.group);
    }
  }
  // Problems are logged one per line: never a line end or other control byte in them.
  for (const std::string& p : list.problems) PB_FUZZ_CHECK(!p.empty() && !fuzz::has_control(p), p);

  mail::AddressList one = mail::parse_address_list(value, 1);
  PB_FUZZ_CHECK(one.mailboxes.size() <= 1, value);
  if (!list.mailboxes.empty())
    PB_FUZZ_CHECK(!one.mailboxes.empty() && one.mailboxes.front().address == list.mailboxes.front().address, value);
}

void check_field(const std::string& name, const std::string& value) {
  // RFC 5322 3.6.8 field names: printable, no colon, no white space at the end.
  PB_FUZZ_CHECK(!name.empty() && !is_wsp(name.back()) && name.find(':') == std::string::npos, name);
  for (char c : name) PB_FUZZ_CHECK(c > 32 && c < 127, name);

  check_address_list(value);
  if (auto a = mail::received_for(value)) check_address(*a);

  std::string decoded = mail::decode_rfc2047(value);
  if (fuzz::valid_utf8(value)) PB_FUZZ_CHECK(fuzz::valid_utf8(decoded), decoded);
  // Encoded words never bring control bytes with them ("=?UTF-8?Q?=0D=0A?=" is for display).
  if (!fuzz::has_control(value)) PB_FUZZ_CHECK(!fuzz::has_control(decoded), decoded);
}

void check_routing(const mail::HeaderCollector& h) {
  const auto& md = multidrop();
  static const routing::LoopMarker marker(routing::LoopMarker::Key{7});
  routing::MultidropDecision d = routing::route_multidrop(md, h.fields(), "gw.firma.local", &marker, h.truncated());
  PB_FUZZ_CHECK(!d.recipients.empty(), d.summary());
  for (std::size_t i = 0; i < d.recipients.size(); ++i) {
    const std::string& r = d.recipients[i].address;
    // Every recipient is a valid RCPT TO for the office server, in the local domain, once.
    auto a = mail::Address::parse(r);
    PB_FUZZ_CHECK(a && a->domain() == "firma.local", r);
    for (std::size_t k = 0; k < i; ++k) PB_FUZZ_CHECK(!text::iequals(d.recipients[k].address, r), r);
  }
  PB_FUZZ_CHECK((d.source.empty()) == (d.recipients.size() == 1 && d.recipients[0].address == md.default_recipient) ||
                    !d.source.empty(),
                d.summary());
  // The decision is logged as one line and shown on the page.
  PB_FUZZ_CHECK(!fuzz::has_control(d.summary()), d.summary());
  PB_FUZZ_CHECK(d.notes.size() <= 21 + (h.truncated() ? 1 : 0), d.summary());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = fuzz::view(data, size);
  mail::HeaderCollector h;
  mail::HeaderCollector small(256);  // the bound, with inputs of fuzzer size
  for (const fuzz::Line& l : fuzz::lines(in)) {
    h.feed_line(l.text);
    small.feed_line(l.text);
  }
  PB_FUZZ_CHECK(!small.truncated() || small.done(), in);
  PB_FUZZ_CHECK(small.fields().size() <= h.fields().size(), in);
  std::size_t bytes = 0;
  for (const auto& [name, value] : small.fields()) bytes += name.size() + value.size();
  PB_FUZZ_CHECK(bytes <= 256, in);

  for (const auto& [name, value] : h.fields()) {
    check_field(name, value);
    // get() finds the first field of a name, trimmed.
    auto got = h.get(name);
    PB_FUZZ_CHECK(got.has_value(), name);
    PB_FUZZ_CHECK(h.get_all(name).front() == *got, name);
  }
  check_routing(h);
  (void)mail::is_bounce(h, "");
  (void)mail::is_bounce(h, "sender@example.org");
  return 0;
}
