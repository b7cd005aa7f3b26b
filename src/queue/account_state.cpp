// The account_state table (see account_state.hpp).
#include "queue/account_state.hpp"

#include "queue/database.hpp"

namespace pb::queue {

void AccountStates::save(const AccountState& a) {
  auto tx = db_.write_tx();
  db_.exec(
      "INSERT INTO account_state (name, state, last_poll, last_success, next_poll, last_error, failures) "
      "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET state = excluded.state, "
      "last_poll = excluded.last_poll, last_success = excluded.last_success, "
      "next_poll = excluded.next_poll, last_error = excluded.last_error, failures = excluded.failures",
      a.name, a.state, a.last_poll, a.last_success, a.next_poll, a.last_error, a.failures);
  tx.commit();
}

std::optional<AccountState> AccountStates::find(const std::string& name) {
  std::optional<AccountState> out;
  db_.each(
      "SELECT name, state, last_poll, last_success, next_poll, last_error, failures "
      "FROM account_state WHERE name = ?",
      [&](const SQLite::Statement& s) {
        AccountState a;
        a.name = s.getColumn(0).getString();
        a.state = s.getColumn(1).getString();
        a.last_poll = s.getColumn(2).getInt64();
        a.last_success = s.getColumn(3).getInt64();
        a.next_poll = s.getColumn(4).getInt64();
        a.last_error = s.getColumn(5).getString();
        a.failures = s.getColumn(6).getInt();
        out = std::move(a);
      },
      name);
  return out;
}

}  // namespace pb::queue
