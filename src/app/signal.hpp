// A level-triggered wake-up for coroutines on one io_context: notify() wakes every current waiter
// (a steady_timer parked at "never" and cancelled to wake). Cheap, no threads.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace pb::app {

class Signal {
 public:
  explicit Signal(const boost::asio::any_io_executor& ex) : timer_(ex, std::chrono::steady_clock::time_point::max()) {}
  void notify() {
    timer_.cancel();
    timer_.expires_at(std::chrono::steady_clock::time_point::max());
  }
  // Waits until notify() or `limit` elapsed, whichever is first.
  boost::asio::awaitable<void> wait(std::chrono::steady_clock::duration limit) {
    // The guard wakes everybody when it expires: waiters re-check their condition, so a spurious
    // wake-up is harmless, and nothing here refers to this frame after it returns.
    boost::asio::steady_timer guard(timer_.get_executor(), limit);
    guard.async_wait([this](boost::system::error_code ec) {
      if (!ec) notify();
    });
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    guard.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace pb::app
