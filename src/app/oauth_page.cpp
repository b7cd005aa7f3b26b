#include "app/oauth_page.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <ctime>

#include "app/oauth_login.hpp"
#include "oauth/token_client.hpp"
#include "util/log.hpp"

namespace pb::app {
namespace asio = boost::asio;
using endpoint::oauth_client_config;

namespace {

// A browser sign-in's address is void after this (the provider's code lives ~10 minutes too).
constexpr std::int64_t kBrowserLoginSeconds = 600;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

bool in_progress(const http::OAuthLoginState& s) {
  return s.state == "starting" || s.state == "waiting" || s.state == "exchanging";
}

}  // namespace

struct PageLogins::Pending {
  std::shared_ptr<const config::Config> cfg;  // keeps subject.oauth2 alive across reloads
  OAuthSubject subject;
  oauth::ClientConfig client;
  http::OAuthLoginState st;
  std::string state_param, verifier, redirect_uri;  // browser flow
};

namespace {

using PendingPtr = std::shared_ptr<PageLogins::Pending>;

// The token file's key (oauth_login_of): "account.NAME", "smarthost.NAME".
std::string key_of(const std::string& kind, const std::string& name) { return kind + "." + name; }

std::string whose(const PendingPtr& p) { return p->subject.kind + " " + p->subject.name; }

bool expired(const http::OAuthLoginState& s) { return s.expires_at != 0 && s.expires_at <= unix_now(); }

}  // namespace

void PageLogins::fail(const std::string& key, const std::string& why) {
  auto it = logins_.find(key);
  if (it == logins_.end()) return;
  it->second->st.state = "failed";
  it->second->st.error = why;
  log::warn("status page: OAuth sign-in of " + whose(it->second) + " failed: " + why);
}

std::string PageLogins::start(std::shared_ptr<const config::Config> cfg, const std::string& kind, const std::string& name,
                              const std::string& redirect_uri) {
  if (kind != "account" && kind != "smarthost") return "unknown kind '" + kind + "'";
  const std::string key = key_of(kind, name);
  if (auto it = logins_.find(key); it != logins_.end() && in_progress(it->second->st) && !expired(it->second->st))
    return "";  // the page shows the sign-in that is already waiting
  auto p = std::make_shared<Pending>();
  p->cfg = std::move(cfg);
  if (auto why = find_oauth_subject(*p->cfg, kind, name, p->subject); !why.empty()) return why;
  p->client = oauth_client_config(*p->subject.oauth2, p->subject.login.login_name);
  const config::OAuth2& o = *p->subject.oauth2;
  if (!o.device_authorization_url.empty()) {
    p->st.flow = "device";
    p->st.state = "starting";
    logins_[key] = p;
    asio::co_spawn(ex_, run_device(key, p), asio::detached);
  } else if (!o.authorization_url.empty()) {
    oauth::Provider provider;
    provider.name = o.provider;
    provider.authorization_url = o.authorization_url;
    provider.scopes = o.scopes;
    const oauth::Pkce pkce = oauth::make_pkce();
    p->verifier = pkce.verifier;
    p->state_param = oauth::make_pkce().verifier.substr(0, 32);
    p->redirect_uri = redirect_uri;
    p->st.flow = "browser";
    p->st.state = "waiting";
    p->st.url = oauth::authorization_request_url(provider, o.client_id, redirect_uri, p->state_param, pkce,
                                                 p->subject.username);
    p->st.expires_at = unix_now() + kBrowserLoginSeconds;
    logins_[key] = p;
  } else {
    return kind + " " + name + " has neither device_authorization_url nor authorization_url in its [" + kind +
           ".oauth2] table";
  }
  log::notice("status page: OAuth sign-in of " + whose(p) + " started (" + p->st.flow + " login)");
  return "";
}

std::optional<http::OAuthLoginState> PageLogins::state(const std::string& kind, const std::string& name) const {
  auto it = logins_.find(key_of(kind, name));
  if (it == logins_.end()) return std::nullopt;
  http::OAuthLoginState s = it->second->st;
  if (s.state == "waiting" && expired(s)) {
    s.state = "failed";
    s.error = "the sign-in was not completed in time; start it again";
  }
  return s;
}

// The callback is an address any web page can make a browser load (an <img>): only the state of a
// waiting sign-in gives it any effect (RFC 6749 10.12), and then once — the sign-in moves on to
// "exchanging", so a replayed address finds nothing waiting. Anything else changes nothing.
std::string PageLogins::finish(const std::string& redirect_text) {
  using Kind = RedirectResult::Kind;
  for (auto& [key, p] : logins_) {
    if (p->st.flow != "browser" || p->st.state != "waiting" || expired(p->st)) continue;
    RedirectResult r = redirect_result(redirect_text, p->state_param);
    if (r.kind == Kind::code) return exchange(key, r.value);
    if (r.kind == Kind::refused) {  // this sign-in's own state: the provider said no
      fail(key, r.value);
      return r.value;
    }
  }
  return "no sign-in waits for this address (it may have expired or been used already): start it again from the "
         "status page";
}

std::string PageLogins::finish(const std::string& kind, const std::string& name, const std::string& redirect_text) {
  using Kind = RedirectResult::Kind;
  const std::string key = key_of(kind, name);
  auto it = logins_.find(key);
  if (it == logins_.end() || it->second->st.flow != "browser" || it->second->st.state != "waiting" ||
      expired(it->second->st))
    return "no browser sign-in of " + kind + " " + name + " is waiting: start it again";
  RedirectResult r = redirect_result(redirect_text, it->second->state_param);
  switch (r.kind) {
    case Kind::not_redirect: return "that is not the address the sign-in ended on (it has no ?code=...&state=...)";
    case Kind::other_state:
      return "that address belongs to another sign-in (its state does not match); start the sign-in again";
    case Kind::refused: fail(key, r.value); return r.value;
    case Kind::code: break;
  }
  return exchange(key, r.value);
}

std::string PageLogins::exchange(const std::string& key, const std::string& code) {
  PendingPtr p = logins_.at(key);
  p->st.state = "exchanging";
  asio::co_spawn(ex_, run_exchange(key, p, code), asio::detached);
  return "";
}

// The sign-in's tokens are stored; a failure (the provider's words) marks it failed.
void PageLogins::complete(const std::string& key, const PendingPtr& p, const oauth::TokenResponse& t) {
  SavedLogin saved;
  try {
    saved = save_login(*p->cfg, p->subject, t);
  } catch (const std::exception& e) {
    if (logins_[key] == p) fail(key, e.what());
    return;
  }
  p->st.state = "done";
  p->st.user_code.clear();
  const std::string who = saved.signed_in_as.empty()
                              ? "the provider did not say who signed in; the first login at the mail server checks it"
                              : "signed in as " + saved.signed_in_as;
  log::notice("status page: OAuth sign-in of " + whose(p) + " done; tokens stored (" + who + ")");
  on_signed_in_(p->subject.kind, p->subject.name);
}

asio::awaitable<void> PageLogins::run_device(std::string key, PendingPtr p) {
  std::string error;
  oauth::TokenResponse token;
  try {
    oauth::DeviceAuthorization auth = co_await oauth::start_device_authorization(p->client);
    p->st.user_code = auth.user_code;
    p->st.verification_uri = auth.verification_uri_complete.empty() ? auth.verification_uri : auth.verification_uri_complete;
    p->st.expires_at = unix_now() + auth.expires_in.count();
    p->st.state = "waiting";
    token = co_await oauth::poll_device_token(p->client, auth);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (logins_[key] != p) co_return;  // replaced by a newer sign-in meanwhile
  if (!error.empty()) fail(key, error);
  else complete(key, p, token);
}

asio::awaitable<void> PageLogins::run_exchange(std::string key, PendingPtr p, std::string code) {
  std::string error;
  oauth::TokenResponse token;
  try {
    token = co_await oauth::exchange_authorization_code(p->client, code, p->verifier, p->redirect_uri);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (logins_[key] != p) co_return;
  if (!error.empty()) fail(key, error);
  else complete(key, p, token);
}

}  // namespace pb::app
