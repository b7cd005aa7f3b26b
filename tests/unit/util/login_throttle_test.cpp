// LoginThrottle: free failures, doubling waits up to the lockout, one address never slowing
// another, forgetting quiet addresses, bounded memory, and the keys clients are counted under.
#include "util/login_throttle.hpp"

#include <catch2/catch.hpp>

using namespace pb::login;
using namespace std::chrono_literals;
using Clock = LoginThrottle::Clock;

namespace {
const Clock::time_point t0{std::chrono::hours(1000)};
}

TEST_CASE("login throttle: five wrong passwords are free, then the waits double to the lockout", "[throttle]") {
  LoginThrottle t;
  auto now = t0;
  for (int i = 1; i <= 4; ++i) {
    REQUIRE_FALSE(t.wait("192.0.2.7", now));
    auto f = t.failed("192.0.2.7", "relay", now);
    CHECK(f.failures == i);
    CHECK_FALSE(f.started_waiting);
    CHECK(f.wait == Clock::duration{});
    now += 1s;
  }
  auto fifth = t.failed("192.0.2.7", "relay", now);
  CHECK(fifth.started_waiting);
  CHECK(fifth.wait == 2s);
  REQUIRE(t.wait("192.0.2.7", now));
  CHECK(*t.wait("192.0.2.7", now + 1s) == 1s);
  CHECK_FALSE(t.wait("192.0.2.7", now + 2s));

  std::vector<Clock::duration> waits;
  for (int i = 0; i < 12; ++i) {
    now += 20min;  // after each wait (and never long enough to be forgotten)
    auto f = t.failed("192.0.2.7", "relay", now);
    CHECK_FALSE(f.started_waiting);  // logged once per episode
    waits.push_back(f.wait);
  }
  CHECK(waits[0] == 4s);
  CHECK(waits[1] == 8s);
  CHECK(waits[8] == 900s);
  CHECK(waits[11] == 900s);  // the lockout is the cap
}

TEST_CASE("login throttle: another address and a right password are unaffected", "[throttle]") {
  LoginThrottle t;
  for (int i = 0; i < 8; ++i) t.failed("198.51.100.1", "status page", t0);
  CHECK(t.wait("198.51.100.1", t0));
  CHECK_FALSE(t.wait("198.51.100.2", t0));  // the admin at another desk logs in at once
  t.succeeded("198.51.100.2");
  CHECK(t.wait("198.51.100.1", t0));
  t.succeeded("198.51.100.1");
  CHECK_FALSE(t.wait("198.51.100.1", t0));
}

TEST_CASE("login throttle: failures spread wider than the window never start the waits", "[throttle]") {
  LoginThrottle t;
  auto now = t0;
  for (int i = 0; i < 50; ++i) {
    auto f = t.failed("192.0.2.9", "relay", now);  // a scanner with a stale password, every 3 minutes
    CHECK(f.failures <= 4);
    now += 3min;
  }
  CHECK_FALSE(t.wait("192.0.2.9", now));
}

TEST_CASE("login throttle: an address quiet for an hour starts afresh", "[throttle]") {
  LoginThrottle t;
  for (int i = 0; i < 10; ++i) t.failed("192.0.2.10", "relay", t0);
  auto later = t0 + 61min;
  CHECK_FALSE(t.wait("192.0.2.10", later));
  auto f = t.failed("192.0.2.10", "relay", later);
  CHECK(f.failures == 1);
}

TEST_CASE("login throttle: doors are listed once each, most recent address first", "[throttle]") {
  LoginThrottle t;
  t.failed("192.0.2.1", "relay", t0);
  t.failed("192.0.2.1", "status page", t0 + 1s);
  t.failed("192.0.2.1", "relay", t0 + 2s);
  t.failed("192.0.2.2", "status page", t0 + 3s);
  auto e = t.entries(t0 + 4s);
  REQUIRE(e.size() == 2);
  CHECK(e[0].address == "192.0.2.2");
  CHECK(e[1].address == "192.0.2.1");
  CHECK(e[1].doors == "relay, status page");
  CHECK(e[1].failures == 3);
}

TEST_CASE("login throttle: memory is bounded, the quietest address goes first", "[throttle]") {
  ThrottlePolicy p;
  p.capacity = 3;
  LoginThrottle t(p);
  for (int i = 0; i < 6; ++i) t.failed("10.0.0.9", "relay", t0 + std::chrono::seconds(i));  // waiting
  t.failed("10.0.0.1", "relay", t0 + 10s);
  t.failed("10.0.0.2", "relay", t0 + 11s);
  t.failed("10.0.0.3", "relay", t0 + 12s);  // evicts the quietest: 10.0.0.9 (last failed at t0+5s)
  CHECK(t.entries(t0 + 13s).size() == 3);
  CHECK_FALSE(t.wait("10.0.0.9", t0 + 13s));
}

TEST_CASE("login throttle: keys count IPv4-mapped as IPv4 and an IPv6 /64 as one client", "[throttle]") {
  CHECK(throttle_key("192.0.2.5") == "192.0.2.5");
  CHECK(throttle_key("::ffff:192.0.2.5") == "192.0.2.5");
  CHECK(throttle_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64");
  CHECK(throttle_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64");
  CHECK(throttle_key("::1") == "::1");
  CHECK(throttle_key("?") == "?");

  LoginThrottle t;
  for (int i = 0; i < 5; ++i) t.failed("2001:db8:1:2::" + std::to_string(i + 1), "relay", t0);
  CHECK(t.wait("2001:db8:1:2::77", t0));      // rotating within the /64 does not help
  CHECK_FALSE(t.wait("2001:db8:1:3::1", t0));  // the neighbouring /64 is someone else
  for (int i = 0; i < 5; ++i) t.failed("::ffff:203.0.113.4", "relay", t0);
  CHECK(t.wait("203.0.113.4", t0));
}
