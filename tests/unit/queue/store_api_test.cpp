// Tests of the read-only store queries behind the status page: filtered and paged event search,
// events after an id, grouped tallies (metrics, today, hourly chart) and the undelivered list.
#include "queue/store.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace pb::queue;
using pb::test::TempDir;

namespace {

constexpr UnixTime kNow = 1'764'000'000;  // a fixed fake clock, a multiple of 3600
constexpr UnixTime kHour = 3600;

Event event(UnixTime t, std::string kind, std::string account, std::string route, std::string result,
            std::string subject = "", std::uint64_t size = 0, int count = 1) {
  Event e;
  e.time = t;
  e.kind = KindWord::parse(kind);
  e.account = std::move(account);
  e.route = std::move(route);
  e.result = ResultWord::parse(result);
  e.subject = std::move(subject);
  e.size = size;
  e.count = count;
  e.sender = "sender@provider.example";
  e.recipients = "anna@office.example";
  return e;
}

NewMessage message(const std::string& name, const std::string& route) {
  NewMessage m;
  m.route = route;
  m.sender = "boss@office.example";
  m.recipients = {"client@customer.example"};
  m.spool_name = "spool-" + name + ".msg";
  m.size = 100;
  m.subject = "Subject " + name;
  return m;
}

std::vector<std::int64_t> ids(const std::vector<StoredEvent>& v) {
  std::vector<std::int64_t> out;
  for (const auto& e : v) out.push_back(e.id);
  return out;
}

// A log with every kind the service writes.
void fill_log(Store& s) {
  s.events().add(event(kNow - 2 * kHour, "fetch", "info", "local", "ok", "Rechnung März", 1000));   // 1
  s.events().add(event(kNow - 2 * kHour + 5, "deliver", "info", "local", "ok", "Rechnung März", 1000));  // 2
  s.events().add(event(kNow - kHour, "receive", "", "smarthost:gmx", "ok", "Angebot", 500));  // 3
  s.events().add(event(kNow - kHour + 1, "send", "", "smarthost:gmx", "deferred", "Angebot", 500, 0));  // 4
  s.events().add(event(kNow - 10, "poll", "info", "", "ok", "", 1000, 1));                   // 5
  s.events().add(event(kNow - 5, "error", "sales", "", "auth-failed", "", 0, 0));            // 6
  s.events().add(event(kNow - 1, "fetch", "sales", "local", "skipped", "Huge <img src=x>", 9'000'000, 0));  // 7
}

}  // namespace

TEST_CASE("find_events returns the newest first and pages with before_id", "[store][api]") {
  TempDir dir;
  Store s(dir.path());
  CHECK(s.events().last_id() == 0);
  fill_log(s);
  CHECK(s.events().last_id() == 7);

  EventFilter f;
  f.limit = 3;
  auto page1 = s.events().find(f);
  CHECK(ids(page1) == std::vector<std::int64_t>{7, 6, 5});
  f.before_id = page1.back().id;
  auto page2 = s.events().find(f);
  CHECK(ids(page2) == std::vector<std::int64_t>{4, 3, 2});
  f.before_id = page2.back().id;
  CHECK(ids(s.events().find(f)) == std::vector<std::int64_t>{1});

  // Every column survives the round trip.
  const auto& e = page1.front().event;
  CHECK(e.kind == EventKind::fetch);
  CHECK(e.account == "sales");
  CHECK(e.route == "local");
  CHECK(e.result == EventResult::skipped);
  CHECK(e.subject == "Huge <img src=x>");
  CHECK(e.size == 9'000'000);
  CHECK(e.count == 0);
  CHECK(e.time == kNow - 1);
  CHECK(e.message_id == 0);
  CHECK(e.sender == "sender@provider.example");
}

TEST_CASE("find_events filters by kind, problems, account, route and text", "[store][api]") {
  TempDir dir;
  Store s(dir.path());
  fill_log(s);

  EventFilter f;
  f.kinds = {EventKind::deliver, EventKind::send};
  CHECK(ids(s.events().find(f)) == std::vector<std::int64_t>{4, 2});
  f.kinds = {EventKind::fetch};
  CHECK(ids(s.events().find(f)) == std::vector<std::int64_t>{7, 1});
  f.kinds = {EventKind::error};
  CHECK(ids(s.events().find(f)) == std::vector<std::int64_t>{6});

  EventFilter problems;
  problems.problems_only = true;
  CHECK(ids(s.events().find(problems)) == std::vector<std::int64_t>{7, 6, 4});

  EventFilter account;
  account.account = "info";
  CHECK(ids(s.events().find(account)) == std::vector<std::int64_t>{5, 2, 1});

  EventFilter route;
  route.route = "smarthost:gmx";
  CHECK(ids(s.events().find(route)) == std::vector<std::int64_t>{4, 3});

  EventFilter text;
  text.text = "rechnung";  // case-insensitive
  CHECK(ids(s.events().find(text)) == std::vector<std::int64_t>{2, 1});
  text.text = "%";  // no LIKE wildcards: a literal character
  CHECK(s.events().find(text).empty());
  text.text = "AUTH-FAILED";
  CHECK(s.events().find(text).empty());  // result is not searched; text, subject etc. are
  text.text = "GMX";
  CHECK(ids(s.events().find(text)) == std::vector<std::int64_t>{4, 3});

  EventFilter combined;
  combined.kinds = {EventKind::fetch};
  combined.problems_only = true;
  combined.account = "sales";
  combined.text = "<img";
  CHECK(ids(s.events().find(combined)) == std::vector<std::int64_t>{7});
}

TEST_CASE("events_after follows the log oldest first", "[store][api]") {
  TempDir dir;
  Store s(dir.path());
  fill_log(s);
  CHECK(ids(s.events().after(4, 0)) == std::vector<std::int64_t>{5, 6, 7});
  CHECK(ids(s.events().after(0, 2)) == std::vector<std::int64_t>{1, 2});
  CHECK(s.events().after(7, 10).empty());
  // Events written in a batch with their messages are seen too.
  s.queue().enqueue_batch({{message("a", "local"), event(kNow, "fetch", "info", "local", "ok", "A", 10)}}, kNow);
  auto after = s.events().after(7, 10);
  REQUIRE(after.size() == 1);
  CHECK(after[0].id == 8);
  CHECK(after[0].event.message_id != 0);
}

TEST_CASE("a word another version stored reads back as written and is no known kind", "[store][api]") {
  TempDir dir;
  Store s(dir.path());
  fill_log(s);
  s.events().add(event(kNow, "fetc", "info", "local", "retried-later"));  // 8: a prefix of a kind
  EventFilter f;
  f.kinds = {EventKind::fetch};  // a prefix of a kind is not the kind
  CHECK(ids(s.events().find(f)) == std::vector<std::int64_t>{7, 1});
  const auto back = s.events().after(7, 10);
  REQUIRE(back.size() == 1);
  CHECK(back[0].event.kind.str() == "fetc");
  CHECK_FALSE(back[0].event.kind.known());
  CHECK(back[0].event.result.str() == "retried-later");
  EventFilter problems;
  problems.problems_only = true;  // an unknown result is not "ok": it shows among the problems
  CHECK(ids(s.events().find(problems)) == std::vector<std::int64_t>{8, 7, 6, 4});
}

TEST_CASE("tally_events groups events, optionally by hour", "[store][api]") {
  TempDir dir;
  Store s(dir.path());
  fill_log(s);

  auto all = s.events().tally(0);
  auto find = [&](const std::vector<EventTally>& v, const std::string& kind, const std::string& account,
                  const std::string& result) {
    auto it = std::find_if(v.begin(), v.end(), [&](const EventTally& t) {
      return t.kind.str() == kind && t.account == account && t.result.str() == result;
    });
    return it == v.end() ? EventTally{} : *it;
  };
  auto fetched = find(all, "fetch", "info", "ok");
  CHECK(fetched.events == 1);
  CHECK(fetched.count == 1);
  CHECK(fetched.bytes == 1000);
  CHECK(fetched.route == "local");
  CHECK(fetched.bucket == 0);
  CHECK(find(all, "send", "", "deferred").events == 1);
  CHECK(find(all, "send", "", "deferred").count == 0);

  // Since: only the last hour's events.
  auto recent = s.events().tally(kNow - kHour);
  CHECK(find(recent, "fetch", "info", "ok").events == 0);
  CHECK(find(recent, "poll", "info", "ok").events == 1);

  // Hourly buckets, ordered, aligned to the hour.
  auto hourly = s.events().tally(kNow - 3 * kHour, 3600);
  REQUIRE(!hourly.empty());
  CHECK(std::is_sorted(hourly.begin(), hourly.end(),
                       [](const EventTally& a, const EventTally& b) { return a.bucket < b.bucket; }));
  for (const auto& t : hourly) CHECK(t.bucket % 3600 == 0);
  CHECK(find(hourly, "fetch", "info", "ok").bucket == kNow - 2 * kHour);
  CHECK(find(hourly, "fetch", "sales", "skipped").bucket == kNow - kHour);  // kNow - 1 lies in that hour
}

TEST_CASE("undelivered lists queued, held and failed messages oldest first", "[store][api]") {
  TempDir dir;
  Store s(dir.path());
  auto a = s.queue().enqueue(message("a", "local"), kNow);
  auto b = s.queue().enqueue(message("b", "smarthost:gmx"), kNow);
  auto c = s.queue().enqueue(message("c", "smarthost:gmx"), kNow);
  auto d = s.queue().enqueue(message("d", "local"), kNow);
  REQUIRE(s.queue().set_held(b, true));
  s.queue().record_results(c, {{"client@customer.example", RcptState::failed, "550 no"}}, "550 no", kNow);
  s.queue().record_results(d, {{"client@customer.example", RcptState::delivered, "250 ok"}}, "250 ok", kNow);

  auto all = s.queue().undelivered("", "", 0);
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == a);
  CHECK(all[1].id == b);
  CHECK(all[2].id == c);
  CHECK(all[2].state == MsgState::failed);
  CHECK(all[2].recipients.size() == 1);
  CHECK(s.queue().count_undelivered("", "") == 3);

  CHECK(s.queue().undelivered("held", "", 0).size() == 1);
  CHECK(s.queue().undelivered("", "smarthost:gmx", 0).size() == 2);
  CHECK(s.queue().undelivered("queued", "smarthost:gmx", 0).empty());
  CHECK(s.queue().undelivered("delivered", "", 0).empty());  // delivered is never "undelivered"
  CHECK(s.queue().count_undelivered("failed", "smarthost:gmx") == 1);
  CHECK(s.queue().undelivered("", "", 2).size() == 2);
  CHECK(s.queue().count_undelivered("", "local") == 1);
}
