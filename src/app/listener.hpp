// The relay listener: accepts SMTP from the office server, scanners and scripts on [relay] listen
// (STARTTLS) and listen_tls (implicit TLS, RFC 8314), applies the relay policy (allow_networks or
// AUTH, a smarthost for the sender — never an open relay), spools each message and answers 250
// only after the group commit made it durable.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/committer.hpp"
#include "app/context.hpp"

namespace boost::asio::ssl { class context; }

namespace pb::app {

class Listener {
 public:
  // on_queued(route) is called for every accepted message (wakes that route's deliverer).
  Listener(Context& ctx, GroupCommitter& committer, std::function<void(const std::string&)> on_queued);
  ~Listener();
  // Binds every [relay] listen and listen_tls address. Throws std::runtime_error in plain words
  // ("127.0.0.1:25 is in use", "permission denied: port 25 needs CAP_NET_BIND_SERVICE").
  void start();
  // After a reload (ctx.config is the new one): loads the TLS certificate and key again (a
  // renewed certificate is used from the next connection on; a broken one is logged and the old
  // one kept) and, when [relay] listen or listen_tls changed, closes the old addresses and binds
  // the new ones.
  // Sessions in progress go on. Throws like start() when a new address cannot be bound.
  void reconfigure();
  void stop();
  int sessions() const;  // sessions holding a connection slot now

 private:
  void bind_all();  // every [relay] listen and listen_tls address of ctx.config; throws like start()
  void bind(const inet::Endpoint& ep, bool implicit_tls);
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket, bool implicit_tls);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pb::app
