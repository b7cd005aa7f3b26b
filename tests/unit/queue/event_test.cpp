// The event vocabulary: every word round-trips, unknown words stay readable, RouteId has one form.
#include <catch2/catch.hpp>

#include "queue/event.hpp"
#include "queue/route_id.hpp"

using namespace pb::queue;

TEST_CASE("event kinds and results round-trip through their stored words", "[event]") {
  for (auto k : kEventKinds) {
    CHECK_FALSE(to_string(k).empty());
    CHECK(parse_event_kind(to_string(k)) == k);
  }
  for (auto r : kEventResults) {
    CHECK_FALSE(to_string(r).empty());
    CHECK(parse_event_result(to_string(r)) == r);
  }
  CHECK(to_string(EventResult::auth_failed) == "auth-failed");  // the stored word has a hyphen
  CHECK_FALSE(parse_event_kind("auth_failed"));
  CHECK_FALSE(parse_event_result("auth_failed"));
}

TEST_CASE("an unknown stored word is kept as read", "[event]") {
  const auto k = KindWord::parse("archive");
  CHECK_FALSE(k.known());
  CHECK(k.str() == "archive");
  CHECK_FALSE(k == EventKind::fetch);
  const auto r = ResultWord::parse("ok");
  CHECK(r.known() == EventResult::ok);
  CHECK(r == EventResult::ok);
  CHECK(KindWord().str().empty());
}

TEST_CASE("event factories fill the fields their rows always had", "[event]") {
  NewMessage m;
  m.route = "smarthost:gmx";
  m.sender = "a@office.example";
  m.subject = "Angebot";
  m.size = 500;
  const auto fetched = Event::fetched("info", m, "b@office.example", EventResult::held, "loop");
  CHECK(fetched.kind == EventKind::fetch);
  CHECK(fetched.route == "local");
  CHECK(fetched.count == 1);
  CHECK(fetched.time == 0);  // the group commit stamps it
  CHECK(Event::received(m, "c@customer.example", "from 10.0.0.1").route == "smarthost:gmx");

  const auto paused = Event::route_paused(100, "smarthost:gmx", true, "535 no");
  CHECK(paused.kind == EventKind::error);
  CHECK(paused.result.str() == "auth-failed");
  CHECK(Event::route_paused(100, "local", false, "down").result == EventResult::paused);

  CHECK(Event::poll(100, "info", true, EventResult::interrupted, 10, 2, "").kind == EventKind::poll);
  CHECK(Event::poll(100, "info", false, EventResult::error, 0, 0, "refused").kind == EventKind::error);

  QueuedMessage q;
  q.id = 7;
  q.account = "info";
  q.sender = "s@x";
  const auto sent = Event::delivery(100, true, q, "smarthost:gmx", "b@x", true, EventResult::ok, "250 ok");
  CHECK(sent.kind == EventKind::send);
  CHECK(sent.count == 1);
  CHECK(sent.message_id == 7);
  CHECK(Event::delivery(100, false, q, "local", "b@x", false, EventResult::expired, "").kind == EventKind::deliver);
}

TEST_CASE("route ids: local and smarthost:NAME, parsed once", "[event][route]") {
  CHECK(RouteId::local().to_string() == "local");
  CHECK(RouteId::local().name() == "local");
  CHECK(RouteId::smarthost("gmx").to_string() == "smarthost:gmx");
  const auto id = RouteId::parse("smarthost:gmx");
  REQUIRE(id);
  CHECK_FALSE(id->is_local());
  CHECK(id->name() == "gmx");
  CHECK(RouteId::parse("local") == RouteId::local());
  CHECK_FALSE(RouteId::parse("smarthost:"));
  CHECK_FALSE(RouteId::parse("smtp:gmx"));
  CHECK_FALSE(RouteId::parse(""));
  CHECK(RouteId::parse("smarthost:a:b")->name() == "a:b");  // everything after the first colon
}
