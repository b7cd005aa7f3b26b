// The queue actions on one message (queue/action.hpp says what they promise).
#include "queue/action.hpp"

#include "queue/spool.hpp"

namespace pb::queue {

std::optional<Action> parse_action(std::string_view word) {
  if (word == "retry") return Action::retry;
  if (word == "hold") return Action::hold;
  if (word == "release") return Action::release;
  if (word == "delete") return Action::remove;
  if (word == "bounce") return Action::bounce;
  return std::nullopt;
}

bool apply(Store& store, const QueuedMessage& m, Action action, UnixTime now, const BounceFn& bounce) {
  switch (action) {
    case Action::retry: return store.queue().retry_now(m.id, now);
    case Action::hold: return store.queue().set_held(m.id, true);
    case Action::release: return store.queue().set_held(m.id, false);
    case Action::bounce: return (m.state == MsgState::queued || m.state == MsgState::held) && bounce(m);
    case Action::remove: {
      auto spool = store.queue().remove(m.id);
      if (spool) remove_spool_file(store.spool_dir(), *spool);
      return spool.has_value();
    }
  }
  return false;
}

}  // namespace pb::queue
