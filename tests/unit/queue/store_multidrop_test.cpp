// Store support for multidrop: loops stored as held, recipients that are duplicates,
// the duplicate check across polls, redirected recipients whose copy is enqueued in the same
// transaction, and the v1 -> v2 migration keeping existing queues intact.
#include "queue/store.hpp"

#include "temp_dir.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

using namespace pb::queue;
using pb::test::TempDir;

namespace {

constexpr UnixTime kNow = 1'764'000'000;

NewMessage fetched(const std::string& uidl, std::vector<std::string> rcpts) {
  NewMessage m;
  m.account = "domain";
  m.uidl = uidl;
  m.sender = "kunde@example.com";
  m.recipients = std::move(rcpts);
  m.spool_name = "spool-" + uidl + ".msg";
  m.size = 100;
  m.message_id = "<angebot@example.com>";
  m.body_digest = "d1";
  return m;
}

}  // namespace

TEST_CASE("multidrop store: a loop is stored held, with its reason, and stays at the provider", "[store]") {
  TempDir t;
  Store s(t.path());
  auto m = fetched("u1", {"anna@firma.local"});
  m.hold_reason = "mail loop: the message carries our X-Postbridge-Loop header";
  auto id = s.queue().enqueue(m, kNow);
  auto q = s.queue().get(id);
  REQUIRE(q);
  CHECK(q->state == MsgState::held);
  CHECK(q->last_reply == m.hold_reason);
  CHECK(s.queue().due("local", kNow + 3600, 10).empty());
  CHECK(s.ledger().uidls_to_delete("domain", false, 0, kNow).empty());
  CHECK(s.ledger().known_uidls("domain").contains("u1"));  // never fetched again meanwhile
  REQUIRE(s.queue().set_held(id, false));                  // the admin releases it
  CHECK(s.queue().get(id)->state == MsgState::queued);
}

TEST_CASE("multidrop store: duplicate recipients are done at once, the rest waits", "[store]") {
  TempDir t;
  Store s(t.path());
  auto first = s.queue().enqueue(fetched("u1", {"anna@firma.local", "ben@firma.local"}), kNow);
  CHECK(s.ledger().find_duplicate("<angebot@example.com>", "d1", "ANNA@firma.local", kNow - 60) == first);
  CHECK(s.ledger().find_duplicate("<angebot@example.com>", "d1", "anna@firma.local", kNow + 1) == std::nullopt);  // window
  CHECK(s.ledger().find_duplicate("<angebot@example.com>", "other body", "anna@firma.local", 0) == std::nullopt);
  CHECK(s.ledger().find_duplicate("<other@example.com>", "d1", "anna@firma.local", 0) == std::nullopt);
  CHECK(s.ledger().find_duplicate("", "", "anna@firma.local", 0) == std::nullopt);

  // The second copy (the provider keeps one per recipient): ben had it, carl is new.
  auto m = fetched("u2", {"carl@firma.local"});
  m.done_recipients = {{"ben@firma.local", RcptState::duplicate, "duplicate of message 1", "", ""}};
  auto second = s.queue().enqueue(m, kNow + 5);
  auto q = s.queue().get(second);
  REQUIRE(q);
  CHECK(q->state == MsgState::queued);
  REQUIRE(q->recipients.size() == 2);
  CHECK(q->recipients[0].address == "carl@firma.local");
  CHECK(q->recipients[0].state == RcptState::pending);
  CHECK(q->recipients[1].address == "ben@firma.local");
  CHECK(q->recipients[1].state == RcptState::duplicate);
  CHECK(q->recipients[1].reply == "duplicate of message 1");
  CHECK(s.ledger().find_duplicate("<angebot@example.com>", "d1", "carl@firma.local", kNow) == second);

  // Delivering carl finishes the message: a duplicate is not a failure.
  CHECK(s.queue().record_results(second, {{"carl@firma.local", RcptState::delivered, "250 ok"}}, "250 ok", kNow) ==
        MsgState::delivered);

  // A third copy whose every recipient had it: delivered on arrival, so DELE may follow.
  auto all_dup = fetched("u3", {});
  all_dup.done_recipients = {{"anna@firma.local", RcptState::duplicate, "duplicate of message 1", "", ""}};
  auto third = s.queue().enqueue(all_dup, kNow + 6);
  CHECK(s.queue().get(third)->state == MsgState::delivered);
  CHECK(s.queue().get(third)->last_reply == "duplicate of message 1");
  auto uids = s.ledger().uidls_to_delete("domain", false, 0, kNow + 7);
  CHECK(std::find(uids.begin(), uids.end(), "u3") != uids.end());

  s.ledger().prune_duplicates(kNow + 100);
  CHECK(s.ledger().find_duplicate("<angebot@example.com>", "d1", "anna@firma.local", 0) == std::nullopt);
}

TEST_CASE("multidrop store: a redirected recipient and its copy commit together", "[store]") {
  TempDir t;
  Store s(t.path());
  auto id = s.queue().enqueue(fetched("u1", {"anna@firma.local", "nobody@firma.local"}), kNow);
  NewMessage copy;
  copy.account = "domain";
  copy.sender = "kunde@example.com";
  copy.recipients = {"postmaster@firma.local"};
  copy.spool_name = "copy.msg";
  copy.size = 180;
  MessageId spawned = 0;
  auto state = s.queue().record_results(id,
                                {{"anna@firma.local", RcptState::delivered, "250 ok"},
                                 {"nobody@firma.local", RcptState::redirected,
                                  "550 5.1.1 unknown user; redirected to postmaster@firma.local"}},
                                "250 ok", kNow + 60, nullptr, &copy, &spawned);
  CHECK(state == MsgState::delivered);  // redirected is done, not failed
  REQUIRE(spawned > id);
  auto c = s.queue().get(spawned);
  REQUIRE(c);
  CHECK(c->state == MsgState::queued);
  CHECK(c->uidl.empty());  // the UIDL belongs to the original
  REQUIRE(c->recipients.size() == 1);
  CHECK(c->recipients[0].address == "postmaster@firma.local");
  auto o = s.queue().get(id);
  CHECK(o->recipients[1].state == RcptState::redirected);
  CHECK(s.ledger().uidls_to_delete("domain", false, 0, kNow + 61) == std::vector<std::string>{"u1"});
}

TEST_CASE("multidrop store: a v1 database is migrated with its queue intact", "[store]") {
  TempDir t;
  MessageId id = 0;
  {
    Store s(t.path());
    id = s.queue().enqueue(fetched("u1", {"anna@firma.local", "ben@firma.local"}), kNow);
    s.queue().record_results(id, {{"anna@firma.local", RcptState::delivered, "250 ok"}}, "250 ok", kNow + 60);
  }
  {  // turn it back into what release 1 wrote: the old recipients table, no seen_messages, no alerts
    SQLite::Database db((t.path() / "postbridge.db").string(), SQLite::OPEN_READWRITE);
    db.exec(R"sql(
CREATE TABLE r1 (
  msg_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  address TEXT    NOT NULL,
  state   TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  reply   TEXT    NOT NULL DEFAULT '',
  notify  TEXT    NOT NULL DEFAULT '',
  orcpt   TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (msg_id, address));
INSERT INTO r1 SELECT * FROM recipients;
DROP TABLE recipients;
ALTER TABLE r1 RENAME TO recipients;
DROP TABLE seen_messages;
DROP TABLE alerts;
ALTER TABLE uidls DROP COLUMN message_id;
ALTER TABLE uidls DROP COLUMN provider_size;
ALTER TABLE uidls DROP COLUMN content_digest;
PRAGMA user_version = 1;)sql");
    CHECK_THROWS(db.exec("UPDATE recipients SET state = 'redirected'"));
  }
  Store s(t.path());
  auto q = s.queue().get(id);
  REQUIRE(q);
  REQUIRE(q->recipients.size() == 2);
  CHECK(q->recipients[0].state == RcptState::delivered);
  CHECK(q->recipients[1].state == RcptState::pending);
  CHECK(s.queue().record_results(id, {{"ben@firma.local", RcptState::redirected, "redirected"}}, "", kNow + 120) ==
        MsgState::delivered);
  CHECK(s.ledger().find_duplicate("<angebot@example.com>", "d1", "x@firma.local", 0) == std::nullopt);
  SQLite::Database db((t.path() / "postbridge.db").string());
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == 4);  // every later step ran too (alerts, IMAP identity)
  SQLite::Statement fk(db, "PRAGMA foreign_key_check");
  CHECK_FALSE(fk.executeStep());  // no dangling recipient rows
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");

  // The database as release 1 left it is kept, so that going back to release 1 stays possible.
  const auto kept = t.path() / "postbridge.db.schema-1.bak";
  REQUIRE(std::filesystem::exists(kept));
  SQLite::Database old(kept.string(), SQLite::OPEN_READONLY);
  CHECK(old.execAndGet("PRAGMA user_version").getInt() == 1);
  CHECK(old.execAndGet("SELECT count(*) FROM messages").getInt() == 1);
}
