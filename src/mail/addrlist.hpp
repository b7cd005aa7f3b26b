// Addresses as they really appear in header fields (RFC 5322 3.4, obsolete forms of 4.4, RFC 2047
// encoded words, RFC 6532 UTF-8): display names, comments, quoted local parts, groups, route
// addresses. Promise: never throws; what cannot be read is reported in words and skipped.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/address.hpp"

namespace pb::mail {

struct Mailbox {
  Address address;
  std::string display;  // decoded display name (or the comment after a bare address); may be empty
  std::string group;    // decoded name of the group it was listed in; empty outside a group
};

struct AddressList {
  std::vector<Mailbox> mailboxes;      // in the order written, repeats included
  std::vector<std::string> problems;   // e.g. "'Müller' is not an address (no @domain)"
};

// One field body (To, Cc, Delivered-To, Envelope-To ...), unfolded or not. Beyond max_mailboxes
// the rest is reported as one problem and ignored (a header bomb cannot cost unbounded work).
AddressList parse_address_list(std::string_view value, std::size_t max_mailboxes = 1000);

// RFC 5321 4.4: the one recipient named by the "for" clause of a Received: field body, if any.
std::optional<Address> received_for(std::string_view value);

}  // namespace pb::mail
