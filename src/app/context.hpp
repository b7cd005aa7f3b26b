// What every role of the running service shares: the executor, the store, the current config
// (replaced as a whole on reload), the stop flag and the dialer. Roles keep no other global state.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <random>

#include "config/config.hpp"
#include "net/transport.hpp"
#include "queue/store.hpp"
#include "routing/loop_mark.hpp"
#include "util/login_throttle.hpp"

namespace pb::endpoint {
class OAuthTokens;
}

namespace pb::app {

// Opens a client connection, with net::connect's arguments and promises (host, port, implicit TLS,
// TLS options, timeout). The fetcher and the deliverer dial only through it: the seam where tests
// hand them a scripted transport instead of a socket.
using Dialer = std::function<boost::asio::awaitable<std::unique_ptr<net::Transport>>(
    std::string host, std::uint16_t port, bool implicit_tls, net::TlsClientOptions tls,
    std::chrono::milliseconds timeout)>;

// A provider's certificate as the last fetch or delivery saw it (the handshake has it anyway):
// what the alerter warns about before it expires or once it stops verifying.
struct SeenCertificate {
  std::string host;
  std::int64_t not_after = 0;  // Unix seconds; 0: not known
  std::string refused;         // why it no longer verifies; empty: it verified
};

struct Context {
  boost::asio::any_io_executor executor;
  queue::Store& store;
  std::shared_ptr<const config::Config> config;
  bool stopping = false;
  // Wakes the deliverer of a route after something was queued outside it (bounces, notices).
  std::function<void(const std::string& route)> on_queued{};
  // Wakes the alerter after a poll recorded its account's state: a refused login is told at once.
  std::function<void()> on_polled{};
  std::mt19937_64 rng{std::random_device{}()};
  // OAuth access tokens of the accounts and smarthosts that use them; oauth_tokens(ctx) makes it.
  std::shared_ptr<endpoint::OAuthTokens> oauth{};
  // Wrong passwords per client address, shared by the relay's AUTH and the status page's login:
  // a guesser is slowed at both doors at once.
  login::LoginThrottle logins{};
  // Signs our loop header and Received: stamps (routing/loop_mark.hpp); the service sets it at start.
  std::optional<routing::LoopMarker> loop_marker{};
  // Per "account NAME" / "smarthost NAME" / "office server" (app/certificates.hpp).
  std::map<std::string, SeenCertificate> certificates{};
  // The network, unless a test replaces it.
  Dialer dialer = net::connect;

  double random_unit() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }
  static queue::UnixTime now() { return static_cast<queue::UnixTime>(std::time(nullptr)); }
};

// The service's one OAuthTokens (in the state directory), made on first use.
endpoint::OAuthTokens& oauth_tokens(Context& ctx);

}  // namespace pb::app
