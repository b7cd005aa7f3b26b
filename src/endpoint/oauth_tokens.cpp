// The OAuth token source: access tokens from the stored login, refreshed at the provider when
// they run out, one refresh per login at a time (endpoint/oauth_tokens.hpp says what it promises).
#include "endpoint/oauth_tokens.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <ctime>
#include <exception>

#include "util/log.hpp"

namespace pb::endpoint {
namespace asio = boost::asio;

namespace {

// An access token is used while it has this much time left: a session that starts now must log
// in before it expires, and the provider's clock may run ahead of ours.
constexpr std::int64_t kExpiryMargin = 300;
// Lifetime assumed when the provider did not say (RFC 6749 5.1 makes expires_in optional);
// both Google and Microsoft issue tokens for an hour.
constexpr std::int64_t kAssumedLifetime = 3000;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

bool still_valid(const oauth::StoredTokens& t, std::int64_t now) {
  if (t.access_token.empty()) return false;
  std::int64_t expires = t.access_expires_at != 0 ? t.access_expires_at : t.updated_at + kAssumedLifetime;
  return expires - kExpiryMargin > now;
}

std::string login_words(const config::Config& cfg, const char* kind, const std::string& name) {
  return std::string(kind) + " " + name + " -c " + cfg.file.string();
}

}  // namespace

OAuthLogin oauth_login_of(const config::Config& cfg, const config::Account& a) {
  return {"account." + a.name, login_words(cfg, "account", a.name)};
}

OAuthLogin oauth_login_of(const config::Config& cfg, const config::Smarthost& s) {
  return {"smarthost." + s.name, login_words(cfg, "smarthost", s.name)};
}

std::string oauth_fingerprint(const std::optional<config::OAuth2>& o) {
  if (!o) return "";
  return std::to_string(static_cast<int>(o->grant)) + "|" + o->provider + "|" + o->client_id + "|" +
         o->client_secret.value + "|" + o->tenant + "|" + o->token_url + "|" + o->scopes + "|" + o->private_key.value +
         "|" + o->certificate_x5t + "|" + o->service_account + "|" + o->subject;
}

std::filesystem::path oauth_token_dir(const config::Config& cfg) { return cfg.service.state_dir / "oauth"; }

std::string unconfirmed_user_words(const std::string& username, const OAuthLogin& who) {
  return "signed in as another user? The provider did not say who signed in, and the server refuses " + username +
         ": sign in again as " + username + " (postbridge oauth login " + who.login_name + ")";
}

oauth::ClientConfig oauth_client_config(const config::OAuth2& o, std::string login_name) {
  oauth::ClientConfig c;
  c.login_name = std::move(login_name);
  c.client_id = o.client_id;
  c.client_secret = o.client_secret.value;
  c.token_url = o.token_url;
  c.device_authorization_url = o.device_authorization_url;
  c.scopes = o.scopes;
  switch (o.grant) {
    case config::OAuthGrant::user: return c;
    case config::OAuthGrant::client_credentials: c.app.grant = oauth::AppGrant::client_credentials; break;
    case config::OAuthGrant::service_account: c.app.grant = oauth::AppGrant::service_account; break;
  }
  c.app.private_key_pem = o.private_key.value;
  c.app.x5t = o.certificate_x5t;
  c.app.x5t_s256 = o.certificate_x5t_s256;
  c.app.key_id = o.service_account_key_id;
  c.app.issuer = o.service_account;
  c.app.subject = o.subject;
  return c;
}

// The refresh token was refused: its access token (refused by the server too, or we would not be
// here) must not be tried again either, or every poll would be a failed login at the provider.
// Only if the file still holds that refresh token: a new login may have replaced it meanwhile.
void OAuthTokens::forget_access(const std::string& key, const std::string& refresh_token, const std::string& words) {
  refused_[key] = {refresh_token, words};
  try {
    auto now = store_.load(key);
    if (!now || now->refresh_token != refresh_token || now->access_token.empty()) return;
    now->access_token.clear();
    now->access_expires_at = 0;
    store_.save(key, *now);
  } catch (const std::exception& e) {
    log::warn("OAuth: " + key + ": " + e.what());
  }
}

// One refresh under way. The timer never fires by itself: cancelling it wakes every caller
// waiting for the result.
struct OAuthTokens::Refresh {
  explicit Refresh(const asio::any_io_executor& ex) : done(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;
  bool finished = false;
  std::string token;
  std::exception_ptr error;
};

asio::awaitable<std::string> OAuthTokens::result_of(std::shared_ptr<Refresh> r) {
  if (!r->finished) co_await r->done.async_wait(asio::as_tuple(asio::use_awaitable));
  // Woken without a result: this caller itself was cancelled (the service is stopping).
  if (!r->finished) throw boost::system::system_error(asio::error::operation_aborted);
  if (r->error) std::rethrow_exception(r->error);
  co_return r->token;
}

asio::awaitable<std::string> OAuthTokens::access_token(OAuthLogin who, oauth::ClientConfig cfg, bool force) {
  // A refresh of this login is under way (another session, the doctor): its token is as fresh as
  // a second one would be, and a second request could spend a refresh token the first rotated.
  if (auto it = refreshing_.find(who.key); it != refreshing_.end()) co_return co_await result_of(it->second);
  if (cfg.app.grant != oauth::AppGrant::none) co_return co_await app_token(who, std::move(cfg), force);
  auto stored = store_.load(who.key);
  if (!stored || stored->refresh_token.empty())
    throw oauth::TokenError(oauth::TokenFailure::login_needed,
                            "no OAuth login yet: run postbridge oauth login " + who.login_name);
  if (!force && still_valid(*stored, unix_now())) co_return stored->access_token;
  if (auto it = refused_.find(who.key); it != refused_.end()) {
    if (it->second.first == stored->refresh_token)
      throw oauth::TokenError(oauth::TokenFailure::login_needed, it->second.second);
    refused_.erase(it);  // a new login replaced it
  }
  auto flight = std::make_shared<Refresh>(co_await asio::this_coro::executor);
  refreshing_[who.key] = flight;
  try {
    flight->token = co_await refresh(who, cfg, *stored);
  } catch (...) {
    flight->error = std::current_exception();
  }
  refreshing_.erase(who.key);
  flight->finished = true;
  flight->done.cancel();
  co_return co_await result_of(flight);
}

asio::awaitable<std::string> OAuthTokens::refresh(const OAuthLogin& who, const oauth::ClientConfig& cfg,
                                                  const oauth::StoredTokens& stored) {
  const std::int64_t now = unix_now();  // the lifetime counts from the request, to be safe
  oauth::TokenResponse fresh;
  try {
    fresh = co_await oauth::refresh_access_token(cfg, stored.refresh_token);
  } catch (const oauth::TokenError& e) {
    if (e.kind() == oauth::TokenFailure::login_needed) forget_access(who.key, stored.refresh_token, e.what());
    throw;
  }
  oauth::StoredTokens next = stored;
  next.access_token = fresh.access_token;
  next.access_expires_at = fresh.expires_in.count() > 0 ? now + fresh.expires_in.count() : 0;
  if (!fresh.refresh_token.empty()) next.refresh_token = fresh.refresh_token;
  if (!fresh.scope.empty()) next.scope = fresh.scope;
  next.updated_at = now;
  // Saved before use: a rotated refresh token is the only valid one from now on.
  store_.save(who.key, next);
  log::info("OAuth: new access token for " + who.key + (fresh.expires_in.count() > 0
                                                            ? ", valid for " + std::to_string(fresh.expires_in.count()) + " s"
                                                            : std::string()));
  co_return next.access_token;
}

namespace {

// Whose token a cached one is: a reload that changes the client, key, endpoint, scope or mailbox
// must not be answered with a token issued for the old settings.
std::string app_identity(const oauth::ClientConfig& cfg) {
  return cfg.token_url + "|" + cfg.client_id + "|" + cfg.scopes + "|" + cfg.app.issuer + "|" + cfg.app.subject + "|" +
         cfg.app.x5t + "|" + cfg.app.private_key_pem + "|" + cfg.client_secret;
}

}  // namespace

asio::awaitable<std::string> OAuthTokens::app_token(const OAuthLogin& who, oauth::ClientConfig cfg, bool force) {
  const std::string identity = app_identity(cfg);
  if (auto it = app_tokens_.find(who.key); it != app_tokens_.end()) {
    if (!force && it->second.identity == identity && it->second.expires_at - kExpiryMargin > unix_now())
      co_return it->second.access_token;
    app_tokens_.erase(it);
  }
  auto flight = std::make_shared<Refresh>(co_await asio::this_coro::executor);
  refreshing_[who.key] = flight;
  try {
    const std::int64_t now = unix_now();  // the lifetime counts from the request, to be safe
    oauth::TokenResponse fresh = co_await oauth::request_app_token(cfg);
    std::int64_t lifetime = fresh.expires_in.count() > 0 ? fresh.expires_in.count() : kAssumedLifetime;
    app_tokens_[who.key] = AppToken{fresh.access_token, now + lifetime, identity};
    log::info("OAuth: new access token for " + who.key + " (" + std::string(oauth::grant_name(cfg.app.grant)) +
              "), valid for " + std::to_string(lifetime) + " s");
    flight->token = std::move(fresh.access_token);
  } catch (...) {
    flight->error = std::current_exception();
  }
  refreshing_.erase(who.key);
  flight->finished = true;
  flight->done.cancel();
  co_return co_await result_of(flight);
}

bool OAuthTokens::signed_in_as_known(const std::string& key) const {
  try {
    auto t = store_.load(key);
    return t && !t->signed_in_as.empty();
  } catch (const std::exception&) {
    return false;  // a damaged file has its own message
  }
}

}  // namespace pb::endpoint
