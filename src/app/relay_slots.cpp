// Counting the relay's sessions in all and per client address (see relay_slots.hpp).
#include "app/relay_slots.hpp"

#include <algorithm>

namespace pb::app {

namespace {

// One client, one key: a dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d (RFC 4291
// 2.5.5.2). IPv6 addresses are counted one by one, not per /64: an office network shares one.
std::string client_key(std::string_view address) {
  constexpr std::string_view kMapped = "::ffff:";
  if (address.starts_with(kMapped) && address.find('.') != std::string_view::npos)
    address.remove_prefix(kMapped.size());
  return std::string(address);
}

}  // namespace

RelaySlots::Slot::Slot(std::shared_ptr<Counts> counts, std::string address)
    : counts_(std::move(counts)), address_(std::move(address)) {
  ++counts_->total;
  ++counts_->by_address[address_];
}

RelaySlots::Slot::~Slot() {
  if (!counts_) return;  // moved from
  --counts_->total;
  auto it = counts_->by_address.find(address_);
  if (it != counts_->by_address.end() && --it->second <= 0) counts_->by_address.erase(it);
}

std::variant<RelaySlots::Slot, RelaySlots::Refusal> RelaySlots::take(const config::Relay& relay,
                                                                      std::string_view address) {
  if (counts_->total >= relay.max_connections) return Refusal::full;
  std::string key = client_key(address);
  const bool trusted = std::any_of(relay.allow_networks.begin(), relay.allow_networks.end(),
                                   [&](const inet::Cidr& c) { return c.contains(key); });
  if (!trusted && from(key) >= relay.max_connections_per_address) return Refusal::address_full;
  return Slot(counts_, std::move(key));
}

int RelaySlots::from(std::string_view address) const {
  auto it = counts_->by_address.find(client_key(address));
  return it == counts_->by_address.end() ? 0 : it->second;
}

}  // namespace pb::app
