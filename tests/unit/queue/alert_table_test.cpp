// The alerts table (src/queue/alert_table.cpp): what goes in comes out, and a store opened again
// (a restart) still knows the open alerts.
#include "queue/store.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace pb::queue;
using pb::test::TempDir;

TEST_CASE("alert table: rows round-trip and survive reopening the store") {
  TempDir dir;
  AlertRow a{"mailbox_login", "account info", 100, 160, 160, 0, "the provider refuses the login", "check it"};
  AlertRow b{"queued_long", "route local", 50, 0, 0, 0, "3 messages wait", "look at the office server"};
  {
    Store store(dir.path());
    CHECK(store.alerts().all().empty());
    store.alerts().replace_all({a, b});
  }
  Store store(dir.path());
  auto rows = store.alerts().all();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].condition == "mailbox_login");
  CHECK(rows[0].object == "account info");
  CHECK(rows[0].since == 100);
  CHECK(rows[0].raised_at == 160);
  CHECK(rows[0].last_sent == 160);
  CHECK(rows[0].words == "the provider refuses the login");
  CHECK(rows[0].fix == "check it");
  CHECK(rows[1].condition == "queued_long");
  store.alerts().replace_all({b});
  rows = store.alerts().all();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].object == "route local");
  store.alerts().replace_all({});
  CHECK(store.alerts().all().empty());
}
