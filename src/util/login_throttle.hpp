// Failed logins per client address, for the relay's AUTH and the status page alike: after a few
// wrong passwords an address must wait, doubling up to a lockout, before its next password is
// even checked. Promises: bounded memory; one address never slows another; pure (no Asio, no
// clock of its own), so tests drive it with made-up times. Not thread-safe: the service calls it
// from its one executor.
#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pb::login {

struct ThrottlePolicy {
  int free_failures = 5;                        // wrong passwords within `window` before waits begin
  std::chrono::seconds window{600};             // ... counted within this time
  std::chrono::seconds first_wait{2};           // the wait after the free failures, doubling per failure
  std::chrono::seconds lockout{900};            // the longest wait
  std::chrono::seconds forget_after{3600};      // an address quiet this long starts afresh
  std::size_t capacity = 4096;                  // addresses remembered; the quietest is dropped first
};

// The key a client is counted under: an IPv4 address (also when a dual-stack socket shows it as
// ::ffff:a.b.c.d), or the /64 of an IPv6 address — one machine usually has a whole /64 to rotate
// through. Anything else is used as given.
std::string throttle_key(std::string_view address);

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LoginThrottle(ThrottlePolicy policy = {}) : policy_(policy) {}

  // Before a password from `address` is checked: nullopt = check it; else the time until the
  // next attempt will be (the attempt is refused unchecked, so it costs no hashing and no guess).
  std::optional<Clock::duration> wait(std::string_view address, Clock::time_point now) const;

  struct Failure {
    bool started_waiting = false;   // this failure began the waits: log it once, with the address
    int failures = 0;               // counted in this episode
    Clock::duration wait{};         // until the next attempt is checked (0 while still free)
  };
  // A wrong password from `address` at `door` ("relay", "status page").
  Failure failed(std::string_view address, std::string_view door, Clock::time_point now);
  // A right password: the address starts afresh. Other addresses are untouched.
  void succeeded(std::string_view address);

  // What the status page shows: addresses that failed, most recent first.
  struct Entry {
    std::string address;            // the key (an IPv4 address or an IPv6 /64)
    std::string doors;              // "relay", "status page" or "relay, status page"
    int failures = 0;
    Clock::duration waiting{};      // 0 = may try now
    Clock::duration since_last{};   // since the last failure
  };
  std::vector<Entry> entries(Clock::time_point now) const;

 private:
  struct State {
    int failures = 0;
    Clock::time_point first{}, last{}, until{};
    std::string doors;
  };
  void make_room(Clock::time_point now);

  ThrottlePolicy policy_;
  std::unordered_map<std::string, State> states_;
};

}  // namespace pb::login
