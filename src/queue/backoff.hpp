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

// Inbound delivery to the office server: 1 min doubling to 1 h.
inline constexpr BackoffPolicy kLocalDelivery{std::chrono::seconds(60), std::chrono::seconds(3600), 0.2};
// Failed polls: 1 min doubling to 1 h; rejected login: at most hourly.
inline constexpr BackoffPolicy kPollFailure{std::chrono::seconds(60), std::chrono::seconds(3600), 0.1};
// A lost connection (reset, timeout, refused, cut mid-TLS) is network weather, not a broken
// setup: 30 s doubling; the cap (15 min, or the poll interval if longer) keeps a dead provider
// from being asked more than a few times an hour. Used for polls and for routes.
inline constexpr BackoffPolicy kConnectionLost{std::chrono::seconds(30), std::chrono::seconds(900), 0.1};
// A session that stored or delivered something before its connection broke proved that the
// path works: it goes on after this pause (jittered), and does not count as a failure.
inline constexpr std::chrono::seconds kResumeAfterProgress{5};
// A full disk is checked again this often (a statvfs, no login): fetching resumes by itself.
inline constexpr std::chrono::seconds kDiskFullRecheck{30};
// An OAuth account or smarthost without a usable refresh token is checked again this often: a
// file read, no login, so a `postbridge oauth login` takes effect within a minute.
inline constexpr std::chrono::seconds kLoginRecheck{60};

// How a poll of a provider mailbox ended, as far as its next poll is concerned.
enum class PollEnd {
  ok,               // the session completed
  retry_soon,       // [IN-USE]: another client holds the mailbox; not our failure
  login_delay,      // [LOGIN-DELAY]: polled sooner than the provider allows
  auth_failed,      // the provider rejected the login
  login_needed,     // OAuth: no refresh token yet, or the provider refused it (postbridge oauth login)
  connection_lost,  // network trouble: refused, reset, cut, timed out
  disk_full,        // the state folder is (nearly) full: no login until space returns
  error,            // anything else (protocol garbage, TLS certificate, [SYS/TEMP]...)
};

// Delay before the next poll. `interval` is the account's poll interval (already raised to the
// provider's LOGIN-DELAY); `progress`: the ended session stored or deleted messages; `failures`:
// consecutive failed polls including this one (a session with progress is no failure: the
// caller resets the count).
std::chrono::seconds next_poll_delay(PollEnd end, bool progress, int failures, std::chrono::seconds interval,
                                     double unit_random);
// Retry of a message whose connection broke in the middle of its transaction (attempt: its
// number, 1 = first). The first retry is at once, on a new connection: the message is most
// likely innocent. Then kConnectionLost doubling, never longer than the route's own policy.
std::chrono::seconds lost_in_transaction_delay(const BackoffPolicy& route_policy, int attempt, double unit_random);

}  // namespace pb::queue
