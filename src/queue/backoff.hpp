// Retry policy as pure functions of (attempt number, random source): testable with a fake clock.
#pragma once
#include <chrono>
#include <cstdint>

namespace pb::queue {

struct BackoffPolicy {
  std::chrono::seconds first{60};
  std::chrono::seconds cap{3600};
  double jitter = 0.2;  // +/- fraction of the delay, so many messages do not retry in lockstep
};

// Delay before retry number `failures` (1 = after the first failure): first * 2^(failures-1),
// capped, then jittered by (unit_random in [0,1)) -> factor in [1-jitter, 1+jitter), never above
// cap*(1+jitter) and never below 1 s.
std::chrono::seconds backoff_delay(const BackoffPolicy& p, int failures, double unit_random);

// Inbound delivery to the office server: 1 min doubling to 1 h (issue 3, section 5).
inline constexpr BackoffPolicy kLocalDelivery{std::chrono::seconds(60), std::chrono::seconds(3600), 0.2};
// Failed polls: 1 min doubling to 1 h; rejected login: at most hourly.
inline constexpr BackoffPolicy kPollFailure{std::chrono::seconds(60), std::chrono::seconds(3600), 0.1};

}  // namespace pb::queue
