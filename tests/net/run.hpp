// Runs one coroutine under test to completion and hands back its result, so a test reads like a
// plain call. Whatever the coroutine threw is rethrown in the test, where Catch2 reports it.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace pb::test {

namespace detail {

template <class T>
T run_on(boost::asio::io_context& ctx, boost::asio::awaitable<T> work, bool stop_when_done) {
  std::exception_ptr error;
  if constexpr (std::is_void_v<T>) {
    boost::asio::co_spawn(ctx, std::move(work), [&](std::exception_ptr e) {
      error = e;
      if (stop_when_done) ctx.stop();
    });
    ctx.run();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<T> result;
    boost::asio::co_spawn(ctx, std::move(work), [&](std::exception_ptr e, T value) {
      error = e;
      if (!e) result = std::move(value);
      if (stop_when_done) ctx.stop();
    });
    ctx.run();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

}  // namespace detail

// On an io_context of its own, run until nothing is left to do.
template <class T>
T run(boost::asio::awaitable<T> work) {
  boost::asio::io_context ctx;
  return detail::run_on(ctx, std::move(work), false);
}

// On `ctx`, which also holds work that never ends by itself (a fake server's accept loop): the
// context is stopped as soon as `work` is done.
template <class T>
T run_until_done(boost::asio::io_context& ctx, boost::asio::awaitable<T> work) {
  return detail::run_on(ctx, std::move(work), true);
}

}  // namespace pb::test
