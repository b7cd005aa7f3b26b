// Unit tests for the IDN conversions of mail/idn: A-labels and U-labels of one domain compare
// equal in any case, and names that are not valid IDNA2008 are refused rather than passed on.
#include "mail/idn.hpp"

#include <catch2/catch.hpp>

using namespace pb::mail;

TEST_CASE("idn: U-label, A-label and any case are one domain", "[idn]") {
  CHECK(domain_to_ascii("müller.de") == "xn--mller-kva.de");
  CHECK(domain_to_ascii("Müller.DE") == "xn--mller-kva.de");
  CHECK(domain_to_ascii("XN--MLLER-KVA.de") == "xn--mller-kva.de");
  CHECK(domain_to_ascii("Firma.DE") == "firma.de");
  CHECK(domain_to_ascii("[192.0.2.1]") == "[192.0.2.1]");
  CHECK(domain_for_display("xn--mller-kva.de") == "müller.de");
  CHECK(comparable_address(*Address::parse("Anna@Müller.de")) == "anna@xn--mller-kva.de");
}

// Found by tests/fuzz/headers_address (regressions/headers_address/idn-invalid-a-label):
// libidn2 accepted the A-label "xn--iraa", whose U-label (two U+02DB OGONEK) IDNA2008 disallows,
// so the name and its own display form converted to different A-labels.
TEST_CASE("idn: an A-label that does not round-trip is not a domain", "[idn]") {
  CHECK_FALSE(domain_to_ascii("xn--iraa.local").has_value());
  CHECK_FALSE(domain_to_ascii("XN--IRAA.local").has_value());
  CHECK_FALSE(comparable_address(*Address::parse("a@xn--iraa.local")).has_value());
  CHECK_FALSE(domain_to_ascii("xn--.de").has_value());  // broken punycode, refused before too
}
