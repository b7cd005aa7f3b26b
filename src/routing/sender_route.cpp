// Sender -> smarthost selection: three passes over the (short) smarthost list, most specific
// first; patterns were lower-cased by the configuration, the sender is lower-cased here.
#include "routing/sender_route.hpp"

#include <algorithm>

#include "util/text.hpp"

namespace pb::routing {
namespace {

using config::SenderPattern;
using config::Smarthost;

template <class Match>
const Smarthost* first_with(const std::vector<Smarthost>& hosts, Match match) {
  for (const Smarthost& h : hosts) {
    if (std::any_of(h.senders.begin(), h.senders.end(), match)) return &h;
  }
  return nullptr;
}

const Smarthost* default_of(const std::vector<Smarthost>& hosts) {
  auto it =
      std::find_if(hosts.begin(), hosts.end(), [](const Smarthost& h) { return h.is_default; });
  return it == hosts.end() ? nullptr : &*it;
}

}  // namespace

bool sender_allowed(const std::vector<SenderPattern>& senders, std::string_view sender) {
  if (senders.empty() || sender.empty()) return true;
  std::size_t at = sender.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string local = text::to_lower(sender.substr(0, at)), domain = text::to_lower(sender.substr(at + 1));
  return std::any_of(senders.begin(), senders.end(), [&](const SenderPattern& p) {
    return p.domain == domain && (p.any_local() || p.local == local);
  });
}

std::optional<std::string> route_for_sender(const std::vector<config::Smarthost>& smarthosts,
                                            std::string_view sender) {
  // The last '@' separates the domain: a quoted local part may itself contain '@'
  // (RFC 5321 4.1.2).
  std::size_t at = sender.rfind('@');
  const Smarthost* found = nullptr;
  if (at != std::string_view::npos) {
    std::string local = text::to_lower(sender.substr(0, at));
    std::string domain = text::to_lower(sender.substr(at + 1));
    found = first_with(smarthosts, [&](const SenderPattern& p) {
      return !p.any_local() && p.local == local && p.domain == domain;
    });
    if (!found) {
      found = first_with(
          smarthosts, [&](const SenderPattern& p) { return p.any_local() && p.domain == domain; });
    }
  }
  if (!found) found = default_of(smarthosts);
  if (!found) return std::nullopt;
  return found->name;
}

}  // namespace pb::routing
