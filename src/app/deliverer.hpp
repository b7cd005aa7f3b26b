// Delivers queued messages of route "local" to the office server over SMTP or LMTP, with up to
// [local] max_connections sessions, each reused for many messages. Failures are classified by
// scope: a refused recipient or message backs off alone; a dead or refusing server pauses the
// whole route (its own backoff) so messages do not burn their retries on it.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <deque>
#include <string>
#include <unordered_set>

#include "app/context.hpp"
#include "app/signal.hpp"

namespace pb::smtp { class Client; }

namespace pb::app {

class Deliverer {
 public:
  explicit Deliverer(Context& ctx);
  boost::asio::awaitable<void> run();  // until ctx.stopping
  void kick() { wake_.notify(); }      // new mail, config change
  void stop() { wake_.notify(); }
  // Notified whenever a delivery attempt finished (any outcome) or the route was paused.
  Signal& progress() { return progress_; }
  // True once a delivery attempt for this message ended since it was queued (any outcome).
  bool attempted(queue::MessageId id) const { return attempted_.contains(id); }
  void forget(queue::MessageId id) { attempted_.erase(id); }
  // The route is paused after a server-wide failure until this time (0 = not paused).
  queue::UnixTime paused_until() const { return paused_until_; }
  const std::string& pause_reason() const { return pause_reason_; }
  // Nothing due now, nothing in flight (or the route is paused): --once may finish.
  bool idle();
  void resume();  // config reload: try again at once
  bool busy() const { return workers_ > 0; }  // a session is open (shutdown waits for it)

 private:
  boost::asio::awaitable<void> worker();
  boost::asio::awaitable<void> deliver_one(smtp::Client& client, queue::QueuedMessage& msg);
  bool take_batch(std::deque<queue::QueuedMessage>& batch);
  void pause_route(const std::string& reason);
  void refill();

  Context& ctx_;
  Signal wake_, progress_;
  std::deque<queue::QueuedMessage> pending_;
  std::unordered_set<queue::MessageId> in_flight_;  // taken from the store, not finished
  std::unordered_set<queue::MessageId> attempted_;
  int workers_ = 0;
  int route_failures_ = 0;
  queue::UnixTime paused_until_ = 0;
  std::string pause_reason_;
};

}  // namespace pb::app
