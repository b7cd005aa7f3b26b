// The queue actions of `postbridge queue ACTION ID` and POST /api/queue/ID/ACTION (queue/action):
// the five words and nothing else, each action's effect on the row, and a bounce only of a queued
// or held message, its DSN left to the caller.
#include "queue/action.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

using namespace pb::queue;
using pb::test::TempDir;

namespace {

constexpr UnixTime kNow = 1'764'000'000;

MessageId relayed(Store& s, const std::string& spool_name) {
  NewMessage m;
  m.route = "smarthost:provider";
  m.sender = "anna@office.example";
  m.recipients = {"someone@elsewhere.example"};
  m.spool_name = spool_name;
  std::ofstream(s.spool_dir() / spool_name) << "Subject: x\r\n\r\nbody\r\n";
  return s.queue().enqueue(m, kNow);
}

}  // namespace

TEST_CASE("queue actions: the five words of the CLI and the API, nothing else", "[queue][action]") {
  CHECK(parse_action("retry") == Action::retry);
  CHECK(parse_action("hold") == Action::hold);
  CHECK(parse_action("release") == Action::release);
  CHECK(parse_action("delete") == Action::remove);
  CHECK(parse_action("bounce") == Action::bounce);
  CHECK_FALSE(parse_action("remove"));
  CHECK_FALSE(parse_action("Retry"));
  CHECK_FALSE(parse_action(""));
}

TEST_CASE("queue actions: hold, release, delete and bounce on one message", "[queue][action]") {
  TempDir t;
  Store s(t.path());
  const auto id = relayed(s, "a.msg");
  int bounced = 0;
  auto bounce = [&](const QueuedMessage&) {
    ++bounced;
    return true;
  };

  CHECK(apply(s, *s.queue().get(id), Action::hold, kNow, bounce));
  CHECK(s.queue().get(id)->state == MsgState::held);
  CHECK(apply(s, *s.queue().get(id), Action::release, kNow, bounce));
  CHECK(s.queue().get(id)->state == MsgState::queued);
  CHECK(apply(s, *s.queue().get(id), Action::retry, kNow, bounce));
  CHECK(apply(s, *s.queue().get(id), Action::bounce, kNow, bounce));
  CHECK(bounced == 1);

  const auto other = relayed(s, "b.msg");
  CHECK(apply(s, *s.queue().get(other), Action::remove, kNow, bounce));
  CHECK_FALSE(s.queue().get(other));
  CHECK_FALSE(std::filesystem::exists(s.spool_dir() / "b.msg"));
}

TEST_CASE("queue actions: bounce refuses a message that is neither queued nor held", "[queue][action]") {
  TempDir t;
  Store s(t.path());
  const auto id = relayed(s, "a.msg");
  auto msg = *s.queue().get(id);
  msg.state = MsgState::failed;  // as read by a caller after a delivery failed for good
  int bounced = 0;
  CHECK_FALSE(apply(s, msg, Action::bounce, kNow, [&](const QueuedMessage&) {
    ++bounced;
    return true;
  }));
  CHECK(bounced == 0);
}
