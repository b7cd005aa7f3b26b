// The poll scheduler: one loop per enabled account, each waiting for its timer (interval, jitter,
// backoff after failures, the provider's LOGIN-DELAY), a bound on parallel polls, and the record of
// every poll (account state, event, log). Policy lives in queue/backoff; this is the timing.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "app/context.hpp"
#include "app/deliverer.hpp"
#include "app/fetcher.hpp"
#include "app/signal.hpp"

namespace pb::app {

class Scheduler {
 public:
  // Polled mail goes to `local`, which the poll waits for before its DELE.
  Scheduler(Context& ctx, Deliverer& local);

  // A loop for every enabled account that has none running yet (at start and after a reload).
  void start();
  // After a reload: loops of removed or disabled accounts end; an account whose connection or
  // credentials changed forgets its error state and polls at once.
  void config_changed();
  // Wakes every loop and waiter so they see ctx.stopping.
  void stop();

  // The admin pressed "Poll now": false when the account has no running loop.
  bool poll_now(const std::string& account);
  bool polling(const std::string& account) const;
  int active_polls() const { return active_polls_; }
  // Notified whenever a poll ends (or the service stops).
  Signal& polls_done() { return polls_done_; }

  // One poll outside the timers (--once): waits for a slot, polls, records the outcome.
  boost::asio::awaitable<PollOutcome> poll_and_record(config::Account a);

 private:
  struct Loop {
    explicit Loop(const boost::asio::any_io_executor& ex) : wake(ex) {}
    Signal wake;
    std::string fingerprint;
    bool reset = false;    // config changed: forget the error state, poll soon
    bool poll_now = false; // the admin pressed "Poll now"
    bool polling = false;
    bool running = true;
  };

  boost::asio::awaitable<void> account_loop(std::string name, std::shared_ptr<Loop> loop);
  boost::asio::awaitable<PollOutcome> poll_once(const config::Account& a);
  boost::asio::awaitable<void> acquire_slot();
  void release_slot();
  std::chrono::seconds next_poll_delay(const config::Account& a, const PollOutcome& o, int failures);
  void record_poll(const config::Account& a, const PollOutcome& o, queue::AccountState& st, std::chrono::seconds next);
  std::string unconfirmed_user(const config::Account& a, queue::PollEnd end);

  Context& ctx_;
  Deliverer& local_;
  Signal slot_free_, polls_done_;
  std::map<std::string, std::shared_ptr<Loop>> loops_;
  std::map<std::string, std::chrono::seconds> min_interval_;  // CAPA LOGIN-DELAY per account
  int active_polls_ = 0;
};

}  // namespace pb::app
