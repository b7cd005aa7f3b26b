#include "app/oauth_page.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <ctime>

#include "app/oauth_login.hpp"
#include "oauth/token_client.hpp"
#include "util/log.hpp"

namespace pb::app {
namespace asio = boost::asio;

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

std::string key_of(const std::string& kind, const std::string& name) { return kind + ":" + name; }

}  // namespace

void PageLogins::fail(const std::string& key, const std::string& why) {
  auto it = logins_.find(key);
  if (it == logins_.end()) return;
  it->second->st.state = "failed";
  it->second->st.error = why;
  log::warn("status page: OAuth sign-in of " + key + " failed: " + why);
}

std::string PageLogins::start(std::shared_ptr<const config::Config> cfg, const std::string& kind, const std::string& name,
                              const std::string& redirect_uri) {
  if (kind != "account" && kind != "smarthost") return "unknown kind '" + kind + "'";
  const std::string key = key_of(kind, name);
  if (auto it = logins_.find(key); it != logins_.end() && in_progress(it->second->st) &&
                                   (it->second->st.expires_at == 0 || it->second->st.expires_at > unix_now()))
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
  log::notice("status page: OAuth sign-in of " + kind + " " + name + " started (" + p->st.flow + " login)");
  return "";
}

std::optional<http::OAuthLoginState> PageLogins::state(const std::string& kind, const std::string& name) const {
  auto it = logins_.find(key_of(kind, name));
  if (it == logins_.end()) return std::nullopt;
  http::OAuthLoginState s = it->second->st;
  if (s.state == "waiting" && s.expires_at != 0 && s.expires_at <= unix_now()) {
    s.state = "failed";
    s.error = "the sign-in was not completed in time; start it again";
  }
  return s;
}

std::string PageLogins::finish(const std::string& redirect_text) {
  for (auto& [key, p] : logins_) {
    if (p->st.flow != "browser" || p->st.state != "waiting") continue;
    std::string error;
    auto code = code_from_redirect(redirect_text, p->state_param, error);
    if (code) return exchange(key, *code);
    if (error.find("another sign-in") == std::string::npos) {  // ours, but the provider said no
      fail(key, error);
      return error;
    }
  }
  return "no sign-in waits for this address (it may have expired): start it again from the status page";
}

std::string PageLogins::finish(const std::string& kind, const std::string& name, const std::string& redirect_text) {
  const std::string key = key_of(kind, name);
  auto it = logins_.find(key);
  if (it == logins_.end() || it->second->st.flow != "browser" || it->second->st.state != "waiting")
    return "no browser sign-in of " + kind + " " + name + " is waiting: start it again";
  std::string error;
  auto code = code_from_redirect(redirect_text, it->second->state_param, error);
  if (!code) return error;
  return exchange(key, *code);
}

std::string PageLogins::exchange(const std::string& key, const std::string& code) {
  PendingPtr p = logins_.at(key);
  p->st.state = "exchanging";
  asio::co_spawn(ex_, run_exchange(key, p, code), asio::detached);
  return "";
}

// The sign-in's tokens are stored; a failure (the provider's words) marks it failed.
void PageLogins::complete(const std::string& key, const PendingPtr& p, const oauth::TokenResponse& t) {
  try {
    save_login(*p->cfg, p->subject, t);
  } catch (const std::exception& e) {
    if (logins_[key] == p) fail(key, e.what());
    return;
  }
  p->st.state = "done";
  p->st.user_code.clear();
  log::notice("status page: OAuth sign-in of " + key + " done; tokens stored");
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
