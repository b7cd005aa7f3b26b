// How to reach a provider's IMAP mailbox: the session options of an account with
// protocol = "imap", for the fetcher and the connection doctor alike.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "imap/client.hpp"

namespace pb::endpoint {

imap::ClientOptions imap_options(const config::Account& a);

// The ledger key of one IMAP message: the folder, its UIDVALIDITY and the UID, which together
// name one message for good (RFC 9051 2.3.1.1). Keys start with "imap:" so that no POP3 UIDL
// (printable ASCII without spaces, RFC 1939 7) can be mistaken for one.
class ImapKeys {
 public:
  ImapKeys(std::string folder, std::uint32_t uidvalidity) : folder_(std::move(folder)), uidvalidity_(uidvalidity) {}
  std::string key(std::uint32_t uid) const;
  // A key of this folder, under any UIDVALIDITY.
  bool in_folder(std::string_view key) const;
  // A key of this folder under another UIDVALIDITY (the folder was renumbered since).
  bool renumbered(std::string_view key) const;
  // The UID of a key of this folder and UIDVALIDITY; 0 for any other key.
  std::uint32_t uid_of(std::string_view key) const;

 private:
  std::string folder_;
  std::uint32_t uidvalidity_;
};

}  // namespace pb::endpoint
