// The status page's HTTP server: Boost.Beast on the service's executor, one coroutine per
// connection, HTTP/1.1 keep-alive, optional HTTPS and Basic login ([web]). Promises: bounded work
// per client (header, body, connection, stream and time limits), so slow or hostile clients cannot
// starve mail processing; only requests for its own names are answered (http/site.hpp); password
// guessing is slowed per address (the shared login::LoginThrottle); stop() ends every connection.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "config/config.hpp"
#include "http/model.hpp"

namespace pb::http {

struct Limits {
  std::size_t header_bytes = 16 * 1024;  // 431 beyond
  std::size_t body_bytes = 64 * 1024;    // 413 beyond
  int connections = 64;                  // open at once; 503 beyond
  int connections_per_address = 16;      // from one address (an IPv6 /64), so one client cannot
                                         // take every slot; 503 beyond
  int streams = 32;                      // concurrent /api/stream clients; 503 beyond
  std::chrono::milliseconds idle{30'000};     // keep-alive wait for the next request
  std::chrono::milliseconds request{10'000};  // TLS handshake, or one request from first byte to end;
                                              // also the wait for a new connection's first request
  std::chrono::milliseconds write{10'000};    // one response or stream message
  std::chrono::milliseconds busy{2000};       // all of a 503 "full" answer, TLS handshake included
  std::chrono::milliseconds stream_poll{1000};    // the stream looks for new events this often
  std::chrono::milliseconds stream_status{5000};  // and sends a status snapshot this often
  std::chrono::milliseconds auth_failure_delay{1000};
  std::chrono::milliseconds auth_cache{60'000};  // a good login is trusted this long
};

class Server {
 public:
  // Keeps a copy of `cfg`; `view` must outlive the server's connections (stop() ends them). Wrong
  // passwords are counted in view.logins() under the door "status page".
  Server(boost::asio::any_io_executor executor, const config::Web& cfg, ServiceView& view, Limits limits = {});
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS files, binds and starts accepting. Does nothing when [web] listen is off.
  // Throws std::runtime_error with plain words (port in use, unreadable certificate).
  void start();
  // Stops accepting and closes every connection; their coroutines end without touching `view`.
  // Like start(), call it on the executor's thread (the server is not thread-safe).
  void stop();
  // After a reload, on the executor's thread: another listen address or HTTP <-> HTTPS starts a
  // new server (open connections close; the page reconnects); otherwise the logins, host names
  // and certificate (read again, so a renewed one is used) change in place and the login cache is
  // emptied. Throws like start() (a broken new certificate: nothing changed).
  void reconfigure(const config::Web& cfg);
  // The bound port (after start; useful with port 0), 0 when not listening.
  std::uint16_t port() const;

  struct State;  // opaque (server.cpp); shared with the connection coroutines, which may outlive stop()

 private:
  std::shared_ptr<State> state_;
};

}  // namespace pb::http
