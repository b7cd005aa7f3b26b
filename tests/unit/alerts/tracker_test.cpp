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

TEST_CASE("alerts: a smarthost at its send limit waits 30 minutes, then is raised once and resolved once") {
  Policy p;
  p.settle = 600;
  std::vector<Open> open;
  // The deliverer sees the limit now at every look; the tracker keeps the first since.
  std::vector<Alert> sent;
  for (std::int64_t t = T; t <= T + 3600; t += 60) {
    Observation o{Condition::smarthost_limited, "smarthost gmx", t, "send limit reached", "raise max_per_hour"};
    auto s = step(open, {o}, p, t);
    open = s.open;
    sent.insert(sent.end(), s.alerts.begin(), s.alerts.end());
    if (t < T + 1800) CHECK(sent.empty());
  }
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].kind == AlertKind::raised);
  CHECK(sent[0].problem.since == T);
  auto after = run(open, {}, p, T + 3660, T + 7200);
  REQUIRE(after.size() == 1);
  CHECK(after[0].kind == AlertKind::resolved);
}

TEST_CASE("alerts: a failed reload, a sign-in and a certificate are raised at once, reminded, resolved once") {
  Policy p;
  p.remind_every = 3600;
  p.settle = 120;
  for (Condition c : {Condition::reload_failed, Condition::oauth_signin,
                      Condition::oauth_expiring, Condition::certificate}) {
    CHECK(p.grace(c) == 0);
    CHECK_FALSE(one_shot(c));
    std::vector<Open> open;
    Observation o{c, "state folder", T, "only 1 MB free", "free up space"};
    auto sent = run(open, {o}, p, T, T + 3600 + 59);
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].kind == AlertKind::raised);
    CHECK(sent[1].kind == AlertKind::reminder);
    auto gone = run(open, {}, p, T + 3660, T + 7200);
    REQUIRE(gone.size() == 1);
    CHECK(gone[0].kind == AlertKind::resolved);
    CHECK(open.empty());
  }
}

TEST_CASE("alerts: a storm of failing mailboxes is one step with one alert each, then silence") {
  std::vector<Observation> seen;
  for (int i = 0; i < 5; ++i)
    seen.push_back({Condition::mailbox_login, "account m" + std::to_string(i), T, "refused", "check the password"});
  std::vector<Open> open;
  auto first = step(open, seen, Policy{}, T);
  CHECK(first.alerts.size() == 5);  // the alerter sends these as ONE message
  open = first.open;
  CHECK(run(open, seen, Policy{}, T + 1, T + 3600, 1).empty());
}

TEST_CASE("alerts: problems a few seconds short of their grace join a message that goes out anyway") {
  Policy p;
  p.unreachable_after = 3600;
  p.coalesce = 120;
  std::vector<Open> open;
  Observation a{Condition::mailbox_unreachable, "account a", T, "no answer", "wait"};
  Observation b{Condition::mailbox_unreachable, "account b", T + 3, "no answer", "wait"};
  Observation c{Condition::mailbox_unreachable, "account c", T + 1000, "no answer", "wait"};
  CHECK(run(open, {a, b, c}, p, T + 3000, T + 3599).empty());
  auto s = step(open, {a, b, c}, p, T + 3600);
  REQUIRE(s.alerts.size() == 2);  // a at its grace, b 3 s short of it; c far from it
  CHECK(s.alerts[0].problem.object == "account a");
  CHECK(s.alerts[1].problem.object == "account b");
  open = s.open;
  CHECK(run(open, {a, b, c}, p, T + 3660, T + 4000).empty());
  // Alone, nothing is sent early: the grace counts.
  std::vector<Open> alone;
  CHECK(run(alone, {b}, p, T + 3000, T + 3602).empty());
}

TEST_CASE("alerts: problems gone nearly long enough resolve with a message that goes out anyway") {
  Policy p;
  p.settle = 600;
  p.coalesce = 120;
  std::vector<Open> open;
  Observation a = login(T);
  Observation b{Condition::mailbox_login, "account b", T, "refused", "check the password"};
  open = step(open, {a, b}, p, T).open;
  REQUIRE(open.size() == 2);
  open = step(open, {b}, p, T + 60).open;  // a gone first
  open = step(open, {}, p, T + 70).open;   // b gone 10 s later
  auto s = step(open, {}, p, T + 660);     // a settles; b is 10 s short and joins
  REQUIRE(s.alerts.size() == 2);
  CHECK(s.alerts[0].kind == AlertKind::resolved);
  CHECK(s.alerts[1].kind == AlertKind::resolved);
  CHECK(s.open.empty());
}

TEST_CASE("alerts: a low disk waits two minutes, so a big message in flight tells nothing") {
  Policy p;
  std::vector<Open> open;
  Observation blip{Condition::disk_low, "state folder", T, "only 1 MB free", "free up space"};
  CHECK(run(open, {blip}, p, T, T + 60, 10).empty());
  CHECK(run(open, {}, p, T + 70, T + 700).empty());  // gone before its grace: never told
  CHECK(open.empty());
  Observation full{Condition::disk_low, "state folder", T + 1000, "only 1 MB free", "free up space"};
  CHECK(run(open, {full}, p, T + 1000, T + 1110, 10).empty());
  auto sent = run(open, {full}, p, T + 1120, T + 1120);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].kind == AlertKind::raised);
}
