// Retry delays: exponential from `first`, capped, jittered. A pure function (no clock, no global
// random source), so the scheduler and the tests get identical answers for identical inputs.
#include "queue/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace pb::queue {

std::chrono::seconds backoff_delay(const BackoffPolicy& p, int failures, double unit_random) {
  const double first = static_cast<double>(std::max<std::int64_t>(p.first.count(), 1));
  const double cap = static_cast<double>(std::max<std::int64_t>(p.cap.count(), 1));
  // Doubling past 2^62 cannot matter: any sane cap is reached long before; clamp to stay finite.
  const int doublings = std::clamp(failures - 1, 0, 62);
  const double base = std::min(first * std::ldexp(1.0, doublings), cap);

  const double jitter = std::clamp(p.jitter, 0.0, 1.0);
  // unit_random is promised in [0,1); clamp anyway so a bad source can never exceed the bounds.
  const double u = std::clamp(unit_random, 0.0, std::nextafter(1.0, 0.0));
  const double factor = 1.0 - jitter + 2.0 * jitter * u;  // in [1-jitter, 1+jitter)

  // floor keeps the result strictly below cap*(1+jitter); one second is the floor so that a
  // zero jitter factor or a zero policy never turns into a busy retry loop.
  const auto secs = static_cast<std::int64_t>(std::floor(base * factor));
  return std::chrono::seconds(std::max<std::int64_t>(secs, 1));
}

}  // namespace pb::queue
