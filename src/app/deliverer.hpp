// Delivers the queued messages of ONE route ("local" or "smarthost:NAME") over a few reusable
// SMTP/LMTP sessions. Outcomes are classified by scope (smtp/classify): a refused recipient or
// message backs off or bounces alone; a failure of the whole server (down, login rejected, TLS,
// provider quota) pauses the route with its own backoff instead of burning every message's retries
// (a retry storm). Send limits (max_per_hour/day) hold messages back without counting a try.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <deque>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "app/bounce.hpp"
#include "app/context.hpp"
#include "app/signal.hpp"
#include "endpoint/route.hpp"
#include "queue/ratelimit.hpp"

namespace pb::smtp {
class Client;
struct SendResult;
}

namespace pb::app {

class Deliverer {
 public:
  Deliverer(Context& ctx, std::string route);
  boost::asio::awaitable<void> run();  // until ctx.stopping or the route leaves the config
  void kick() { wake_.notify(); }      // new mail, queue changed by the CLI
  void stop() { wake_.notify(); }
  // Notified whenever a delivery attempt finished (any outcome) or the route was paused.
  Signal& progress() { return progress_; }
  // True once a delivery attempt for this message ended since it was queued (any outcome).
  bool attempted(queue::MessageId id) const { return attempted_.contains(id); }
  void forget(queue::MessageId id) { attempted_.erase(id); }
  // Delivery attempts finished since start, of any mailbox's or sender's message: a poll waiting
  // behind other mailboxes' mail sees the route move even while none of its own is done.
  std::uint64_t finished_count() const { return finished_count_; }
  // Nothing due now, nothing in flight (or the route is paused/limited): --once may finish.
  bool idle();
  bool busy() const { return workers_ > 0; }  // a session is open (shutdown waits for it)
  // After a reload: a route whose endpoint or credentials changed is resumed at once.
  void config_changed();
  void resume();  // admin: try now

  // --- status (page, --once) ---
  const std::string& route() const { return route_; }
  queue::UnixTime paused_until() const { return paused_until_; }
  const std::string& pause_reason() const { return pause_reason_; }
  bool auth_failed() const { return auth_failed_; }
  // Paused because the OAuth login needs a person to sign in again (no or a refused refresh token).
  bool login_needed() const { return login_needed_; }
  queue::UnixTime rate_limited_until() const { return rate_limited_until_; }
  int sent_last_hour() const;
  int sent_last_day() const;
  const std::string& last_reply() const { return last_reply_; }

 private:
  boost::asio::awaitable<void> worker();
  boost::asio::awaitable<void> deliver_one(smtp::Client& client, const endpoint::Route& route, queue::QueuedMessage& msg);
  boost::asio::awaitable<void> pop_before_smtp(const endpoint::Route& route);
  // An OAuth token could not be had: pauses the route as fits the cause.
  enum class TokenProblem { login_needed, config, transient };
  void token_failure(const std::optional<endpoint::Route>& route, const std::string& what, TokenProblem problem);
  bool take_batch(const endpoint::Route& route, std::deque<queue::QueuedMessage>& batch);
  void pause_route(const std::string& reason, bool auth, std::chrono::seconds delay);
  void pause_route_backoff(const endpoint::Route& route, const std::string& reason, bool auth, bool network);
  void give_back(std::deque<queue::QueuedMessage>& batch);  // taken but never sent
  void refill();
  bool rate_limited(const endpoint::Route& route);
  void expire(const endpoint::Route& route, queue::QueuedMessage& msg);
  void notify_delay(const endpoint::Route& route, queue::QueuedMessage& msg);
  void finish(queue::MessageId id);
  bool redirect_refused(const queue::QueuedMessage& msg, const smtp::SendResult& result,
                        std::vector<queue::DeliveryResult>& results, std::vector<BounceRecipient>& bounced,
                        std::optional<queue::NewMessage>& copy);

  Context& ctx_;
  std::string route_;
  Signal wake_, progress_;
  std::deque<queue::QueuedMessage> pending_;
  std::unordered_set<queue::MessageId> in_flight_;  // taken from the store, not finished
  std::unordered_set<queue::MessageId> attempted_;
  std::uint64_t finished_count_ = 0;
  int workers_ = 0;
  int route_failures_ = 0;
  queue::UnixTime paused_until_ = 0;
  std::string pause_reason_;
  bool auth_failed_ = false;
  bool login_needed_ = false;
  bool fresh_token_next_ = false;  // OAuth: the server refused the last access token
  std::string fingerprint_;
  std::optional<queue::SendWindow> window_;
  int window_hour_ = -1, window_day_ = -1;  // limits the window was built for
  queue::UnixTime rate_limited_until_ = 0;
  std::string last_reply_;
};

}  // namespace pb::app
