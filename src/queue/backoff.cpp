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

namespace {
std::chrono::seconds jittered(std::chrono::seconds s, double unit_random) {
  return backoff_delay(BackoffPolicy{s, s, 0.1}, 1, unit_random);  // +/-10%: accounts never in lockstep
}
}  // namespace

std::chrono::seconds next_poll_delay(PollEnd end, bool progress, int failures, std::chrono::seconds interval,
                                     double unit_random) {
  using std::chrono::seconds;
  interval = std::max(interval, seconds(1));
  switch (end) {
    case PollEnd::ok:
    case PollEnd::retry_soon: return jittered(interval, unit_random);
    case PollEnd::login_delay: return std::max<seconds>(interval, seconds(300));
    case PollEnd::auth_failed: return std::max<seconds>(interval, seconds(3600));  // never a lockout
    // Looked at again soon: until a new login stores a token, no one is asked (endpoint/oauth_tokens).
    case PollEnd::login_needed: return std::min(interval, jittered(kLoginRecheck, unit_random));
    case PollEnd::disk_full: return std::min(interval, jittered(kDiskFullRecheck, unit_random));
    case PollEnd::connection_lost:
    case PollEnd::error: break;
  }
  if (progress) return jittered(kResumeAfterProgress, unit_random);
  if (end == PollEnd::connection_lost) {
    BackoffPolicy p = kConnectionLost;
    p.cap = std::max(p.cap, interval);
    return backoff_delay(p, failures, unit_random);
  }
  return std::max(interval, backoff_delay(kPollFailure, failures, unit_random));
}

std::chrono::seconds lost_in_transaction_delay(const BackoffPolicy& route_policy, int attempt, double unit_random) {
  if (attempt <= 1) return std::chrono::seconds(0);
  return std::min(backoff_delay(kConnectionLost, attempt - 1, unit_random),
                  backoff_delay(route_policy, attempt, unit_random));
}

}  // namespace pb::queue
