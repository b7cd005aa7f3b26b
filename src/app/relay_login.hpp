// Relay AUTH logins: the password hash is checked on a thread pool, never on the mail thread; an
// unknown name costs the same hashing as a known one, so timing tells no names; names match
// regardless of case; an address that failed too often gets no check at all until its wait is over.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "smtp/server.hpp"
#include "util/login_throttle.hpp"

namespace pb::app {

class RelayLogin {
 public:
  // verify(password, hash) is password::verify_password in the service; runs on `pool`.
  using Verifier = std::function<bool(const std::string& password, const std::string& hash)>;

  // `throttle` is shared with the status page (app::Context::logins) and, like this object, used
  // from the mail thread only.
  RelayLogin(boost::asio::any_io_executor pool, login::LoginThrottle& throttle, Verifier verify);

  // The login `user` / `password` from `peer_ip` against the [[relay.user]]s of `cfg` (kept alive
  // while the hash is checked, whatever a reload does meanwhile). Resumes on the caller's executor.
  boost::asio::awaitable<smtp::AuthResult> check(std::shared_ptr<const config::Config> cfg, std::string user,
                                                 std::string password, std::string peer_ip);

 private:
  boost::asio::any_io_executor pool_;
  login::LoginThrottle& throttle_;
  Verifier verify_;
};

}  // namespace pb::app
