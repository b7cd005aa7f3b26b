// Token-endpoint requests and answers without I/O. Provider endpoints, checked against the
// providers' documentation:
//   Microsoft: learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code (POST
//     https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode; tenant = common,
//     organizations, consumers, a GUID or a domain), .../v2-oauth2-auth-code-flow (/authorize,
//     /token), and learn.microsoft.com/exchange/client-developer/legacy-protocols/
//     how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth (scopes
//     https://outlook.office.com/POP.AccessAsUser.All and .../SMTP.Send; offline_access for a
//     refresh token; SASL XOAUTH2) and learn.microsoft.com/entra/identity-platform/scopes-oidc
//     (openid, email and profile "can be used with ... any other scope": they join the
//     outlook.office.com scopes in one request; profile brings preferred_username).
//   Google: developers.google.com/identity/protocols/oauth2/native-app (authorization
//     https://accounts.google.com/o/oauth2/v2/auth, token https://oauth2.googleapis.com/token,
//     loopback redirect with PKCE), developers.google.com/gmail/imap/xoauth2-protocol (scope
//     https://mail.google.com/ for IMAP, POP and SMTP), and
//     developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes (the
//     device flow allows only a short list of scopes; the mail scope is not among them),
//     developers.google.com/identity/openid-connect/openid-connect#scope-param (openid email:
//     an id_token with email and email_verified, beside any other scope).
#include "oauth/grant.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

#include "util/base64.hpp"
#include "util/hex.hpp"
#include "util/text.hpp"
#include "words/provider_replies.hpp"

namespace pb::oauth {

namespace json = boost::json;

namespace {

bool plain_tenant(std::string_view t) {
  return !t.empty() && t.size() <= 100 && std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// Provider text for a one-line message: CR/LF/tabs (Microsoft's descriptions carry "\r\nTrace ID")
// become single spaces, the rest is made printable and capped.
std::string words(std::string_view s, std::size_t max = 400) {
  std::string flat;
  bool space = false;
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
      space = !flat.empty();
      continue;
    }
    if (space) flat += ' ';
    space = false;
    flat += c;
  }
  return text::printable(flat, max);
}

// What a request was for: decides the words when the endpoint refuses it.
enum class Step { refresh, device_start, device_poll, code, app };

std::string again(std::string_view login_name) {
  return "run postbridge oauth login " + std::string(login_name.empty() ? "NAME" : login_name);
}

std::optional<json::object> json_object(std::string_view body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string string_field(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A number of seconds sent as a JSON number or, by some providers, as a string ("3599").
std::optional<std::int64_t> seconds_field(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT64_MAX));
  if (v->is_string()) {
    std::string_view s = v->as_string();
    if (s.empty() || s.size() > 12 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    return std::stoll(std::string(s));
  }
  return std::nullopt;
}

// The start of a body that is not the expected JSON, for the admin: an HTML error page, a proxy's
// words. A body that names a token, an assertion or a secret is not shown: a mangled success
// ({"access_token": "ya29...) would put a live token into the log, the page and an alert.
std::string http_words(unsigned status, std::string_view body) {
  std::string out = "HTTP " + std::to_string(status);
  const std::string lower = text::to_lower(body);
  for (std::string_view secretish : {"token", "assertion", "secret", "password"}) {
    if (lower.find(secretish) != std::string::npos)
      return out + " (a body of " + std::to_string(body.size()) + " bytes, not shown)";
  }
  std::string shown = words(body, 120);
  if (!shown.empty()) out += " (\"" + shown + "\")";
  return out;
}

// RFC 6749 5.2 (and RFC 8628 3.5 for the device codes) in plain words, keeping the provider's own.
[[noreturn]] void refuse(unsigned status, std::string_view body, Step step, std::string_view login_name) {
  auto obj = json_object(body);
  std::string error = obj ? string_field(*obj, "error") : std::string();
  if (error.empty()) {
    throw TokenError(TokenFailure::provider,
                     "the token endpoint answered " + http_words(status, body) + " instead of a token; trying again later",
                     "", status);
  }
  std::string desc = words(string_field(*obj, "error_description"));
  std::string said = "(" + words(error, 60) + ")" + (desc.empty() ? std::string() : ": " + desc);
  // What the provider's words mean (an AADSTS number, Google's own wording) and what to change.
  auto explained = words::explain_oauth(error, desc);
  const std::string meaning = explained ? " — " + words::one_line(*explained) : std::string();
  auto fail = [&](TokenFailure kind, const std::string& what) { return TokenError(kind, what + meaning, error, status); };
  // No person signed in, so no new login helps: the application's credentials or its permissions
  // at the provider must be fixed (RFC 6749 5.2, RFC 7523 3.1).
  if (step == Step::app && (error == "invalid_grant" || error == "invalid_client" || error == "unauthorized_client"))
    throw fail(TokenFailure::client, "the provider refused the application's login " + said +
                                         "; check client_id, tenant, the certificate or key registered with the "
                                         "provider and the app's permissions for this mailbox");
  if (error == "invalid_grant") {
    switch (step) {
      case Step::refresh: throw fail(TokenFailure::login_needed, "the refresh token no longer works " + said + "; " + again(login_name));
      case Step::code: throw fail(TokenFailure::login_needed, "the authorization code was refused " + said + "; " + again(login_name) + " again");
      default: throw fail(TokenFailure::login_needed, "the device login was refused " + said + "; " + again(login_name) + " again");
    }
  }
  if (error == "access_denied")
    throw fail(TokenFailure::login_needed, "the login was declined at the provider " + said + "; " + again(login_name) + " again");
  if (error == "expired_token")
    throw fail(TokenFailure::login_needed,
         "the login code expired before the login was completed " + said + "; " + again(login_name) + " again");
  if (error == "invalid_client" || error == "unauthorized_client")
    throw fail(TokenFailure::client, "the provider does not accept this OAuth client " + said + "; check client_id and client_secret");
  if (error == "invalid_scope")
    throw fail(TokenFailure::client, "the provider refuses the requested scopes " + said + "; check scopes");
  if (error == "invalid_request" || error == "unsupported_grant_type" || error == "unsupported_response_type")
    throw fail(TokenFailure::client, "the token endpoint refused the request " + said + "; check token_url and the client settings");
  throw fail(TokenFailure::provider, "the token endpoint refused the request " + said + " (HTTP " + std::to_string(status) + ")");
}

TokenResponse token_from(const json::object& o, unsigned status) {
  TokenResponse t;
  t.access_token = string_field(o, "access_token");
  if (t.access_token.empty())
    throw TokenError(TokenFailure::provider, "the token endpoint answered without an access_token (" +
                                                 http_words(status, {}) + "); trying again later",
                     "", status);
  // RFC 6749 7.1 / RFC 6750: only Bearer tokens can be sent with XOAUTH2 / OAUTHBEARER.
  std::string type = string_field(o, "token_type");
  if (!type.empty() && !text::iequals(type, "Bearer"))
    throw TokenError(TokenFailure::provider,
                     "the token endpoint issued a \"" + words(type, 40) + "\" token, not a Bearer token", "", status);
  // Capped at a day (real ones last an hour): refreshing early costs nothing, and a hostile
  // endpoint's 2^63 must not overflow "now + expires_in" later.
  if (auto s = seconds_field(o, "expires_in"); s && *s > 0) t.expires_in = std::chrono::seconds(std::min<std::int64_t>(*s, 86'400));
  t.refresh_token = string_field(o, "refresh_token");
  t.scope = string_field(o, "scope");
  t.id_token = string_field(o, "id_token");
  return t;
}

json::object success_object(unsigned status, std::string_view body) {
  auto obj = json_object(body);
  if (!obj)
    throw TokenError(TokenFailure::provider,
                     "the token endpoint answered " + http_words(status, body) + ", which is not a JSON object; trying again later",
                     "", status);
  return std::move(*obj);
}

}  // namespace

std::optional<Provider> preset(std::string_view name, std::string_view tenant) {
  Provider p;
  p.name = std::string(name);
  if (name == "microsoft") {
    std::string t = tenant.empty() ? std::string("common") : std::string(tenant);
    if (!plain_tenant(t))
      throw std::invalid_argument("tenant \"" + text::printable(t, 100) +
                                  "\" is not a tenant name (common, organizations, a domain or a GUID)");
    std::string base = "https://login.microsoftonline.com/" + t + "/oauth2/v2.0/";
    p.token_url = base + "token";
    p.device_authorization_url = base + "devicecode";
    p.authorization_url = base + "authorize";
    p.scopes = "https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access "
               "openid email profile";
    return p;
  }
  if (name == "google") {
    p.token_url = "https://oauth2.googleapis.com/token";
    p.authorization_url = "https://accounts.google.com/o/oauth2/v2/auth";
    p.scopes = "https://mail.google.com/ openid email";
    return p;
  }
  return std::nullopt;
}

EndpointUrl parse_http_url(std::string_view url, std::string_view what) {
  auto bad = [&](const std::string& why) -> TokenError {
    return TokenError(TokenFailure::client, std::string(what) + " \"" + text::printable(url, 200) + "\" " + why);
  };
  EndpointUrl out;
  std::string_view rest;
  if (text::istarts_with(url, "https://")) {
    rest = url.substr(8);
  } else if (text::istarts_with(url, "http://")) {
    out.tls = false;
    out.port = 80;
    rest = url.substr(7);
  } else {
    throw bad("is not an https:// URL");
  }
  std::size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string target = slash == std::string_view::npos ? std::string("/") : std::string(rest.substr(slash));
  if (auto hash = target.find('#'); hash != std::string::npos) target.erase(hash);  // never sent (RFC 3986 3.5)
  if (target.empty() || target.front() == '?') target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) throw bad("must not carry a user name or password");
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw bad("has an unclosed [IPv6] address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad("has garbage after the [IPv6] address");
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) throw bad("has no host");
  bool host_ok = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':';
  });
  if (!host_ok) throw bad("has an invalid host name");
  out.host = std::string(host);
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw bad("has an invalid port");
    int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) throw bad("has an invalid port");
    out.port = static_cast<std::uint16_t>(p);
  }
  out.target = std::move(target);
  return out;
}

EndpointUrl parse_endpoint_url(std::string_view url) {
  EndpointUrl out = parse_http_url(url, "the OAuth endpoint");
  if (!out.tls) {
    // Plain http only to a loopback IP literal: the simulated endpoints of the tests.
    bool v4_loopback = out.host.starts_with("127.") &&
                       std::all_of(out.host.begin(), out.host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (!v4_loopback && out.host != "::1")
      throw TokenError(TokenFailure::client, "the OAuth endpoint \"" + text::printable(url, 200) +
                       "\" is plain http; tokens are only sent over https (http is accepted for 127.x.x.x and [::1] alone)");
  }
  return out;
}

std::string form_encode(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      hex::append(c, out, hex::Case::upper);
    }
  }
  return out;
}

std::string refresh_scopes(std::string_view scopes) {
  std::string out;
  for (std::string_view s : text::split_ws(scopes)) {
    if (s == "openid" || s == "email" || s == "profile") continue;
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::string form_body(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += form_encode(k) + "=" + form_encode(v);
  }
  return out;
}

std::string pkce_s256(std::string_view verifier) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(verifier.data(), verifier.size(), digest, &len, EVP_sha256(), nullptr);
  return base64::encode_url(std::string_view(reinterpret_cast<const char*>(digest), len));
}

Pkce make_pkce() {
  unsigned char random[48];
  if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("no random bytes for the PKCE verifier (OpenSSL RAND_bytes)");
  Pkce p;
  p.verifier = base64::encode_url(std::string_view(reinterpret_cast<const char*>(random), sizeof random));  // 64 characters of [A-Za-z0-9-_] (RFC 7636 4.1: 43-128)
  p.challenge = pkce_s256(p.verifier);
  return p;
}

std::string authorization_request_url(const Provider& p, std::string_view client_id, std::string_view redirect_uri,
                                      std::string_view state, const Pkce& pkce, std::string_view login_hint) {
  std::vector<std::pair<std::string, std::string>> q = {
      {"response_type", "code"},
      {"client_id", std::string(client_id)},
      {"redirect_uri", std::string(redirect_uri)},
      {"scope", p.scopes},
      {"state", std::string(state)},
      {"code_challenge", pkce.challenge},
      {"code_challenge_method", "S256"},
  };
  if (!login_hint.empty()) q.emplace_back("login_hint", std::string(login_hint));
  if (p.name == "google") {
    q.emplace_back("access_type", "offline");
    q.emplace_back("prompt", "consent");
  }
  std::string url = p.authorization_url;
  url += url.find('?') == std::string::npos ? '?' : '&';
  return url + form_body(q);
}

TokenResponse parse_token_response(unsigned http_status, std::string_view body, Grant grant,
                                   std::string_view login_name) {
  Step step = grant == Grant::refresh_token ? Step::refresh
              : grant == Grant::device_code ? Step::device_poll
              : grant == Grant::app_only    ? Step::app
                                            : Step::code;
  if (http_status != 200) refuse(http_status, body, step, login_name);
  json::object o = success_object(http_status, body);
  return token_from(o, http_status);
}

DeviceAuthorization parse_device_authorization(unsigned http_status, std::string_view body,
                                               std::string_view login_name) {
  if (http_status != 200) refuse(http_status, body, Step::device_start, login_name);
  json::object o = success_object(http_status, body);
  DeviceAuthorization d;
  d.device_code = string_field(o, "device_code");
  d.user_code = string_field(o, "user_code");
  d.verification_uri = string_field(o, "verification_uri");
  if (d.verification_uri.empty()) d.verification_uri = string_field(o, "verification_url");  // Google's spelling
  d.verification_uri_complete = string_field(o, "verification_uri_complete");
  d.message = words(string_field(o, "message"));
  auto expires = seconds_field(o, "expires_in");
  if (d.device_code.empty() || d.user_code.empty() || d.verification_uri.empty() || !expires || *expires <= 0)
    throw TokenError(TokenFailure::provider,
                     "the device authorization endpoint answered without device_code, user_code, verification_uri "
                     "or expires_in (RFC 8628 3.2)",
                     "", http_status);
  d.expires_in = std::chrono::seconds(std::min<std::int64_t>(*expires, 3600));  // RFC 8628 codes live minutes
  if (auto i = seconds_field(o, "interval"); i && *i > 0) d.interval = std::chrono::seconds(std::min<std::int64_t>(*i, 300));
  return d;
}

DevicePoll parse_device_poll(unsigned http_status, std::string_view body, std::string_view login_name) {
  DevicePoll p;
  if (http_status != 200) {
    // RFC 8628 3.5: these two are not failures but "ask again later".
    if (auto obj = json_object(body)) {
      std::string error = string_field(*obj, "error");
      if (error == "authorization_pending") return p;
      if (error == "slow_down") {
        p.state = DevicePoll::State::slow_down;
        return p;
      }
    }
    refuse(http_status, body, Step::device_poll, login_name);
  }
  p.state = DevicePoll::State::done;
  p.token = parse_token_response(http_status, body, Grant::device_code, login_name);
  return p;
}

}  // namespace pb::oauth
