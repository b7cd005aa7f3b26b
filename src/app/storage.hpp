// Free space in the state folder against [service] min_free_space. Every role that is about to
// take on new mail asks first, so a full disk refuses mail (452) instead of failing half-way.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "app/context.hpp"

namespace pb::app {

struct StorageCheck {
  bool ok = true;
  std::uint64_t free = 0;      // bytes available in the state folder (0 when unknown)
  std::uint64_t min_free = 0;  // [service] min_free_space
  std::string words;           // why not ok, in plain words for the log and the page
};

// Is there room for `need` more bytes while keeping min_free_space free? Unknown space is ok
// (the writes then fail on their own, with their own words).
StorageCheck check_storage(const Context& ctx, std::uint64_t need = 0);

// Thrown by a role that stops taking in mail because check_storage said no.
class StorageFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Logs a storage problem at most once a minute per consequence: a scanner retrying every second
// must not flood the log.
void log_storage_problem(const StorageCheck& check, const std::string& consequence);

}  // namespace pb::app
