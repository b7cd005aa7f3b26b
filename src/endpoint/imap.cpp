// An account's [[account]] settings turned into IMAP session options, in one place, so the
// doctor tests exactly what the fetcher will do.
#include "endpoint/imap.hpp"

#include <charconv>
#include <optional>

namespace pb::endpoint {

imap::ClientOptions imap_options(const config::Account& a) {
  imap::ClientOptions o;
  o.security = a.tls == config::TlsMode::implicit   ? imap::Security::implicit
               : a.tls == config::TlsMode::starttls ? imap::Security::starttls
                                                    : imap::Security::none;
  o.auth = a.auth == config::Pop3Auth::sasl_plain ? imap::AuthMethod::sasl_plain : imap::AuthMethod::automatic;
  o.username = a.username;
  o.password = a.password.value;
  if (a.oauth2) o.oauth_mechanism = config::oauth_mechanism(a.auth);
  o.allow_plaintext = a.allow_plaintext;
  o.timeout = a.timeout;
  return o;
}

namespace {
// "imap:<uidvalidity>:<uid>:<folder>": the folder last, as it may contain ':' itself.
struct Parts {
  std::uint32_t uidvalidity = 0, uid = 0;
  std::string_view folder;
};

std::optional<Parts> parse(std::string_view key) {
  constexpr std::string_view kPrefix = "imap:";
  if (!key.starts_with(kPrefix)) return std::nullopt;
  key.remove_prefix(kPrefix.size());
  Parts p;
  for (std::uint32_t* n : {&p.uidvalidity, &p.uid}) {
    auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), *n);
    if (ec != std::errc() || end == key.data() + key.size() || *end != ':') return std::nullopt;
    key.remove_prefix(static_cast<std::size_t>(end - key.data()) + 1);
  }
  p.folder = key;
  return p;
}
}  // namespace

std::string ImapKeys::key(std::uint32_t uid) const {
  return "imap:" + std::to_string(uidvalidity_) + ":" + std::to_string(uid) + ":" + folder_;
}

bool ImapKeys::in_folder(std::string_view key) const {
  auto p = parse(key);
  return p && p->folder == folder_;
}

bool ImapKeys::renumbered(std::string_view key) const {
  auto p = parse(key);
  return p && p->folder == folder_ && p->uidvalidity != uidvalidity_;
}

std::uint32_t ImapKeys::uid_of(std::string_view key) const {
  auto p = parse(key);
  return p && p->folder == folder_ && p->uidvalidity == uidvalidity_ ? p->uid : 0;
}

}  // namespace pb::endpoint
