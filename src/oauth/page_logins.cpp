#include "oauth/page_logins.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <ctime>

#include "oauth/token_client.hpp"
#include "util/log.hpp"

namespace pb::oauth {
namespace asio = boost::asio;

namespace {

// A browser sign-in's address is void after this (the provider's code lives ~10 minutes too).
constexpr std::int64_t kBrowserLoginSeconds = 600;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

bool under_way(const PageLoginState& s) {
  return s.state == "starting" || s.state == "waiting" || s.state == "exchanging";
}

}  // namespace

struct PageLogins::Pending {
  LoginSubject subject;
  PageLoginState st;
  std::string state_param, verifier, redirect_uri;  // browser flow
};

namespace {

using PendingPtr = std::shared_ptr<PageLogins::Pending>;

// The token file's key (oauth_login_of): "account.NAME", "smarthost.NAME".
std::string key_of(const std::string& kind, const std::string& name) { return kind + "." + name; }

std::string whose(const PendingPtr& p) { return p->subject.kind + " " + p->subject.name; }

bool expired(const PageLoginState& s) { return s.expires_at != 0 && s.expires_at <= unix_now(); }

}  // namespace

void PageLogins::fail(const std::string& key, const std::string& why) {
  auto it = logins_.find(key);
  if (it == logins_.end()) return;
  it->second->st.state = "failed";
  it->second->st.error = why;
  log::warn("status page: OAuth sign-in of " + whose(it->second) + " failed: " + why);
}

bool PageLogins::in_progress(const std::string& kind, const std::string& name) const {
  auto it = logins_.find(key_of(kind, name));
  return it != logins_.end() && under_way(it->second->st) && !expired(it->second->st);
}

WhyNot PageLogins::start(LoginSubject s, const std::string& redirect_uri) {
  const std::string key = key_of(s.kind, s.name);
  auto p = std::make_shared<Pending>();
  p->subject = std::move(s);
  const Provider& o = p->subject.provider;
  if (!o.device_authorization_url.empty()) {
    p->st.flow = "device";
    p->st.state = "starting";
    logins_[key] = p;
    asio::co_spawn(ex_, run_device(key, p), asio::detached);
  } else if (!o.authorization_url.empty()) {
    const oauth::Pkce pkce = oauth::make_pkce();
    p->verifier = pkce.verifier;
    p->state_param = oauth::make_pkce().verifier.substr(0, 32);
    p->redirect_uri = redirect_uri;
    p->st.flow = "browser";
    p->st.state = "waiting";
    p->st.url = oauth::authorization_request_url(o, p->subject.client.client_id, redirect_uri, p->state_param, pkce,
                                                 p->subject.username);
    p->st.expires_at = unix_now() + kBrowserLoginSeconds;
    logins_[key] = p;
  } else {
    return whose(p) + " has neither device_authorization_url nor authorization_url in its [" + p->subject.kind +
           ".oauth2] table";
  }
  log::notice("status page: OAuth sign-in of " + whose(p) + " started (" + p->st.flow + " login)");
  return std::nullopt;
}

std::optional<PageLoginState> PageLogins::state(const std::string& kind, const std::string& name) const {
  auto it = logins_.find(key_of(kind, name));
  if (it == logins_.end()) return std::nullopt;
  PageLoginState s = it->second->st;
  if (s.state == "waiting" && expired(s)) {
    s.state = "failed";
    s.error = "the sign-in was not completed in time; start it again";
  }
  return s;
}

// The callback is an address any web page can make a browser load (an <img>): only the state of a
// waiting sign-in gives it any effect (RFC 6749 10.12), and then once — the sign-in moves on to
// "exchanging", so a replayed address finds nothing waiting. Anything else changes nothing.
WhyNot PageLogins::finish(const std::string& redirect_text) {
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

WhyNot PageLogins::finish(const std::string& kind, const std::string& name, const std::string& redirect_text) {
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

WhyNot PageLogins::exchange(const std::string& key, const std::string& code) {
  PendingPtr p = logins_.at(key);
  p->st.state = "exchanging";
  asio::co_spawn(ex_, run_exchange(key, p, code), asio::detached);
  return std::nullopt;
}

// The sign-in's tokens are stored; a failure (the provider's words) marks it failed.
void PageLogins::complete(const std::string& key, const PendingPtr& p, const oauth::TokenResponse& t) {
  SavedLogin saved;
  try {
    saved = save_login(p->subject, t);
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
    oauth::DeviceAuthorization auth = co_await oauth::start_device_authorization(p->subject.client);
    p->st.user_code = auth.user_code;
    p->st.verification_uri = auth.verification_uri_complete.empty() ? auth.verification_uri : auth.verification_uri_complete;
    p->st.expires_at = unix_now() + auth.expires_in.count();
    p->st.state = "waiting";
    token = co_await oauth::poll_device_token(p->subject.client, auth);
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
    token = co_await oauth::exchange_authorization_code(p->subject.client, code, p->verifier, p->redirect_uri);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (logins_[key] != p) co_return;
  if (!error.empty()) fail(key, error);
  else complete(key, p, token);
}

}  // namespace pb::oauth
