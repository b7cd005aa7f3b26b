// Domain names compared the way DNS compares them: IDNA2008 A-labels (RFC 5890/5891 with UTS #46
// mapping), lower-case, so "Müller.DE", "müller.de" and "xn--mller-kva.de" are one domain.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "mail/address.hpp"

namespace pb::mail {

// The ASCII (A-label) form, lower-cased; address literals ("[192.0.2.1]") are returned as given.
// nullopt when the name is not a valid internationalised domain name (e.g. broken punycode).
std::optional<std::string> domain_to_ascii(std::string_view domain);

// For people: U-labels where the A-labels decode, else the input unchanged.
std::string domain_for_display(std::string_view domain);

// The form two addresses are compared and delivered in: ASCII letters of the local part
// lower-cased (RFC 5321 2.4 leaves case to the receiver; Exchange, Dovecot and Postfix ignore it),
// the domain as its A-label. nullopt when the domain is not a valid IDN.
std::optional<std::string> comparable_address(const Address& a);

}  // namespace pb::mail
