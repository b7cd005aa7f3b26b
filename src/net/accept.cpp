// The accept loop and listener setup shared by the relay and the status page (net/accept.hpp says
// what they promise).
#include "net/accept.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

#include "util/log.hpp"

namespace pb::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
// Long enough that a process out of descriptors does not burn a core, short enough that a client
// hardly notices once a session has ended and freed one.
constexpr std::chrono::milliseconds kAcceptPause{100};
}  // namespace

std::unique_ptr<tcp::acceptor> listen_on(const asio::any_io_executor& executor, const tcp::endpoint& endpoint,
                                         boost::system::error_code& ec) {
  auto acc = std::make_unique<tcp::acceptor>(executor);
  acc->open(endpoint.protocol(), ec);
  if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc->bind(endpoint, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return nullptr;
  return acc;
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::string who, std::string where,
                                  std::function<void(tcp::socket)> on_accept) {
  boost::system::error_code failing;  // the error of the current run of failures, if any
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      if (ec != failing)
        log::error(who + ": cannot accept connections on " + where + ": " + ec.message() + " (retrying every " +
                   std::to_string(kAcceptPause.count()) + " ms)");
      failing = ec;
      asio::steady_timer pause(acceptor.get_executor(), kAcceptPause);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (failing) log::notice(who + ": accepting connections on " + where + " again");
    failing.clear();
    on_accept(std::move(socket));
  }
}

}  // namespace pb::net
