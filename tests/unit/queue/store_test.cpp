// Store tests on a fresh state folder each: enqueue is all-or-nothing, UIDLs are offered for DELE
// only after delivery, delivery results move the message through its states, and it all persists.
#include "queue/store.hpp"

#include "queue/spool.hpp"
#include "temp_dir.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

using namespace pb::queue;
using pb::test::TempDir;

namespace {

constexpr UnixTime kNow = 1'764'000'000;  // a fixed fake clock
constexpr UnixTime kDay = 86400;

NewMessage fetched(const std::string& uidl, std::vector<std::string> rcpts = {"anna@office.example"}) {
  NewMessage m;
  m.account = "info";
  m.uidl = uidl;
  m.sender = "sender@provider.example";
  m.recipients = std::move(rcpts);
  m.spool_name = "spool-" + uidl + ".msg";
  m.size = 1234;
  m.subject = "Subject " + uidl;
  m.message_id = "<" + uidl + "@provider.example>";
  return m;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> addresses(const QueuedMessage& m) {
  std::vector<std::string> out;
  for (const auto& r : m.recipients) out.push_back(r.address);
  return out;
}

// Deliver every recipient of message id with the given outcome.
MsgState finish(Store& s, MessageId id, RcptState outcome) {
  std::vector<DeliveryResult> results;
  const auto m = s.queue().get(id);  // named: a range-for over a temporary's member would dangle
  for (const auto& r : m->recipients) results.push_back({r.address, outcome, "250 2.0.0 ok"});
  return s.queue().record_results(id, results, "250 2.0.0 ok", kNow + 60);
}

}  // namespace

TEST_CASE("store creates its folders and a WAL database at the latest schema", "[store]") {
  TempDir t;
  const auto dir = t.path() / "state";
  {
    Store s(dir);
    CHECK(s.spool_dir() == dir / "spool");
    CHECK(std::filesystem::is_directory(dir / "spool"));
  }
  using std::filesystem::perms;
  CHECK((std::filesystem::status(dir).permissions() & perms::all) ==
        (perms::owner_all | perms::group_read | perms::group_exec));
  SQLite::Database db((dir / "postbridge.db").string());
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == 4);
}

TEST_CASE("enqueue stores message, recipients and UIDL in one go", "[store]") {
  TempDir t;
  Store s(t.path());
  auto m = fetched("u1", {"Anna@Office.Example", "anna@office.example", "anna@OFFICE.example",
                          "ANNA@office.example", "bob@office.example"});
  const auto id = s.queue().enqueue(m, kNow);
  CHECK(id > 0);

  const auto q = s.queue().get(id);
  REQUIRE(q);
  CHECK(q->state == MsgState::queued);
  CHECK(q->account == "info");
  CHECK(q->uidl == "u1");
  CHECK(q->sender == m.sender);
  CHECK(q->spool_name == m.spool_name);
  CHECK(q->size == 1234);
  CHECK(q->subject == "Subject u1");
  CHECK(q->message_id == "<u1@provider.example>");
  CHECK(q->attempts == 0);
  CHECK(q->created_at == kNow);
  CHECK(q->next_attempt == kNow);
  // Domains compare case-insensitively, local parts do not; the first spelling's order is kept.
  CHECK(addresses(*q) == std::vector<std::string>{"Anna@office.example", "anna@office.example",
                                                  "ANNA@office.example", "bob@office.example"});
  for (const auto& r : q->recipients) CHECK(r.state == RcptState::pending);

  CHECK(s.ledger().known_uidls("info") == std::unordered_set<std::string>{"u1"});
  CHECK(s.ledger().known_uidls("other").empty());
  CHECK(s.queue().count(MsgState::queued) == 1);
  CHECK(s.queue().count_queued_for_account("info") == 1);
  CHECK(s.queue().count_queued_for_account("other") == 0);
  CHECK_FALSE(s.queue().get(id + 1));
}

TEST_CASE("relayed mail (no UIDL) leaves the UIDL table alone", "[store]") {
  TempDir t;
  Store s(t.path());
  NewMessage m;
  m.route = "smarthost:provider";
  m.recipients = {"someone@elsewhere.example"};
  m.spool_name = "relay.msg";
  const auto id = s.queue().enqueue(m, kNow);
  CHECK(s.queue().get(id)->route == "smarthost:provider");
  CHECK(s.queue().get(id)->sender.empty());  // null sender <>
  CHECK(s.ledger().known_uidls("").empty());
}

TEST_CASE("enqueue rejects bad input without writing anything", "[store]") {
  TempDir t;
  Store s(t.path());
  s.queue().enqueue(fetched("u1"), kNow);

  SECTION("UIDL seen before") {
    auto again = fetched("u1");
    again.spool_name = "other.msg";
    CHECK_THROWS_AS(s.queue().enqueue(again, kNow), std::logic_error);
  }
  SECTION("UIDL recorded as too large") {
    REQUIRE(s.ledger().record_too_large("info", "big", 99'000'000, kNow));
    CHECK_THROWS_AS(s.queue().enqueue(fetched("big"), kNow), std::logic_error);
  }
  SECTION("same spool file twice") {
    auto m = fetched("u2");
    m.spool_name = "spool-u1.msg";
    CHECK_THROWS(s.queue().enqueue(m, kNow));
    CHECK(s.ledger().known_uidls("info").count("u2") == 0);
  }
  SECTION("failure after the message and recipients were inserted") {
    {
      SQLite::Database db((t.path() / "postbridge.db").string(), SQLite::OPEN_READWRITE);
      db.exec("CREATE TRIGGER inject BEFORE INSERT ON uidls WHEN NEW.uidl = 'boom' "
              "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    }
    CHECK_THROWS_WITH(s.queue().enqueue(fetched("boom", {"x@office.example", "y@office.example"}), kNow),
                      Catch::Contains("injected failure"));
    CHECK(s.ledger().known_uidls("info").count("boom") == 0);
    SQLite::Database db((t.path() / "postbridge.db").string());
    CHECK(db.execAndGet("SELECT COUNT(*) FROM recipients").getInt() == 1);  // only u1's
  }
  SECTION("no recipients, no spool file, no route") {
    CHECK_THROWS_AS(s.queue().enqueue(fetched("u3", {}), kNow), std::invalid_argument);
    auto m = fetched("u5");
    m.spool_name.clear();
    CHECK_THROWS_AS(s.queue().enqueue(m, kNow), std::invalid_argument);
    m = fetched("u6");
    m.route.clear();
    CHECK_THROWS_AS(s.queue().enqueue(m, kNow), std::invalid_argument);
  }
  const auto all = s.queue().list(0);
  REQUIRE(all.size() == 1);
  CHECK(all[0].uidl == "u1");
  CHECK(all[0].recipients.size() == 1);

  // The store is still usable after a failed transaction.
  CHECK(s.queue().enqueue(fetched("u4"), kNow) > 0);
}

TEST_CASE("too-large UIDLs are recorded once and never deleted at the provider", "[store]") {
  TempDir t;
  Store s(t.path());
  CHECK(s.ledger().record_too_large("info", "huge", 50'000'000, kNow));
  CHECK_FALSE(s.ledger().record_too_large("info", "huge", 50'000'000, kNow + 10));
  CHECK(s.ledger().record_too_large("other", "huge", 50'000'000, kNow));  // per account
  CHECK(s.ledger().known_uidls("info").count("huge") == 1);
  CHECK(s.ledger().uidls_to_delete("info", false, 0, kNow + 100 * kDay).empty());
}

TEST_CASE("uidls_to_delete offers only finished messages", "[store]") {
  TempDir t;
  Store s(t.path());
  const auto a = s.queue().enqueue(fetched("a"), kNow - 5 * kDay);
  const auto b = s.queue().enqueue(fetched("b"), kNow - 1 * kDay);
  const auto c = s.queue().enqueue(fetched("c"), kNow - 4 * kDay);
  s.queue().enqueue(fetched("d"), kNow - 10 * kDay);  // still queued: never offered

  CHECK(s.ledger().uidls_to_delete("info", false, 0, kNow).empty());  // nothing delivered yet

  CHECK(finish(s, a, RcptState::delivered) == MsgState::delivered);
  CHECK(finish(s, b, RcptState::delivered) == MsgState::delivered);
  CHECK(finish(s, c, RcptState::failed) == MsgState::failed);  // spool kept: safe to delete

  SECTION("without keep: all finished") {
    CHECK(sorted(s.ledger().uidls_to_delete("info", false, 0, kNow)) == std::vector<std::string>{"a", "b", "c"});
    CHECK(sorted(s.ledger().uidls_to_delete("info", false, 3, kNow)) == std::vector<std::string>{"a", "b", "c"});
  }
  SECTION("keep with keep_days 0: keep forever") {
    CHECK(s.ledger().uidls_to_delete("info", true, 0, kNow).empty());
    CHECK(s.ledger().uidls_to_delete("info", true, 0, kNow + 1000 * kDay).empty());
  }
  SECTION("keep with keep_days 3: only those first seen 3+ days ago") {
    CHECK(sorted(s.ledger().uidls_to_delete("info", true, 3, kNow)) == std::vector<std::string>{"a", "c"});
    CHECK(s.ledger().uidls_to_delete("info", true, 3, kNow - 2 * kDay) ==
          std::vector<std::string>{"a"});  // a reaches exactly 3 days, c is 2 days old
    CHECK(sorted(s.ledger().uidls_to_delete("info", true, 3, kNow + 2 * kDay)) ==
          std::vector<std::string>{"a", "b", "c"});  // b reaches exactly 3 days
  }
  CHECK(s.ledger().uidls_to_delete("other", false, 0, kNow).empty());
}

TEST_CASE("mark_deleted and forget_vanished", "[store]") {
  TempDir t;
  Store s(t.path());
  const auto a = s.queue().enqueue(fetched("a"), kNow);
  const auto b = s.queue().enqueue(fetched("b"), kNow);
  s.queue().enqueue(fetched("queued"), kNow);
  s.ledger().record_too_large("info", "big", 1, kNow);
  s.ledger().record_too_large("info", "big-still-there", 1, kNow);
  finish(s, a, RcptState::delivered);
  finish(s, b, RcptState::delivered);

  s.ledger().mark_deleted("info", {"a", "b"});
  CHECK(s.ledger().uidls_to_delete("info", false, 0, kNow).empty());  // never DELE'd twice
  s.ledger().mark_deleted("info", {});                                  // empty batch is fine

  // The server now lists only "b" (slow to expunge) and "big-still-there"; "queued" is gone from
  // the server too, but its row stays: the message is still in our queue.
  s.ledger().forget_vanished("info", {"b", "big-still-there"});
  CHECK(s.ledger().known_uidls("info") == std::unordered_set<std::string>{"b", "queued", "big-still-there"});

  s.ledger().forget_vanished("info", {});
  CHECK(s.ledger().known_uidls("info") == std::unordered_set<std::string>{"queued"});
}

TEST_CASE("record_results: partial acceptance keeps the message queued", "[store]") {
  TempDir t;
  Store s(t.path());
  const auto id = s.queue().enqueue(fetched("u", {"a@office.example", "b@office.example", "c@office.example"}), kNow);

  SECTION("two delivered, one deferred, then that one fails") {
    auto st = s.queue().record_results(id,
                               {{"a@office.example", RcptState::delivered, "250 ok"},
                                {"b@Office.Example", RcptState::delivered, "250 ok"},
                                {"c@office.example", RcptState::pending, "452 4.2.2 mailbox full"}},
                               "452 4.2.2 mailbox full", kNow + 300);
    CHECK(st == MsgState::queued);
    auto q = s.queue().get(id);
    CHECK(q->state == MsgState::queued);
    CHECK(q->next_attempt == kNow + 300);
    CHECK(q->last_reply == "452 4.2.2 mailbox full");
    CHECK(q->recipients[0].state == RcptState::delivered);
    CHECK(q->recipients[1].state == RcptState::delivered);  // matched despite the domain's case
    CHECK(q->recipients[2].state == RcptState::pending);
    CHECK(q->recipients[2].reply == "452 4.2.2 mailbox full");
    CHECK(s.queue().due("local", kNow + 299, 10).empty());
    CHECK(s.queue().due("local", kNow + 300, 10).size() == 1);

    st = s.queue().record_results(id, {{"c@office.example", RcptState::failed, "550 5.1.1 no such user"}},
                          "550 5.1.1 no such user", kNow + 900);
    CHECK(st == MsgState::failed);
    q = s.queue().get(id);
    CHECK(q->state == MsgState::failed);
    CHECK(q->recipients[0].state == RcptState::delivered);  // untouched
    CHECK(q->recipients[2].state == RcptState::failed);
    CHECK(s.queue().due("local", kNow + 10000, 10).empty());
    CHECK(s.queue().count(MsgState::failed) == 1);
  }
  SECTION("all delivered") {
    CHECK(finish(s, id, RcptState::delivered) == MsgState::delivered);
    CHECK(s.queue().count(MsgState::delivered) == 1);
    CHECK(s.queue().count(MsgState::queued) == 0);
    CHECK(s.queue().count_queued_for_account("info") == 0);
  }
  SECTION("a delivered recipient never becomes pending again") {
    s.queue().record_results(id, {{"a@office.example", RcptState::delivered, "250 ok"}}, "250 ok", kNow + 60);
    s.queue().record_results(id, {{"a@office.example", RcptState::pending, "421 bye"}}, "421 bye", kNow + 60);
    CHECK(s.queue().get(id)->recipients[0].state == RcptState::delivered);
    CHECK(s.queue().get(id)->recipients[0].reply == "250 ok");
  }
  SECTION("unknown message") {
    CHECK_THROWS_AS(s.queue().record_results(id + 100, {}, "", kNow), std::out_of_range);
  }
}

TEST_CASE("due: route, time, order, limit", "[store]") {
  TempDir t;
  Store s(t.path());
  const auto late = s.queue().enqueue(fetched("late"), kNow + 50);
  const auto early = s.queue().enqueue(fetched("early"), kNow + 10);
  const auto tie1 = s.queue().enqueue(fetched("tie1"), kNow + 20);
  const auto tie2 = s.queue().enqueue(fetched("tie2"), kNow + 20);
  NewMessage relay = fetched("");
  relay.route = "smarthost:x";
  relay.spool_name = "relay.msg";
  const auto r = s.queue().enqueue(relay, kNow);

  auto ids = [](const std::vector<QueuedMessage>& v) {
    std::vector<MessageId> out;
    for (const auto& m : v) out.push_back(m.id);
    return out;
  };
  CHECK(ids(s.queue().due("local", kNow + 9, 10)).empty());
  CHECK(ids(s.queue().due("local", kNow + 20, 10)) == std::vector<MessageId>{early, tie1, tie2});
  CHECK(ids(s.queue().due("local", kNow + 100, 10)) == std::vector<MessageId>{early, tie1, tie2, late});
  CHECK(ids(s.queue().due("local", kNow + 100, 2)) == std::vector<MessageId>{early, tie1});
  CHECK(ids(s.queue().due("smarthost:x", kNow + 100, 10)) == std::vector<MessageId>{r});
  CHECK(s.queue().due("local", kNow + 100, 10)[0].recipients.size() == 1);
  CHECK(s.queue().next_due("local") == kNow + 10);
  CHECK_FALSE(s.queue().next_due("smarthost:none"));

  // record_attempt pushes the message back before dialing.
  s.queue().record_attempt(early, kNow + 500);
  CHECK(ids(s.queue().due("local", kNow + 100, 10)) == std::vector<MessageId>{tie1, tie2, late});
  CHECK(s.queue().next_due("local") == kNow + 20);
  CHECK(s.queue().get(early)->attempts == 1);
  s.queue().record_attempt(early, kNow + 800);
  CHECK(s.queue().get(early)->attempts == 2);
  CHECK(s.queue().get(early)->next_attempt == kNow + 800);
  CHECK_THROWS_AS(s.queue().record_attempt(9999, kNow), std::out_of_range);
}

TEST_CASE("release_attempts gives unsent messages of a broken session back as they were", "[store]") {
  TempDir t;
  Store s(t.path());
  const auto sent = s.queue().enqueue(fetched("sent"), kNow);
  const auto unsent = s.queue().enqueue(fetched("unsent"), kNow);
  const auto done = s.queue().enqueue(fetched("done"), kNow);
  s.queue().record_attempts({{sent, kNow + 60}, {unsent, kNow + 60}, {done, kNow + 60}});
  finish(s, done, RcptState::delivered);
  // The connection broke while `sent` was in its transaction: `unsent` never left.
  s.queue().release_attempts({unsent, done}, kNow + 1);
  CHECK(s.queue().get(unsent)->attempts == 0);
  CHECK(s.queue().get(unsent)->next_attempt == kNow + 1);
  CHECK(s.queue().get(sent)->attempts == 1);  // untouched: its attempt happened
  CHECK(s.queue().get(sent)->next_attempt == kNow + 60);
  CHECK(s.queue().get(done)->state == MsgState::delivered);  // its outcome was recorded: not released
  CHECK(s.queue().get(done)->attempts == 1);
  // Nothing is open any more for `unsent`: a restart does not count it as interrupted.
  CHECK(s.queue().recover_interrupted(kNow + 2) == 1);  // only `sent`
  s.queue().release_attempts({}, kNow);  // no-op
}

TEST_CASE("the start-up sweep removes the file of a message delivered just before a crash", "[store]") {
  TempDir t;
  Store s(t.path());
  auto spool = [&](const char* text) {
    SpoolFile f(s.spool_dir());
    f.write(text);
    return f.commit();
  };
  NewMessage done = fetched("done");
  done.spool_name = spool("delivered, but the process died before it removed this file\r\n");
  NewMessage waiting = fetched("waiting");
  waiting.spool_name = spool("still to be delivered\r\n");
  NewMessage failed = fetched("failed");
  failed.spool_name = spool("failed for good: kept for the bounce and the admin\r\n");
  const auto done_id = s.queue().enqueue(done, kNow);
  s.queue().enqueue(waiting, kNow);
  const auto failed_id = s.queue().enqueue(failed, kNow);
  finish(s, done_id, RcptState::delivered);  // committed; the unlink that follows never happened
  finish(s, failed_id, RcptState::failed);

  CHECK(remove_orphans(s.spool_dir(), s.queue().spool_names_in_use()) == 1);
  CHECK_FALSE(std::filesystem::exists(s.spool_dir() / done.spool_name));
  CHECK(std::filesystem::exists(s.spool_dir() / waiting.spool_name));
  CHECK(std::filesystem::exists(s.spool_dir() / failed.spool_name));
}

TEST_CASE("list is newest first", "[store]") {
  TempDir t;
  Store s(t.path());
  const auto a = s.queue().enqueue(fetched("a"), kNow);
  const auto b = s.queue().enqueue(fetched("b"), kNow);
  const auto c = s.queue().enqueue(fetched("c"), kNow);
  auto all = s.queue().list(10);
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == c);
  CHECK(all[1].id == b);
  CHECK(all[2].id == a);
  CHECK(s.queue().list(1).size() == 1);
}

TEST_CASE("everything survives reopening the database", "[store]") {
  TempDir t;
  MessageId id = 0;
  {
    Store s(t.path());
    id = s.queue().enqueue(fetched("u1", {"a@office.example", "b@office.example"}), kNow);
    s.queue().record_attempt(id, kNow + 60);
    s.queue().record_results(id, {{"a@office.example", RcptState::delivered, "250 ok"}}, "451 try later",
                     kNow + 120);
    s.ledger().record_too_large("info", "big", 1, kNow);
    s.events().add({kNow, EventKind::fetch, "info", "local", id, "x@y", "a@office.example", "Hi", 10, 1, EventResult::ok, "fetched"});
    s.accounts().save({"info", "error", kNow, kNow - 60, kNow + 60, "connection refused", 2});
  }  // no explicit close or checkpoint: a restart after kill -9 sees the same
  Store s(t.path());
  const auto q = s.queue().get(id);
  REQUIRE(q);
  CHECK(q->state == MsgState::queued);
  CHECK(q->attempts == 1);
  CHECK(q->next_attempt == kNow + 120);
  CHECK(q->last_reply == "451 try later");
  CHECK(q->recipients[0].state == RcptState::delivered);
  CHECK(q->recipients[1].state == RcptState::pending);
  CHECK(s.ledger().known_uidls("info") == std::unordered_set<std::string>{"u1", "big"});
  CHECK(s.events().after(0, 10).size() == 1);
  CHECK(s.accounts().find("info")->failures == 2);
  CHECK(s.queue().enqueue(fetched("u2"), kNow) > id);
}

TEST_CASE("kill -9 keeps what was committed and nothing half-done", "[store]") {
  TempDir t;
  { Store s(t.path()); }  // schema in place before the child starts
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Child: two committed messages, then an open transaction and a half-written spool file.
    Store s(t.path());
    SpoolFile f(s.spool_dir());
    f.write("complete message\r\n");
    auto m = fetched("one");
    m.spool_name = f.commit();
    s.queue().enqueue(m, kNow);
    s.queue().enqueue(fetched("two"), kNow);
    SQLite::Database db((t.path() / "postbridge.db").string(), SQLite::OPEN_READWRITE);
    db.exec("BEGIN IMMEDIATE");
    db.exec("DELETE FROM messages");
    db.exec("DELETE FROM uidls");
    SpoolFile partial(s.spool_dir());
    partial.write("half a mess");
    ::kill(::getpid(), SIGKILL);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  Store s(t.path());
  CHECK(s.ledger().known_uidls("info") == std::unordered_set<std::string>{"one", "two"});
  CHECK(s.queue().count(MsgState::queued) == 2);
  const auto all = s.queue().list(0);
  REQUIRE(all.size() == 2);
  CHECK(pb::test::slurp(s.spool_dir() / all[1].spool_name) == "complete message\r\n");
  CHECK(pb::test::entries(s.spool_dir() / "tmp") == 1);  // the unfinished file, never promised
  clean_spool_tmp(s.spool_dir());
  CHECK(pb::test::entries(s.spool_dir() / "tmp") == 0);
}

TEST_CASE("a second process (the CLI) sees committed changes at once", "[store]") {
  TempDir t;
  Store service(t.path());
  Store cli(t.path());
  const auto id = service.queue().enqueue(fetched("u1"), kNow);
  CHECK(cli.queue().get(id));
  CHECK(cli.queue().count(MsgState::queued) == 1);
  finish(cli, id, RcptState::delivered);
  CHECK(service.queue().get(id)->state == MsgState::delivered);
}

TEST_CASE("a database from a newer postbridge is refused", "[store]") {
  TempDir t;
  { Store s(t.path()); }
  {
    SQLite::Database db((t.path() / "postbridge.db").string(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 99");
  }
  try {
    Store s(t.path());
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("postbridge.db") && Catch::Contains("99"));
  }
}

TEST_CASE("a held message stays held after a deferred attempt", "[store]") {
  TempDir t;
  Store s(t.path());
  const auto id = s.queue().enqueue(fetched("u", {"a@office.example", "b@office.example"}), kNow);
  {
    SQLite::Database db((t.path() / "postbridge.db").string(), SQLite::OPEN_READWRITE);
    db.exec("UPDATE messages SET state = 'held' WHERE id = " + std::to_string(id));
  }
  CHECK(s.queue().record_results(id, {{"a@office.example", RcptState::delivered, "250"}}, "250", kNow + 60) ==
        MsgState::held);
  CHECK(s.queue().due("local", kNow + 1000, 10).empty());
  CHECK(s.queue().record_results(id, {{"b@office.example", RcptState::delivered, "250"}}, "250", kNow + 60) ==
        MsgState::delivered);
}

TEST_CASE("the event log returns the newest first", "[store]") {
  TempDir t;
  Store s(t.path());
  s.events().add({kNow, EventKind::fetch, "info", "local", 7, "s@x", "a@b", "subj", 99, 0, EventResult::ok, ""});
  s.events().add({kNow + 10, EventKind::poll, "info", "", 0, "", "", "", 0, 3, EventResult::ok, "3 new"});
  s.events().add(
      {kNow + 10, EventKind::deliver, "", "local", 7, "s@x", "a@b", "subj", 99, 0, EventResult::deferred, "451"});
  EventFilter newest;
  newest.limit = 10;
  const auto ev = s.events().find(newest);
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].event.kind == EventKind::deliver);  // same time: later insert first
  CHECK(ev[0].event.result == EventResult::deferred);
  CHECK(ev[0].event.text == "451");
  CHECK(ev[1].event.kind == EventKind::poll);
  CHECK(ev[1].event.message_id == 0);
  CHECK(ev[1].event.count == 3);
  CHECK(ev[2].event.kind == EventKind::fetch);
  CHECK(ev[2].event.message_id == 7);
  CHECK(ev[2].event.size == 99);
  CHECK(ev[2].event.subject == "subj");
  newest.limit = 2;
  CHECK(s.events().find(newest).size() == 2);
}

TEST_CASE("account_state is an upsert", "[store]") {
  TempDir t;
  Store s(t.path());
  CHECK_FALSE(s.accounts().find("info"));
  s.accounts().save({"info", "ok", kNow, kNow, kNow + 300, "", 0});
  s.accounts().save({"info", "auth-failed", kNow + 300, kNow, kNow + 3600, "-ERR invalid login", 1});
  const auto a = s.accounts().find("info");
  REQUIRE(a);
  CHECK(a->state == "auth-failed");
  CHECK(a->last_poll == kNow + 300);
  CHECK(a->last_success == kNow);
  CHECK(a->next_poll == kNow + 3600);
  CHECK(a->last_error == "-ERR invalid login");
  CHECK(a->failures == 1);
  CHECK_FALSE(s.accounts().find("other"));
}

TEST_CASE("enqueue is fast enough for a 2000-message fetch", "[store][perf]") {
  TempDir t;
  Store s(t.path());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 500; ++i) s.queue().enqueue(fetched("m" + std::to_string(i)), kNow);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
  WARN("500 durable enqueues took " << ms.count() << " ms");
  CHECK(s.queue().count(MsgState::queued) == 500);
  CHECK(s.ledger().known_uidls("info").size() == 500);
}

TEST_CASE("due_fetched lists an account's fetched mail that is due, for the poll to wait on", "[store]") {
  TempDir t;
  Store s(t.path());
  const auto a = s.queue().enqueue(fetched("u1"), kNow);
  const auto b = s.queue().enqueue(fetched("u2"), kNow);
  auto other = fetched("u3");
  other.account = "other";
  s.queue().enqueue(other, kNow);
  NewMessage notice;  // no UIDL: nothing to delete at a provider
  notice.account = "info";
  notice.recipients = {"postmaster@office.example"};
  notice.spool_name = "notice.msg";
  s.queue().enqueue(notice, kNow);
  s.queue().record_attempt(b, kNow + 600);  // backing off: not due, the poll must not wait for it
  CHECK(s.queue().due_fetched("info", kNow) == std::vector<MessageId>{a});
  CHECK(s.queue().due_fetched("info", kNow + 600) == std::vector<MessageId>{a, b});
  finish(s, a, RcptState::delivered);
  CHECK(s.queue().due_fetched("info", kNow + 600) == std::vector<MessageId>{b});
}
