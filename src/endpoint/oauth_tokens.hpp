// Access tokens for the OAuth logins (auth = "xoauth2" / "oauthbearer") of accounts and
// smarthosts. `postbridge oauth login` stores the first refresh token in the state directory
// (oauth/, files 0600); from then on an access token is taken from there while it has more than
// five minutes left, and otherwise fetched fresh from the provider's token endpoint and saved
// (with the new refresh token, if the provider rotated it) before it is used. One refresh per
// login at a time: sessions that need a token meanwhile wait for that refresh's result.
// An application's login (grant client_credentials / service_account) stores nothing: its
// access token is asked for with a new signed assertion (or the secret) when the one in memory
// has less than five minutes left, and dies with the process.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "oauth/token_client.hpp"
#include "oauth/token_store.hpp"

namespace pb::endpoint {

// Whose tokens: "account.NAME" / "smarthost.NAME" (the token file's key), and the words for
// "run postbridge oauth login account NAME -c FILE".
struct OAuthLogin {
  std::string key;
  std::string login_name;
};
OAuthLogin oauth_login_of(const config::Config& cfg, const config::Account& a);
OAuthLogin oauth_login_of(const config::Config& cfg, const config::Smarthost& s);

// The OAuth settings for a route's or account's change detection ("" without OAuth).
std::string oauth_fingerprint(const std::optional<config::OAuth2>& o);

std::filesystem::path oauth_token_dir(const config::Config& cfg);  // state_dir/oauth

// The start of the auth-failed words when the mail server refused an OAuth login whose sign-in
// the provider never confirmed (no id_token): the server's refusal is then the first check of who
// signed in. "signed in as another user? The provider did not say who signed in, and the server
// refuses alice@x: sign in again as alice@x (postbridge oauth login account info -c FILE)".
std::string unconfirmed_user_words(const std::string& username, const OAuthLogin& who);
oauth::ClientConfig oauth_client_config(const config::OAuth2& o, std::string login_name);

class OAuthTokens {
 public:
  explicit OAuthTokens(std::filesystem::path dir) : store_(std::move(dir)) {}

  // An access token to log in with. force: a fresh one even if the stored one looks valid (the
  // server has just refused it). Throws oauth::TokenError: login_needed when there is no refresh
  // token yet or the provider refused it (then, until a new login replaces the stored refresh
  // token, it is refused again without asking the provider), client for a wrong config,
  // network/provider for trouble worth retrying soon; oauth::TokenStoreError for a damaged file.
  // While a refresh of the same login is under way, its result is the answer (or its error):
  // a provider that rotates refresh tokens refuses the old one once the first refresh used it.
  boost::asio::awaitable<std::string> access_token(OAuthLogin who, oauth::ClientConfig cfg, bool force);

  // Whether the stored sign-in's user was confirmed by the provider (an id_token naming the
  // configured login); false when it did not say, or nothing is stored. For the auth-failed words.
  bool signed_in_as_known(const std::string& key) const;

 private:
  struct Refresh;
  boost::asio::awaitable<std::string> refresh(const OAuthLogin& who, const oauth::ClientConfig& cfg,
                                              const oauth::StoredTokens& stored);
  static boost::asio::awaitable<std::string> result_of(std::shared_ptr<Refresh> r);
  void forget_access(const std::string& key, const std::string& refresh_token, const std::string& words);

  // The application's login: no refresh token, the access token kept in memory only.
  struct AppToken {
    std::string access_token;
    std::int64_t expires_at = 0;  // unix seconds
    std::string identity;         // the settings it was issued for (oauth_tokens.cpp app_identity)
  };
  boost::asio::awaitable<std::string> app_token(const OAuthLogin& who, oauth::ClientConfig cfg, bool force);

  oauth::TokenStore store_;
  std::map<std::string, AppToken> app_tokens_;  // key -> the application's access token
  std::map<std::string, std::shared_ptr<Refresh>> refreshing_;  // key -> the refresh under way
  // key -> the refresh token the provider refused, and its words: asked again only after a new
  // login (a provider counts failed grants too).
  std::map<std::string, std::pair<std::string, std::string>> refused_;
};

}  // namespace pb::endpoint
