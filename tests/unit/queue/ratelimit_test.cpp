// Sliding-window send limit tests with a fake clock: the hour and day windows alone and together,
// unlimited, load() from the store, clock steps back, and a brute-force comparison.
#include "queue/ratelimit.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

using pb::queue::SendWindow;

namespace {
constexpr std::int64_t kT0 = 1'780'000'000;  // some fixed "now"
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;
}  // namespace

TEST_CASE("ratelimit: the 4th message with per_hour = 3 waits until the first send + 1 h", "[ratelimit]") {
  SendWindow w(3, 0);
  std::int64_t now = kT0;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(w.next_allowed(now) == now);
    w.record(now);
    now += 600;  // one every 10 minutes
  }
  // now = T0 + 30 min: three sends in the last hour.
  CHECK(w.sent_last_hour(now) == 3);
  CHECK_FALSE(w.allowed(now));
  CHECK(w.next_allowed(now) == kT0 + kHour);
  CHECK(w.next_allowed(kT0 + kHour - 1) == kT0 + kHour);  // one second early: still waits
  CHECK(w.allowed(kT0 + kHour));
  CHECK(w.sent_last_hour(kT0 + kHour) == 2);  // the first send has left the window
  w.record(kT0 + kHour);
  // The 5th waits for the second send (T0 + 10 min) to leave the window.
  CHECK(w.next_allowed(kT0 + kHour) == kT0 + 600 + kHour);
}

TEST_CASE("ratelimit: day window", "[ratelimit]") {
  SendWindow w(0, 5);
  for (int i = 0; i < 5; ++i) w.record(kT0 + i * kHour);
  const std::int64_t now = kT0 + 5 * kHour;
  CHECK(w.sent_last_day(now) == 5);
  CHECK(w.sent_last_hour(now) == 0);  // the last send was exactly one hour ago: out of the window
  CHECK(w.next_allowed(now) == kT0 + kDay);
  CHECK(w.next_allowed(kT0 + kDay) == kT0 + kDay);
  CHECK(w.sent_last_day(kT0 + kDay) == 4);
}

TEST_CASE("ratelimit: both limits, the later one wins", "[ratelimit]") {
  SendWindow w(2, 3);
  w.record(kT0);
  w.record(kT0 + 10);
  // Hour limit reached: wait for T0 + 1 h.
  CHECK(w.next_allowed(kT0 + 20) == kT0 + kHour);
  w.record(kT0 + kHour);
  // The first send left the hour window, so the hour allows one more; the day has 3: wait 24 h.
  CHECK(w.sent_last_hour(kT0 + kHour) == 2);
  CHECK(w.sent_last_day(kT0 + kHour) == 3);
  CHECK(w.next_allowed(kT0 + kHour) == kT0 + kDay);
  CHECK(w.next_allowed(kT0 + kDay) == kT0 + kDay);
}

TEST_CASE("ratelimit: unlimited never waits and keeps nothing", "[ratelimit]") {
  SendWindow w(0, 0);
  for (int i = 0; i < 10'000; ++i) w.record(kT0 + i);
  CHECK(w.next_allowed(kT0 + 10'000) == kT0 + 10'000);
  CHECK(w.sent_last_hour(kT0 + 10'000) == 0);  // documented: nothing is kept without a limit
}

TEST_CASE("ratelimit: negative limits are refused", "[ratelimit]") {
  CHECK_THROWS_AS(SendWindow(-1, 0), std::invalid_argument);
  CHECK_THROWS_AS(SendWindow(0, -5), std::invalid_argument);
}

TEST_CASE("ratelimit: load() restores the window from the store", "[ratelimit]") {
  SendWindow w(3, 10);
  // Unsorted, with entries older than 24 h and more than the capacity.
  std::vector<std::int64_t> past;
  for (int i = 0; i < 30; ++i) past.push_back(kT0 - 2 * kDay + i * 600);
  past.push_back(kT0 - 100);
  past.push_back(kT0 - 300);
  past.push_back(kT0 - 200);
  w.load(past);
  CHECK(w.sent_last_hour(kT0) == 3);
  CHECK(w.next_allowed(kT0) == kT0 - 300 + kHour);
  // load() replaces: an empty history allows sending at once.
  w.load({});
  CHECK(w.next_allowed(kT0) == kT0);
  CHECK(w.sent_last_day(kT0) == 0);
}

TEST_CASE("ratelimit: memory is bounded by the larger limit", "[ratelimit]") {
  SendWindow w(3, 0);
  for (int i = 0; i < 1000; ++i) w.record(kT0 + i);
  CHECK(w.sent_last_hour(kT0 + 1000) == 3);  // only three kept; enough to decide
  CHECK(w.next_allowed(kT0 + 1000) == kT0 + 997 + kHour);
}

TEST_CASE("ratelimit: out-of-order records and a clock set back", "[ratelimit]") {
  SendWindow w(2, 0);
  w.record(kT0 + 100);
  w.record(kT0);  // recorded late
  CHECK(w.next_allowed(kT0 + 200) == kT0 + kHour);
  // Clock set back by a day: the sends look like the future. We wait at most one window.
  SendWindow v(1, 0);
  v.record(kT0);
  CHECK(v.next_allowed(kT0 - kDay) == kT0 - kDay + kHour);
  CHECK(v.sent_last_hour(kT0 - kDay) == 1);
}

TEST_CASE("ratelimit: matches a brute-force count over the full history", "[ratelimit]") {
  std::mt19937 rng(42);
  for (auto [ph, pd] : {std::pair{3, 0}, {0, 7}, {4, 9}, {5, 5}, {10, 3}}) {
    SendWindow w(ph, pd);
    std::vector<std::int64_t> all;
    std::int64_t now = kT0;
    auto count = [&](std::int64_t t, std::int64_t window) {
      int n = 0;
      for (std::int64_t s : all) n += (s > t - window && s <= t) ? 1 : 0;
      return n;
    };
    auto ok_at = [&](std::int64_t t) {
      return (ph == 0 || count(t, kHour) < ph) && (pd == 0 || count(t, kDay) < pd);
    };
    for (int i = 0; i < 300; ++i) {
      now += std::uniform_int_distribution<std::int64_t>(0, 4 * kHour)(rng);
      std::int64_t next = w.next_allowed(now);
      INFO("limits " << ph << "/" << pd << " step " << i);
      REQUIRE(next >= now);
      REQUIRE(ok_at(next));
      if (next > now) REQUIRE_FALSE(ok_at(next - 1));  // the earliest such time
      now = next;
      w.record(now);
      all.push_back(now);
      if (ph > 0) REQUIRE(w.sent_last_hour(now) == count(now, kHour));
      if (pd > 0) REQUIRE(w.sent_last_day(now) == count(now, kDay));
    }
  }
}
