// The app-only token requests: which fields, which claims, signed with oauth/jwt. Each assertion
// is used once (a new jti and new times per request), so a logged or intercepted one is worthless
// after minutes; none is ever logged.
#include "oauth/app_only.hpp"

#include <openssl/rand.h>

#include <boost/json/parse.hpp>

#include <stdexcept>

#include "oauth/jwt.hpp"
#include "util/base64.hpp"

namespace pb::oauth {

namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";                // RFC 7523 2.1
constexpr std::string_view kAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";  // RFC 7523 2.2

// RFC 7519 4.1.7: a unique jti, from 16 random bytes.
std::string random_jti() {
  unsigned char random[16];
  if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("no random bytes for a JWT id (OpenSSL RAND_bytes)");
  return base64::encode_url(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
}

}  // namespace

std::string client_assertion(const AppCredentials& app, std::string_view client_id, std::string_view token_url,
                             std::int64_t now, std::string_view jti) {
  boost::json::object header{{"x5t", app.x5t}};
  if (!app.x5t_s256.empty()) header["x5t#S256"] = app.x5t_s256;
  boost::json::object claims{{"aud", token_url}, {"iss", client_id}, {"sub", client_id}, {"jti", jti},
                             {"nbf", now},       {"iat", now},       {"exp", now + kClientAssertionLifetime}};
  return jwt::sign_rs256(std::move(header), claims, jwt::PrivateKey::from_pem(app.private_key_pem));
}

std::string service_account_assertion(const AppCredentials& app, std::string_view token_url, std::string_view scopes,
                                      std::int64_t now) {
  boost::json::object header{{"kid", app.key_id}};
  boost::json::object claims{{"iss", app.issuer}, {"sub", app.subject}, {"scope", scopes},
                             {"aud", token_url},  {"iat", now},         {"exp", now + kServiceAssertionLifetime}};
  return jwt::sign_rs256(std::move(header), claims, jwt::PrivateKey::from_pem(app.private_key_pem));
}

std::vector<std::pair<std::string, std::string>> app_token_fields(const AppCredentials& app, std::string_view client_id,
                                                                  std::string_view client_secret,
                                                                  std::string_view token_url, std::string_view scopes,
                                                                  std::int64_t now) {
  std::vector<std::pair<std::string, std::string>> f;
  if (app.grant == AppGrant::service_account) {
    f.emplace_back("grant_type", kJwtBearer);
    f.emplace_back("assertion", service_account_assertion(app, token_url, scopes, now));
    return f;
  }
  f.emplace_back("client_id", client_id);
  f.emplace_back("scope", scopes);
  f.emplace_back("grant_type", "client_credentials");  // RFC 6749 4.4.2
  if (!app.private_key_pem.empty()) {
    f.emplace_back("client_assertion_type", kAssertionType);
    f.emplace_back("client_assertion", client_assertion(app, client_id, token_url, now, random_jti()));
  } else {
    f.emplace_back("client_secret", client_secret);  // RFC 6749 2.3.1
  }
  return f;
}

ServiceAccountKey parse_service_account_key(std::string_view json) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object())
    throw std::invalid_argument("is not a JSON object; give the key file Google Cloud gives for the service account "
                                "(IAM > Service accounts > Keys > Add key > JSON)");
  const auto& o = v.as_object();
  auto field = [&](const char* key) {
    const boost::json::value* f = o.if_contains(key);
    if (!f || !f->is_string() || f->as_string().empty())
      throw std::invalid_argument(std::string("has no \"") + key + "\"; is it a service account's JSON key file?");
    return std::string(f->as_string());
  };
  if (field("type") != "service_account")
    throw std::invalid_argument("is not a service account key (its \"type\" is not \"service_account\")");
  ServiceAccountKey k;
  k.client_email = field("client_email");
  k.client_id = field("client_id");
  k.private_key = field("private_key");
  k.private_key_id = field("private_key_id");
  k.token_uri = field("token_uri");
  return k;
}

std::string_view grant_name(AppGrant g) {
  switch (g) {
    case AppGrant::client_credentials: return "client_credentials";
    case AppGrant::service_account: return "service_account";
    case AppGrant::none: break;
  }
  return "user";
}

}  // namespace pb::oauth
