// Logins that need no person: the client credentials grant with a certificate or a secret
// (RFC 6749 4.4, Microsoft 365 app-only) and the JWT bearer grant of a Google service account
// (RFC 7523 2.1); the token request's form fields and their signed assertions, built without I/O.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb::oauth {

enum class AppGrant {
  none,                // a person signs in (device or browser login, refresh token stored)
  client_credentials,  // RFC 6749 4.4: the application itself; Microsoft's app-only access
  service_account,     // RFC 7523 2.1: a Google service account acting for the mailbox (delegation)
};

// What an application logs in with. The private key's PEM text is a secret: never logged.
struct AppCredentials {
  AppGrant grant = AppGrant::none;
  std::string private_key_pem;  // empty with client_credentials and a client secret
  std::string x5t;              // client_credentials: the certificate's SHA-1 thumbprint (base64url)
  std::string x5t_s256;         // and its SHA-256 one
  std::string key_id;           // service_account: private_key_id, the JWT's kid
  std::string issuer;           // service_account: client_email
  std::string subject;          // service_account: the mailbox the token is for
};

// RFC 7523 2.2 / RFC 7521 4.2: the client's proof of its certificate for the client credentials
// grant, as Microsoft wants it (learn.microsoft.com/entra/identity-platform/certificate-credentials):
// header x5t (and x5t#S256), claims aud = token_url, iss = sub = client_id, jti, nbf = iat = now,
// exp = now + 10 minutes. Throws jwt::KeyError when the key cannot sign.
std::string client_assertion(const AppCredentials& app, std::string_view client_id, std::string_view token_url,
                             std::int64_t now, std::string_view jti);

// RFC 7523 2.1 as Google wants it (developers.google.com/identity/protocols/oauth2/service-account):
// header kid = private_key_id, claims iss = client_email, sub = the mailbox, scope, aud = token_uri,
// iat = now, exp = now + 1 hour (Google's maximum). Throws jwt::KeyError.
std::string service_account_assertion(const AppCredentials& app, std::string_view token_url, std::string_view scopes,
                                      std::int64_t now);

constexpr std::int64_t kClientAssertionLifetime = 600;   // seconds; Microsoft: "up to 10 minutes"
constexpr std::int64_t kServiceAssertionLifetime = 3600;  // seconds; Google: "maximum of 1 hour"

// The form fields of the token request of `app` at `now` (a fresh random jti for each).
// client_credentials: client_id, scope, grant_type and either client_assertion_type +
// client_assertion (a private key) or client_secret; service_account: grant_type + assertion.
std::vector<std::pair<std::string, std::string>> app_token_fields(const AppCredentials& app, std::string_view client_id,
                                                                  std::string_view client_secret,
                                                                  std::string_view token_url, std::string_view scopes,
                                                                  std::int64_t now);

// The JSON key file Google gives for a service account ("type": "service_account"). private_key
// is a secret: never logged.
struct ServiceAccountKey {
  std::string client_email;    // the assertion's issuer
  std::string client_id;       // what the Admin console's domain-wide delegation names
  std::string private_key;     // PEM
  std::string private_key_id;  // the assertion's kid
  std::string token_uri;       // the assertion's audience and where it is sent
};
// Throws std::invalid_argument in words that follow the file's name ("is not JSON", "has no
// client_email"); never a byte of the key.
ServiceAccountKey parse_service_account_key(std::string_view json);

// "client_credentials", "service_account" (the config's words); "user" for none.
std::string_view grant_name(AppGrant g);

}  // namespace pb::oauth
