// Relay AUTH checks (see relay_login.hpp): throttle first, then one hash on the pool for every
// name, known or not, then the throttle told the outcome.
#include "app/relay_login.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "util/log.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

namespace pb::app {
namespace asio = boost::asio;
using Clock = login::LoginThrottle::Clock;

namespace {

// Runs on the pool. Parameters by value: the coroutine frame owns them (a capturing lambda
// coroutine would not, and g++ 12 mishandles those inside co_spawn).
asio::awaitable<bool> verify_on_pool(RelayLogin::Verifier verify, std::string password, std::string hash) {
  bool ok = verify(password, hash);
  std::fill(password.begin(), password.end(), '\0');
  co_return ok;
}

std::chrono::seconds whole_seconds(Clock::duration d) {
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(d));
}

}  // namespace

RelayLogin::RelayLogin(asio::any_io_executor pool, login::LoginThrottle& throttle, Verifier verify)
    : pool_(std::move(pool)), throttle_(throttle), verify_(std::move(verify)) {}

asio::awaitable<smtp::AuthResult> RelayLogin::check(std::shared_ptr<const config::Config> cfg, std::string user,
                                                    std::string password, std::string peer_ip) {
  // Refused unchecked while the address waits: no hash, so a guess costs the guesser a round
  // trip and us nothing, and a right password sent now tells nothing either.
  if (auto wait = throttle_.wait(peer_ip, Clock::now())) co_return smtp::AuthResult{false, "", whole_seconds(*wait)};
  const auto& users = cfg->relay.users;
  if (users.empty()) co_return smtp::AuthResult{};  // AUTH is not even offered then
  const config::Login* known = cfg->relay.find_user(user);
  // An unknown name is hashed against the first user's hash (and never accepted), so it takes as
  // long as a known one: the time of the 535 tells no names.
  std::string hash = known ? known->password_hash : users.front().password_hash;
  bool match = co_await asio::co_spawn(pool_, verify_on_pool(verify_, std::move(password), std::move(hash)),
                                       asio::use_awaitable);
  if (match && known) {
    throttle_.succeeded(peer_ip);
    co_return smtp::AuthResult{true, known->name, std::nullopt};
  }
  log::warn("relay: login as '" + text::printable(user, 64) + "' from " + peer_ip + " rejected");
  auto failure = throttle_.failed(peer_ip, "relay", Clock::now());
  if (failure.started_waiting)
    log::warn("relay: " + std::to_string(failure.failures) + " failed logins from " + peer_ip +
              "; its next logins are refused unchecked for " +
              format_duration(std::chrono::duration_cast<Duration>(failure.wait)) +
              ", the wait doubling with each further failure (password guessing?)");
  co_return smtp::AuthResult{};
}

}  // namespace pb::app
