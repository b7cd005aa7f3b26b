// The id_token read without checking its signature: it comes straight from the token endpoint over
// TLS, and OIDC Core 1.0 3.1.3.7 item 6 lets such a client rely on the TLS server check instead
// (RFC 7519 7.2 for the JWT steps that remain). Issuers, checked against the providers' documents:
//   Microsoft: learn.microsoft.com/entra/identity-platform/id-token-claims-reference (iss
//     https://login.microsoftonline.com/{tenant id}/v2.0; preferred_username needs the profile
//     scope, email the email scope; both may be missing; upn is an optional claim).
//   Google: developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken (iss
//     https://accounts.google.com or accounts.google.com; email with email_verified).
#include "oauth/identity.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <optional>

#include "oauth/grant.hpp"
#include "util/base64.hpp"
#include "util/text.hpp"

namespace pb::oauth {

namespace json = boost::json;

namespace {

// A clock that runs behind the provider's by a few minutes must not refuse a fresh sign-in.
constexpr std::int64_t kClockSkew = 300;

[[noreturn]] void unusable(const std::string& why) {
  throw TokenError(TokenFailure::login_needed, "the provider's answer says who signed in, but " + why +
                                                   "; nothing was stored");
}

// The JWT's claims (RFC 7519 7.2 steps 1-2 and 10): header.payload.signature, payload a JSON object.
json::object claims_of(std::string_view token) {
  auto first = token.find('.');
  auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    unusable("its id_token is not a JWT (header.payload.signature)");
  auto payload = base64::decode_url(token.substr(first + 1, second - first - 1));
  if (!payload) unusable("the id_token's payload is not base64url");
  json::error_code ec;
  json::value v = json::parse(*payload, ec);
  if (ec || !v.is_object()) unusable("the id_token's payload is not a JSON object");
  return std::move(v.as_object());
}

std::string text_claim(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// OIDC Core 3.1.3.7 items 3-5: aud names this client; with several audiences azp must be it.
void check_audience(const json::object& o, const std::string& client_id) {
  const json::value* aud = o.if_contains("aud");
  bool ours = false;
  std::size_t count = 0;
  if (aud && aud->is_string()) {
    ours = aud->as_string() == client_id;
    count = 1;
  } else if (aud && aud->is_array()) {
    for (const auto& a : aud->as_array()) ours = ours || (a.is_string() && a.as_string() == client_id);
    count = aud->as_array().size();
  }
  if (!ours) unusable("its id_token was issued to another client than client_id \"" + text::printable(client_id, 80) + "\"");
  std::string azp = text_claim(o, "azp");
  if (count > 1 && !azp.empty() && azp != client_id)
    unusable("its id_token was issued for another client (azp \"" + text::printable(azp, 80) + "\")");
}

// OIDC Core 3.1.3.7 item 2, where the provider's issuer is known.
void check_issuer(const json::object& o, const std::string& provider) {
  std::string iss = text_claim(o, "iss");
  bool ok = true;
  if (provider == "microsoft")
    ok = iss.starts_with("https://login.microsoftonline.com/") && iss.ends_with("/v2.0");
  else if (provider == "google")
    ok = iss == "https://accounts.google.com" || iss == "accounts.google.com";
  if (!ok) unusable("its id_token comes from \"" + text::printable(iss, 120) + "\", not from " + provider);
}

// OIDC Core 3.1.3.7 item 9.
void check_expiry(const json::object& o, std::int64_t now) {
  const json::value* exp = o.if_contains("exp");
  if (!exp) return;
  std::optional<std::int64_t> at;
  if (exp->is_int64()) at = exp->as_int64();
  else if (exp->is_uint64()) at = static_cast<std::int64_t>(std::min<std::uint64_t>(exp->as_uint64(), INT64_MAX));
  else if (exp->is_double()) at = static_cast<std::int64_t>(exp->as_double());
  if (!at) unusable("the id_token's exp is not a number");
  if (*at + kClockSkew <= now)
    unusable("its id_token had expired " + std::to_string(now - *at) +
             " s ago (is this computer's clock right?)");
}

// email_verified is a boolean (OIDC Core 5.1); some providers send "true"/"false" as text.
bool verified_false(const json::object& o) {
  const json::value* v = o.if_contains("email_verified");
  if (!v) return false;
  if (v->is_bool()) return !v->as_bool();
  return v->is_string() && text::iequals(v->as_string(), "false");
}

void add_name(std::vector<std::string>& names, std::string name) {
  if (name.empty() || name.size() > 320) return;
  for (const auto& n : names)
    if (text::iequals(n, name)) return;
  names.push_back(std::move(name));
}

}  // namespace

std::string SignedInAs::shown(std::string_view login) const {
  if (names.empty()) return {};
  const bool address = login.find('@') != std::string_view::npos;
  for (const auto& n : names)
    if ((n.find('@') != std::string::npos) == address) return n;
  return names.front();
}

SignedInAs read_id_token(std::string_view id_token, const IdTokenExpect& expect) {
  json::object o = claims_of(id_token);
  check_audience(o, expect.client_id);
  check_issuer(o, expect.provider);
  check_expiry(o, expect.now);
  SignedInAs who;
  add_name(who.names, text_claim(o, "preferred_username"));
  if (!verified_false(o)) add_name(who.names, text_claim(o, "email"));
  add_name(who.names, text_claim(o, "upn"));
  return who;
}

bool same_login(std::string_view a, std::string_view b) {
  if (a.find('@') != std::string_view::npos || b.find('@') != std::string_view::npos) return text::iequals(a, b);
  return a == b;
}

std::string identity_mismatch(const SignedInAs& who, std::string_view login, std::string_view whose) {
  if (who.names.empty()) return {};
  for (const auto& n : who.names)
    if (same_login(n, login)) return {};
  const std::string want = text::printable(login, 120);
  return "signed in as " + text::printable(who.shown(login), 120) + ", but " + std::string(whose) + " logs in as " +
         want + "; sign in again as " + want;
}

}  // namespace pb::oauth
