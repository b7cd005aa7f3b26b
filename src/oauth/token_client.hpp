// OAuth 2.0 token-endpoint client over Beast: refresh (RFC 6749 6), the device authorization
// grant (RFC 8628) and the authorization code exchange with PKCE (RFC 7636). Every request has
// one deadline covering resolve, connect, TLS and the answer; https with certificate checks
// (net/tls) except to a loopback IP literal (grant.hpp says why); tokens and the client secret
// are never logged nor put into an error message. The loopback redirect listener of the browser
// login is not here (it belongs to `postbridge oauth login`).
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

#include "net/transport.hpp"
#include "oauth/app_only.hpp"
#include "oauth/grant.hpp"

namespace pb::oauth {

struct ClientConfig {
  std::string login_name;                // account or smarthost, for "run postbridge oauth login NAME"
  std::string client_id;
  std::string client_secret;             // empty for public clients; never logged
  std::string token_url;
  std::string device_authorization_url;  // for the device flow
  std::string scopes;                    // space-separated
  std::string ca_file;                   // empty: the system trust store
  AppCredentials app;                    // grant none: a person's login (refresh token)
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per HTTP request, all steps
};

// Waits between device-flow polls; the default is a steady_timer. Tests pass one that only records.
using Sleeper = std::function<boost::asio::awaitable<void>(std::chrono::milliseconds)>;

// POSTs a form to `url` and returns the HTTP status and body (at most 1 MB). Throws TokenError:
// client for a URL against the https rule, network for resolve/connect/TLS/timeout/garbage.
struct HttpAnswer {
  unsigned status = 0;
  std::string body;
};
boost::asio::awaitable<HttpAnswer> post_form(std::string url, std::string body, std::string ca_file,
                                             std::chrono::milliseconds timeout);

// The same for any body (the alert webhook): `what` names the far end in errors ("the alert
// webhook"); `bearer`, when set, goes as Authorization: Bearer and never into an error. https is
// always verified (against `ca_file`, else the system trust store). Throws TokenError as above.
struct HttpPost {
  EndpointUrl url;
  std::string what;
  std::string content_type;
  std::string body;
  std::string bearer;  // never logged
  std::string ca_file;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};
boost::asio::awaitable<HttpAnswer> post(HttpPost p);

// RFC 6749 6. The answer's refresh_token is empty unless the provider rotated it.
boost::asio::awaitable<TokenResponse> refresh_access_token(ClientConfig cfg, std::string refresh_token);

// An access token for an application (RFC 6749 4.4 / RFC 7523 2.1, cfg.app): a new signed
// assertion per request, no refresh token. Refusals are TokenError(client), with the provider's words.
boost::asio::awaitable<TokenResponse> request_app_token(ClientConfig cfg);

// RFC 8628 3.1: asks for a user code; show user_code and verification_uri to the user.
boost::asio::awaitable<DeviceAuthorization> start_device_authorization(ClientConfig cfg);
// RFC 8628 3.4/3.5: polls every `interval` (+5 s on each slow_down) until the user completed the
// login, declined it, or the code expired (by the server's expired_token, or after expires_in of
// waiting). Throws TokenError (login_needed) for the last two.
boost::asio::awaitable<TokenResponse> poll_device_token(ClientConfig cfg, DeviceAuthorization auth,
                                                        Sleeper sleep = {});

// RFC 6749 4.1.3 + RFC 7636 4.5: trades the code from the redirect for tokens.
boost::asio::awaitable<TokenResponse> exchange_authorization_code(ClientConfig cfg, std::string code,
                                                                  std::string code_verifier, std::string redirect_uri);

}  // namespace pb::oauth
