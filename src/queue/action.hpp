// The queue actions an admin takes on one message (retry, hold, release, delete, bounce), in one
// place for `postbridge queue ACTION ID` and the status page's POST /api/queue/ID/ACTION alike.
#pragma once
#include <functional>
#include <optional>
#include <string_view>

#include "queue/store.hpp"

namespace pb::queue {

enum class Action { retry, hold, release, remove, bounce };

// "retry", "hold", "release", "delete", "bounce"; nullopt for anything else.
std::optional<Action> parse_action(std::string_view word);

// Returns a DSN for the message to its sender and takes it out of the queue; false when that
// failed. The DSN itself is above this floor (app/bounce): the caller says how it is made.
using BounceFn = std::function<bool(const QueuedMessage&)>;

// Carries out `action` on the message `m` (as read just before); false when its state does not
// allow it (bounce: only a queued or held message). delete removes the row first, then its spool
// file: a crash between the two leaves an orphan file, swept at the next start.
bool apply(Store& store, const QueuedMessage& m, Action action, UnixTime now, const BounceFn& bounce);

}  // namespace pb::queue
