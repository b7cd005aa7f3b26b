// Listening sockets for every server role (the relay's SMTP addresses, the status page): opening
// one, and the one accept loop, which never spins when accept fails (EMFILE, ENFILE, ENOBUFS).
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <memory>
#include <string>

namespace pb::net {

// An acceptor bound to `endpoint` (SO_REUSEADDR, the system's longest backlog); nullptr and `ec`
// set when a step fails, so the caller can name its config key and a hint in the message.
std::unique_ptr<boost::asio::ip::tcp::acceptor> listen_on(const boost::asio::any_io_executor& executor,
                                                          const boost::asio::ip::tcp::endpoint& endpoint,
                                                          boost::system::error_code& ec);

// Hands each accepted connection to `on_accept` until the acceptor is closed. A failed accept is
// logged once per run of failures ("<who>: cannot accept connections on <where>: ...") and retried
// after a short pause: the process is out of file descriptors, and a busy loop would starve the
// sessions whose ending frees them. The acceptor must outlive the loop (the caller keeps a closed
// one alive until the loop has seen it closed).
boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor, std::string who,
                                         std::string where,
                                         std::function<void(boost::asio::ip::tcp::socket)> on_accept);

}  // namespace pb::net
