// Each POP3 account's health as the last poll left it: state, times, last error, failure count.
// Promise: one row per account name, replaced as a whole (an upsert).
#pragma once
#include <optional>
#include <string>

#include "queue/message.hpp"

namespace pb::queue {

namespace db {
class Database;
}

struct AccountState {
  std::string name;
  std::string state = "ok";  // ok | auth-failed | error | disabled
  UnixTime last_poll = 0, last_success = 0, next_poll = 0;
  std::string last_error;
  int failures = 0;  // consecutive failed polls
};

class AccountStates {
 public:
  explicit AccountStates(db::Database& db) : db_(db) {}
  void save(const AccountState& s);
  std::optional<AccountState> find(const std::string& name);

 private:
  db::Database& db_;
};

}  // namespace pb::queue
