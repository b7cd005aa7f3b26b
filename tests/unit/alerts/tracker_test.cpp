// The alert rules of alerts::step (src/alerts/tracker.cpp), driven by a fake clock.
// Promises: raised once after the grace, reminded every remind_every, resolved once after settling.
#include "alerts/tracker.hpp"

#include <catch2/catch.hpp>

using namespace pb::alerts;

namespace {

// The fake clock starts at a real date: 0 means "not yet" in Open (raised_at, absent_since).
constexpr std::int64_t T = 1'764'000'000;

Observation login(std::int64_t since) {
  return {Condition::mailbox_login, "account info", since, "the provider refuses the login", "check the password"};
}

// Runs the tracker from t0 to t1 (inclusive) once per `every` seconds with the same observations
// and returns every alert sent.
std::vector<Alert> run(std::vector<Open>& open, const std::vector<Observation>& seen, const Policy& p,
                       std::int64_t t0, std::int64_t t1, std::int64_t every = 60) {
  std::vector<Alert> sent;
  for (std::int64_t t = t0; t <= t1; t += every) {
    auto s = step(open, seen, p, t);
    open = s.open;
    sent.insert(sent.end(), s.alerts.begin(), s.alerts.end());
  }
  return sent;
}

}  // namespace

TEST_CASE("alerts: condition words round-trip and unknown words are refused") {
  for (Condition c : kConditions) CHECK(parse_condition(to_string(c)) == c);
  CHECK_FALSE(parse_condition("mailbox"));
  CHECK(one_shot(Condition::unclean_restart));
  CHECK_FALSE(one_shot(Condition::mailbox_login));
}

TEST_CASE("alerts: a refused login is raised at once and only once") {
  std::vector<Open> open;
  auto sent = run(open, {login(T)}, Policy{}, T, T + 3600);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].kind == AlertKind::raised);
  CHECK(sent[0].problem.object == "account info");
  CHECK(sent[0].problem.raised_at == T);
  REQUIRE(open.size() == 1);
}

TEST_CASE("alerts: an unreachable mailbox waits for its grace counted from since") {
  Policy p;
  p.unreachable_after = 3600;
  std::vector<Open> open;
  Observation o{Condition::mailbox_unreachable, "account info", T, "no answer", "check the network"};
  CHECK(run(open, {o}, p, T, T + 3599).empty());
  auto sent = run(open, {o}, p, T + 3600, T + 3600);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].kind == AlertKind::raised);
}

TEST_CASE("alerts: the grace of paused smarthosts and long queues") {
  Policy p;
  CHECK(p.grace(Condition::smarthost_paused) == 1800);
  CHECK(p.grace(Condition::queued_long) == 3600);
  CHECK(p.grace(Condition::unclean_restart) == 0);
  std::vector<Open> open;
  Observation paused{Condition::smarthost_paused, "smarthost gmx", T, "paused", "fix it"};
  CHECK(step(open, {paused}, p, T + 1799).alerts.empty());
  CHECK(step(open, {paused}, p, T + 1800).alerts.size() == 1);
}

TEST_CASE("alerts: a lasting problem is reminded every remind_every") {
  Policy p;
  p.remind_every = 86400;
  std::vector<Open> open;
  auto sent = run(open, {login(T)}, p, T, T + 2 * 86400 + 60);
  REQUIRE(sent.size() == 3);
  CHECK(sent[0].kind == AlertKind::raised);
  CHECK(sent[1].kind == AlertKind::reminder);
  CHECK(sent[1].problem.last_sent == T + 86400);
  CHECK(sent[2].kind == AlertKind::reminder);
}

TEST_CASE("alerts: resolved once, after the problem stayed away for the settle time") {
  Policy p;
  p.settle = 600;
  std::vector<Open> open;
  run(open, {login(T)}, p, T, T);
  CHECK(run(open, {}, p, T + 60, T + 60 + 540).empty());
  auto sent = run(open, {}, p, T + 660, T + 660 + 3600);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].kind == AlertKind::resolved);
  CHECK(sent[0].problem.absent_since == T + 60);
  CHECK(open.empty());
}

TEST_CASE("alerts: a flapping login sends no resolve and no second raise") {
  Policy p;
  p.settle = 600;
  std::vector<Open> open;
  std::vector<Alert> sent;
  for (std::int64_t t = T; t < T + 7200; t += 60) {
    bool seen = ((t - T) / 60) % 2 == 0;  // refused on every other poll
    auto s = step(open, seen ? std::vector<Observation>{login(t)} : std::vector<Observation>{}, p, t);
    open = s.open;
    sent.insert(sent.end(), s.alerts.begin(), s.alerts.end());
  }
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].kind == AlertKind::raised);
}

TEST_CASE("alerts: a problem gone before it was told is dropped silently") {
  Policy p;
  std::vector<Open> open;
  Observation o{Condition::mailbox_unreachable, "account info", T, "no answer", "wait"};
  run(open, {o}, p, T, T + 600);
  REQUIRE(open.size() == 1);
  CHECK(run(open, {}, p, T + 660, T + 660 + 7200).empty());
  CHECK(open.empty());
}

TEST_CASE("alerts: an unclean restart is told once and forgotten") {
  std::vector<Open> open;
  Observation o{Condition::unclean_restart, "postbridge", T, "stopped uncleanly", "look at the log"};
  auto s = step(open, {o}, Policy{}, T);
  REQUIRE(s.alerts.size() == 1);
  CHECK(s.alerts[0].kind == AlertKind::raised);
  CHECK(s.open.empty());
  CHECK(step(s.open, {}, Policy{}, T + 5000).alerts.empty());
}

TEST_CASE("alerts: new words update the open problem without a new alert") {
  std::vector<Open> open;
  run(open, {login(T)}, Policy{}, T, T);
  Observation newer = login(T);
  newer.words = "the provider says: account locked";
  auto s = step(open, {newer}, Policy{}, T + 60);
  CHECK(s.alerts.empty());
  REQUIRE(s.open.size() == 1);
  CHECK(s.open[0].words == "the provider says: account locked");
}

TEST_CASE("alerts: many problems in one step come out together") {
  std::vector<Observation> seen;
  for (int i = 0; i < 300; ++i)
    seen.push_back({Condition::mailbox_login, "account a" + std::to_string(i), T, "refused", "fix"});
  auto s = step({}, seen, Policy{}, T);
  CHECK(s.alerts.size() == 300);
  CHECK(step(s.open, seen, Policy{}, T + 60).alerts.empty());
}
