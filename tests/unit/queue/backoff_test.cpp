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
