// Mail addresses parsed once at the edge (RFC 5321 4.1.2 Mailbox): local part and domain kept
// separately; invalid input never becomes an Address.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pb::mail {

class Address {
 public:
  // Accepts "user@example.net", "\"quoted local\"@example.net", "user@[127.0.0.1]",
  // and UTF-8 local parts/domains (RFC 6531). No angle brackets, no display names.
  static std::optional<Address> parse(std::string_view text);
  const std::string& local() const { return local_; }
  const std::string& domain() const { return domain_; }
  std::string str() const { return local_ + "@" + domain_; }
  bool is_ascii() const;  // false -> needs SMTPUTF8
  friend bool operator==(const Address&, const Address&) = default;

 private:
  std::string local_, domain_;
};

}  // namespace pb::mail
