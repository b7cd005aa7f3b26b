// OAuth 2.0 token-endpoint vocabulary without I/O: provider presets, form bodies, the endpoint URL
// rule, PKCE (RFC 7636) and the parsing of token, device-authorization and error responses
// (RFC 6749 5, RFC 8628 3.2/3.5) into typed results or TokenError with the provider's own words.
// token_client.hpp sends what this builds; the tests drive every branch here without a network.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb::oauth {

// What went wrong, so the caller can decide: log in again, fix the config, or retry later.
enum class TokenFailure {
  login_needed,  // invalid_grant (refresh token expired/revoked, code used), access_denied, expired_token
  client,        // invalid_client, unauthorized_client, invalid_scope, invalid_request, unsupported_*: config
  provider,      // HTTP 5xx, a non-JSON or malformed answer, an unknown error code: retry later
  network,       // resolve, connect, TLS, timeout: retry later
};

class TokenError : public std::runtime_error {
 public:
  TokenError(TokenFailure kind, const std::string& what, std::string error = {}, unsigned http_status = 0)
      : std::runtime_error(what), kind_(kind), error_(std::move(error)), http_status_(http_status) {}
  TokenFailure kind() const { return kind_; }
  // RFC 6749 5.2 "error" as the provider sent it ("invalid_grant"); empty when there was none.
  const std::string& error() const { return error_; }
  unsigned http_status() const { return http_status_; }  // 0: no HTTP answer
  bool transient() const { return kind_ == TokenFailure::provider || kind_ == TokenFailure::network; }

 private:
  TokenFailure kind_;
  std::string error_;
  unsigned http_status_;
};

// Endpoints and scopes of a provider. Presets (sources in grant.cpp):
//   microsoft  token  https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
//              device https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode
//              auth   https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize
//              scopes "https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send
//                      offline_access openid email profile"
//   google     token  https://oauth2.googleapis.com/token
//              auth   https://accounts.google.com/o/oauth2/v2/auth
//              scopes "https://mail.google.com/ openid email"; no device flow (Google's device flow
//              does not allow the mail scope), so the first login is an authorization code with PKCE.
// openid/email/profile make the sign-in's answer carry an id_token that says who signed in
// (oauth/identity.hpp), so a sign-in as another user is refused before anything is stored.
struct Provider {
  std::string name;
  std::string token_url;
  std::string device_authorization_url;  // empty: the provider offers no device flow for mail
  std::string authorization_url;         // for the authorization code grant
  std::string scopes;                    // space-separated (RFC 6749 3.3)
};
// "microsoft" (tenant: "common" when empty, else a tenant id or domain) or "google"; nullopt for
// other names. Throws std::invalid_argument for a tenant that is not a plain name.
std::optional<Provider> preset(std::string_view name, std::string_view tenant = {});

// A token or device endpoint, checked: https always, http only for a loopback IP literal
// (127.0.0.0/8, [::1]) — the test harness's simulated endpoints and nothing else; a host name
// such as "localhost" is not accepted over http, since it is resolved and could be anything.
struct EndpointUrl {
  bool tls = true;
  std::string host;       // without brackets for IPv6
  std::uint16_t port = 443;
  std::string target;     // "/path?query", at least "/"
};
// Throws TokenError(client) naming the URL when it breaks the rule above or cannot be parsed.
EndpointUrl parse_endpoint_url(std::string_view url);
// Any http:// or https:// URL (the alert webhook: an admin's own ntfy may well be plain http in
// the LAN); `what` names it in the error ("the webhook_url").
EndpointUrl parse_http_url(std::string_view url, std::string_view what);

// application/x-www-form-urlencoded (RFC 6749 Appendix B): every byte but ALPHA DIGIT - . _ ~ as %XX.
std::string form_encode(std::string_view s);

// The scopes of a refresh request: `scopes` without the OpenID Connect ones (openid, email,
// profile). Only the sign-in needs its id_token, and a refresh may ask for a subset of what the
// sign-in asked (RFC 6749 6; Microsoft wants scopes here), so a login stored before the presets
// asked for openid still refreshes.
std::string refresh_scopes(std::string_view scopes);
std::string form_body(const std::vector<std::pair<std::string, std::string>>& fields);

// RFC 7636: a verifier of 64 unreserved characters from 48 random bytes, and its S256 challenge.
struct Pkce {
  std::string verifier;
  std::string challenge;  // BASE64URL(SHA256(verifier)) without padding (RFC 7636 4.2)
};
Pkce make_pkce();
std::string pkce_s256(std::string_view verifier);
// The URL to open in the browser for the authorization code grant with PKCE (RFC 6749 4.1.1,
// RFC 7636 4.3); access_type=offline + prompt=consent make Google return a refresh token.
// login_hint (the mailbox's address; Google and Microsoft both take it) preselects the account.
std::string authorization_request_url(const Provider& p, std::string_view client_id, std::string_view redirect_uri,
                                      std::string_view state, const Pkce& pkce, std::string_view login_hint = {});

struct TokenResponse {
  std::string access_token;   // never logged
  std::string id_token;       // OpenID Connect: who signed in (oauth/identity.hpp); never logged
  std::chrono::seconds expires_in{0};  // 0: the provider did not say (RFC 6749 5.1: RECOMMENDED)
  std::string refresh_token;  // empty: keep the old one (the provider did not rotate it)
  std::string scope;          // as granted, when the provider says
};

// Which request a token-endpoint answer belongs to: decides the words of an invalid_grant.
// app_only: client credentials or JWT bearer (oauth/app_only.hpp); its refusals are config problems.
enum class Grant { refresh_token, device_code, authorization_code, app_only };

// Context for messages: `login_name` is the account or smarthost ("run postbridge oauth login NAME").
// Turns a token endpoint's answer into a TokenResponse, or throws TokenError with plain words that
// keep the provider's error and error_description (RFC 6749 5.2).
TokenResponse parse_token_response(unsigned http_status, std::string_view body, Grant grant,
                                   std::string_view login_name);

// RFC 8628 3.2: the device authorization response.
struct DeviceAuthorization {
  std::string device_code;  // secret: never logged
  std::string user_code;    // shown to the user
  std::string verification_uri;
  std::string verification_uri_complete;  // optional (Microsoft does not send it)
  std::chrono::seconds expires_in{0};
  std::chrono::seconds interval{5};  // RFC 8628 3.2: 5 s when absent
  std::string message;               // the provider's instructions, if any
};
DeviceAuthorization parse_device_authorization(unsigned http_status, std::string_view body,
                                               std::string_view login_name);

// One poll of the token endpoint during the device flow (RFC 8628 3.5).
struct DevicePoll {
  enum class State { done, pending, slow_down } state = State::pending;
  TokenResponse token;  // when done
};
// authorization_pending / slow_down are states; access_denied and expired_token throw TokenError
// (login_needed) with words that say what happened, like every other failure.
DevicePoll parse_device_poll(unsigned http_status, std::string_view body, std::string_view login_name);

}  // namespace pb::oauth
