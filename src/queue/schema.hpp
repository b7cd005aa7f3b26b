// The database schema as numbered steps. PRAGMA user_version holds the last applied step.
// Promise: steps are only appended; a step never changes once released.
#pragma once
#include <span>

namespace pb::queue::db {

struct Migration {
  int version;
  const char* sql;
};

// Every step, in order; each runs inside one write transaction (SQLite DDL is transactional).
std::span<const Migration> migrations();

}  // namespace pb::queue::db
