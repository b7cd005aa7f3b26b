// OAuth sign-ins started from the status page ("Sign in" on a card): the same two flows as
// `postbridge oauth login`, run by the service. The device flow shows a code to enter on any
// computer; the browser flow (Google, or a provider without a device login) sends the browser to
// the provider and back to the page's /oauth/callback, or the admin pastes the address the
// sign-in ended on into the page (a browser that cannot reach the service's 127.0.0.1). Every
// call answers at once; the page asks for the state until the sign-in is done or failed. Tokens
// are stored only for the configured login (save_login checks who the provider says signed in).
// The page shows the state (http/ turns it into its JSON); the caller finds the subject.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "oauth/login.hpp"
#include "oauth/login_state.hpp"
#include "util/why_not.hpp"

namespace pb::oauth {


class PageLogins {
 public:
  // on_signed_in(kind, name): the tokens are stored; the caller lets the account or smarthost try now.
  PageLogins(boost::asio::any_io_executor ex, std::function<void(const std::string&, const std::string&)> on_signed_in)
      : ex_(std::move(ex)), on_signed_in_(std::move(on_signed_in)) {}

  // Whether a sign-in of it is under way and not yet void: starting another one would only
  // replace the code or address the admin may be looking at.
  bool in_progress(const std::string& kind, const std::string& name) const;
  // nullopt when a sign-in of `s` started, else why not. `redirect_uri`: where the browser flow
  // returns (the page's /oauth/callback).
  [[nodiscard]] WhyNot start(LoginSubject s, const std::string& redirect_uri);
  // nullopt: no sign-in was started for it since the service started.
  std::optional<PageLoginState> state(const std::string& kind, const std::string& name) const;
  // The address a browser sign-in ended on (pasted, or the callback's own target): nullopt when it
  // carries the state of a waiting sign-in and the code exchange started, else why not. A state
  // that matches no waiting sign-in changes nothing; the right state with error=... ends it.
  [[nodiscard]] WhyNot finish(const std::string& redirect_text);
  // Same, for one named sign-in (the page's paste box): a wrong state is said as such.
  [[nodiscard]] WhyNot finish(const std::string& kind, const std::string& name, const std::string& redirect_text);

  struct Pending;

 private:
  void fail(const std::string& key, const std::string& why);
  WhyNot exchange(const std::string& key, const std::string& code);
  void complete(const std::string& key, const std::shared_ptr<Pending>& p, const oauth::TokenResponse& t);
  boost::asio::awaitable<void> run_device(std::string key, std::shared_ptr<Pending> p);
  boost::asio::awaitable<void> run_exchange(std::string key, std::shared_ptr<Pending> p, std::string code);

  boost::asio::any_io_executor ex_;
  std::function<void(const std::string&, const std::string&)> on_signed_in_;
  std::map<std::string, std::shared_ptr<Pending>> logins_;  // "account.NAME" -> its sign-in
};

}  // namespace pb::oauth
