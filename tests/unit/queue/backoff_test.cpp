// Backoff tests: doubling from `first`, the cap, jitter bounds, and the 1-second floor, checked
// with a fixed "random" value so every answer is exact.
#include "queue/backoff.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using pb::queue::backoff_delay;
using pb::queue::BackoffPolicy;

TEST_CASE("backoff doubles up to the cap without jitter", "[backoff]") {
  const BackoffPolicy p{1s, 60s, 0.0};
  const long expected[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
  for (int i = 0; i < 9; ++i) CHECK(backoff_delay(p, i + 1, 0.5).count() == expected[i]);
  CHECK(backoff_delay(p, 1000, 0.5) == 60s);    // no overflow for absurd counts
  CHECK(backoff_delay(p, 0, 0.5) == 1s);        // "no failure yet" behaves like the first
  CHECK(backoff_delay(p, -5, 0.5) == 1s);
}

TEST_CASE("local delivery policy: 1 min doubling to 1 h", "[backoff]") {
  const auto& p = pb::queue::kLocalDelivery;
  CHECK(backoff_delay(p, 1, 0.5) == 60s);  // u = 0.5 is the unjittered midpoint
  CHECK(backoff_delay(p, 2, 0.5) == 120s);
  CHECK(backoff_delay(p, 3, 0.5) == 240s);
  CHECK(backoff_delay(p, 7, 0.5) == 3600s);  // 60 * 64 = 3840 -> capped
  CHECK(backoff_delay(p, 30, 0.5) == 3600s);
}

TEST_CASE("jitter stays within +/- the fraction", "[backoff]") {
  const BackoffPolicy p{60s, 3600s, 0.2};
  for (int failures = 1; failures <= 12; ++failures) {
    const double base = std::min(60.0 * (1 << (failures - 1)), 3600.0);
    for (double u : {0.0, 0.1, 0.25, 0.5, 0.75, 0.999999}) {
      const auto d = static_cast<double>(backoff_delay(p, failures, u).count());
      CHECK(d >= std::floor(base * 0.8));
      CHECK(d < base * 1.2);
      CHECK(d <= 3600 * 1.2);
    }
  }
  CHECK(backoff_delay(p, 1, 0.0) == 48s);   // lower edge: 60 * 0.8
  CHECK(backoff_delay(p, 20, 0.999999) < 4320s);
  CHECK(backoff_delay(p, 20, 5.0) <= 4320s);  // out-of-range random input is clamped
  CHECK(backoff_delay(p, 20, -1.0) == 2880s);
}

TEST_CASE("backoff is never below one second", "[backoff]") {
  CHECK(backoff_delay(BackoffPolicy{1s, 10s, 0.9}, 1, 0.0) == 1s);  // 0.1 s -> 1 s
  CHECK(backoff_delay(BackoffPolicy{0s, 0s, 0.0}, 1, 0.0) == 1s);
  CHECK(backoff_delay(BackoffPolicy{-5s, 10s, 0.0}, 3, 0.0) == 4s);  // bad first treated as 1 s
}

// --- polls (recovery after network cuts) ----------------------------------------------------------

using pb::queue::next_poll_delay;
using pb::queue::PollEnd;

TEST_CASE("a completed poll waits the interval, jittered by 10%", "[backoff][poll]") {
  CHECK(next_poll_delay(PollEnd::ok, false, 0, 300s, 0.5) == 300s);
  CHECK(next_poll_delay(PollEnd::ok, false, 0, 300s, 0.0) == 270s);
  CHECK(next_poll_delay(PollEnd::retry_soon, false, 1, 300s, 0.5) == 300s);
  CHECK(next_poll_delay(PollEnd::ok, false, 0, 0s, 0.5) == 1s);  // never a busy loop
}

TEST_CASE("a lost connection retries after 30 s doubling, capped at max(interval, 15 min)", "[backoff][poll]") {
  const long five_minutes[] = {30, 60, 120, 240, 480, 900, 900, 900};
  for (int f = 1; f <= 8; ++f) CHECK(next_poll_delay(PollEnd::connection_lost, false, f, 300s, 0.5).count() == five_minutes[f - 1]);
  // An hourly account still retries after 30 s, and is capped at its own interval.
  CHECK(next_poll_delay(PollEnd::connection_lost, false, 1, 3600s, 0.5) == 30s);
  CHECK(next_poll_delay(PollEnd::connection_lost, false, 20, 3600s, 0.5) == 3600s);
  // The old 1 min doubling to 1 h stays for real errors (garbage, certificates), never below the interval.
  CHECK(next_poll_delay(PollEnd::error, false, 1, 300s, 0.5) == 300s);
  CHECK(next_poll_delay(PollEnd::error, false, 7, 300s, 0.5) == 3600s);
}

TEST_CASE("a session that made progress goes on in seconds and is not a failure", "[backoff][poll]") {
  CHECK(next_poll_delay(PollEnd::connection_lost, true, 5, 3600s, 0.5) == 5s);
  CHECK(next_poll_delay(PollEnd::error, true, 5, 300s, 0.5) == 5s);
  CHECK(next_poll_delay(PollEnd::connection_lost, true, 1, 300s, 0.0).count() >= 4);
  CHECK(next_poll_delay(PollEnd::connection_lost, true, 1, 300s, 0.999).count() <= 5);
}

TEST_CASE("a full disk is looked at again every 30 s, whatever the interval", "[backoff][poll]") {
  CHECK(next_poll_delay(PollEnd::disk_full, false, 9, 3600s, 0.5) == 30s);
  CHECK(next_poll_delay(PollEnd::disk_full, true, 1, 3600s, 0.5) == 30s);  // progress or not: no room
  CHECK(next_poll_delay(PollEnd::disk_full, false, 1, 10s, 0.5) == 10s);   // never later than a poll
}

TEST_CASE("a rejected login or LOGIN-DELAY never polls sooner than allowed", "[backoff][poll]") {
  CHECK(next_poll_delay(PollEnd::auth_failed, false, 1, 300s, 0.5) == 3600s);
  CHECK(next_poll_delay(PollEnd::auth_failed, false, 1, 7200s, 0.5) == 7200s);
  CHECK(next_poll_delay(PollEnd::login_delay, false, 1, 60s, 0.5) == 300s);
}

TEST_CASE("a message whose connection broke mid-transaction is retried at once, then backs off", "[backoff]") {
  using pb::queue::lost_in_transaction_delay;
  const BackoffPolicy smarthost{300s, 4 * 3600s, 0.0};
  CHECK(lost_in_transaction_delay(smarthost, 1, 0.5) == 0s);
  CHECK(lost_in_transaction_delay(smarthost, 2, 0.5) == 30s);
  CHECK(lost_in_transaction_delay(smarthost, 3, 0.5) == 60s);
  CHECK(lost_in_transaction_delay(smarthost, 20, 0.5) == 900s);  // kConnectionLost's cap
  // Never later than the route's own policy would retry it.
  CHECK(lost_in_transaction_delay(BackoffPolicy{10s, 20s, 0.0}, 3, 0.5) == 20s);
}
