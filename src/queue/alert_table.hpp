// The open alerts as plain rows (table alerts): what the admin was told and when, so a restart
// neither tells a problem again nor forgets one. Promise: replace_all() swaps the whole set in one
// transaction; the rows carry words, never a secret.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pb::queue {

namespace db {
class Database;
}

struct AlertRow {
  std::string condition;  // alerts::to_string(Condition); app/ converts
  std::string object;     // "account info", "route local"
  std::int64_t since = 0, raised_at = 0, last_sent = 0, absent_since = 0;
  std::string words, fix;
  bool operator==(const AlertRow&) const = default;
};

class AlertTable {
 public:
  explicit AlertTable(db::Database& db) : db_(db) {}
  std::vector<AlertRow> all();
  void replace_all(const std::vector<AlertRow>& rows);

 private:
  db::Database& db_;
};

}  // namespace pb::queue
