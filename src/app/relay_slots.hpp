// The relay's connection slots: at most [relay] max_connections sessions at once, and at most
// max_connections_per_address of them from one client address, so one client cannot hold them
// all. Clients in allow_networks are not held to the per-address cap: the office server opens
// several sessions in parallel, and Postfix likewise exempts $mynetworks from its
// smtpd_client_connection_count_limit. Pure bookkeeping (no Asio); slots free themselves.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "config/config.hpp"

namespace pb::app {

class RelaySlots {
  struct Counts {
    int total = 0;
    std::unordered_map<std::string, int> by_address;
  };

 public:
  // A held slot; given back when destroyed (also when a session's coroutine is destroyed
  // unfinished after the RelaySlots: the counts are shared).
  class Slot {
   public:
    Slot(std::shared_ptr<Counts> counts, std::string address);
    Slot(Slot&&) noexcept = default;
    Slot& operator=(Slot&&) = delete;  // would drop the slot it held without giving it back
    ~Slot();

   private:
    std::shared_ptr<Counts> counts_;
    std::string address_;
  };

  enum class Refusal {
    full,          // max_connections reached
    address_full,  // max_connections_per_address reached for this client address
  };

  // A slot for a client at `address` (as the socket reports it; "::ffff:a.b.c.d" counts as
  // "a.b.c.d") under the limits of `relay`, or why there is none.
  std::variant<Slot, Refusal> take(const config::Relay& relay, std::string_view address);

  int total() const { return counts_->total; }
  int from(std::string_view address) const;

 private:
  std::shared_ptr<Counts> counts_ = std::make_shared<Counts>();
};

}  // namespace pb::app
