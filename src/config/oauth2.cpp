// [account.oauth2] / [smarthost.oauth2]: the OAuth 2.0 client an auth = "xoauth2" or
// "oauthbearer" login gets its access tokens from. The Microsoft and Google presets
// (oauth/grant.cpp names their sources) fill endpoints and scopes; every key can be overridden.
// An application's own login (grant = "client_credentials" / "service_account") has its key,
// certificate and key file read and checked here, so a key that cannot sign fails the config load.
#include <array>
#include <string>
#include <vector>

#include "config/loaders.hpp"
#include "oauth/app_only.hpp"
#include "oauth/grant.hpp"
#include "oauth/jwt.hpp"
#include "util/text.hpp"

namespace pb::config::detail {
namespace {

const std::vector<std::string_view> kOAuthKeys{"grant",         "provider",          "client_id",
                                                "client_secret", "client_secret_file", "client_secret_env",
                                                "tenant",        "token_url",          "device_authorization_url",
                                                "authorization_url",  "scopes",   "client_certificate_file",
                                                "client_key_file",    "service_account_file"};
const std::vector<std::string_view> kOAuthProviders{"microsoft", "google", "custom"};
constexpr std::array<Choice<OAuthGrant>, 3> kGrants{{{"user", OAuthGrant::user},
                                                   {"client_credentials", OAuthGrant::client_credentials},
                                                   {"service_account", OAuthGrant::service_account}}};
// learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
// ("Use client credentials grant flow to authenticate SMTP, IMAP and POP connections").
constexpr const char* kMicrosoftAppScope = "https://outlook.office365.com/.default";
constexpr const char* kGoogleMailScope = "https://mail.google.com/";

// The mail provider preset of the account or smarthost decides the OAuth provider when the
// table does not say: provider = "gmail" logs in at Google, "microsoft365" at Microsoft.
std::string_view provider_of(std::string_view owner_provider) {
  if (owner_provider == "gmail") return "google";
  if (owner_provider == "microsoft365") return "microsoft";
  return {};
}

void load_provider(const Section& sec, std::string_view owner_provider, OAuth2& out) {
  std::string_view name;
  if (sec.node("provider")) {
    if (sec.get_name("provider", kOAuthProviders, name)) out.provider = std::string(name);
    return;
  }
  out.provider = std::string(provider_of(owner_provider));
  if (out.provider.empty())
    sec.missing("provider", "say who issues the tokens: provider = \"microsoft\" (Microsoft 365, Outlook.com), "
                            "\"google\" (Gmail) or \"custom\" (then also token_url and scopes)");
}

// A preset's endpoints and scopes where the table does not give its own.
void apply_preset(const Section& sec, OAuth2& out) {
  if (out.provider != "microsoft" && out.provider != "google") return;
  std::optional<oauth::Provider> p;
  try {
    p = oauth::preset(out.provider, out.tenant);
  } catch (const std::exception& e) {
    sec.problem("tenant", e.what());
    return;
  }
  if (!p) return;
  auto fill = [&](std::string_view key, std::string& value, const std::string& preset_value) {
    if (!sec.node(key)) value = preset_value;
  };
  fill("token_url", out.token_url, p->token_url);
  if (out.grant != OAuthGrant::user) {  // no person signs in: no sign-in endpoints
    fill("scopes", out.scopes, out.provider == "microsoft" ? kMicrosoftAppScope : kGoogleMailScope);
    return;
  }
  fill("device_authorization_url", out.device_authorization_url, p->device_authorization_url);
  fill("authorization_url", out.authorization_url, p->authorization_url);
  fill("scopes", out.scopes, p->scopes);
}

// An endpoint must be https (http only to a loopback IP literal: the test harness).
void check_url(const Section& sec, std::string_view key, const std::string& url) {
  if (url.empty()) return;
  try {
    oauth::parse_endpoint_url(url);
  } catch (const std::exception& e) {
    sec.problem(key, e.what());
  }
}

void check_rules(const Section& sec, OAuth2& out) {
  if (!out.tenant.empty() && out.provider != "microsoft")
    sec.problem("tenant", "is only used with provider = \"microsoft\"; remove it");
  if (out.provider == "custom") {
    if (out.token_url.empty() && out.grant != OAuthGrant::service_account)
      sec.missing("token_url", "provider = \"custom\" needs the token endpoint's https URL");
    if (out.scopes.empty()) sec.missing("scopes", "provider = \"custom\" needs the scopes to ask for, e.g. scopes = \"pop smtp offline_access\"");
    if (out.grant == OAuthGrant::user && out.device_authorization_url.empty() && out.authorization_url.empty())
      sec.missing("device_authorization_url",
                  "provider = \"custom\" needs device_authorization_url (login with a code) or authorization_url "
                  "(login in a browser), so that postbridge oauth login can get the first token");
  }
  for (std::string_view key : {"token_url", "device_authorization_url", "authorization_url"}) {
    const std::string& v = key == "token_url" ? out.token_url
                           : key == "device_authorization_url" ? out.device_authorization_url
                                                              : out.authorization_url;
    if (sec.node(key) || out.provider == "custom") check_url(sec, key, v);
  }
}

// grant = "..." and whether the provider offers it for mail.
void load_grant(const Section& sec, OAuth2& out) { sec.get_enum("grant", out.grant, kGrants); }

std::string grant_words(OAuthGrant g) {
  for (const auto& c : kGrants)
    if (c.value == g) return "grant = \"" + std::string(c.name) + "\"";
  return "grant";
}

void check_grant(const Section& sec, const OAuth2& out) {
  if (out.grant == OAuthGrant::client_credentials && out.provider == "google")
    sec.problem("grant", "Google offers no client credentials grant for mail; a Google Workspace mailbox logs in "
                         "without a person through a service account: grant = \"service_account\"");
  if (out.grant == OAuthGrant::service_account && out.provider == "microsoft")
    sec.problem("grant", "service accounts are Google's; Microsoft 365 logs in without a person with "
                         "grant = \"client_credentials\" and a certificate");
  // Keys of one grant in the table of another: a half-done edit, better said than ignored.
  auto only_for = [&](std::string_view key, OAuthGrant grant) {
    if (sec.node(key) && out.grant != grant)
      sec.problem(key, "is only used with " + grant_words(grant) + "; remove it or set that grant");
  };
  only_for("client_certificate_file", OAuthGrant::client_credentials);
  only_for("client_key_file", OAuthGrant::client_credentials);
  only_for("service_account_file", OAuthGrant::service_account);
  if (out.grant == OAuthGrant::user) return;
  for (std::string_view key : {"device_authorization_url", "authorization_url"})
    if (sec.node(key)) sec.problem(key, "is not used when no person signs in (" + grant_words(out.grant) + "); remove it");
}

// Microsoft's app-only tokens are issued by the organization's own tenant: "common" and the
// other multi-tenant names only work for a person's sign-in.
void check_app_tenant(const Section& sec, const OAuth2& out) {
  if (out.grant != OAuthGrant::client_credentials || out.provider != "microsoft") return;
  if (!sec.node("tenant")) {
    sec.missing("tenant", "grant = \"client_credentials\" needs the organization's tenant: its directory "
                          "(tenant) id or its domain, e.g. tenant = \"contoso.onmicrosoft.com\" (Microsoft Entra admin "
                          "center > Overview)");
    return;
  }
  for (std::string_view shared : {"common", "organizations", "consumers"})
    if (text::iequals(out.tenant, shared))
      sec.problem("tenant", "\"" + std::string(shared) + "\" only works when a person signs in; grant = "
                            "\"client_credentials\" needs the organization's directory (tenant) id or domain");
}

// The certificate's private key, checked to sign and to belong to the certificate, or the secret.
void load_client_credentials(const Section& sec, const std::filesystem::path& base, OAuth2& out) {
  const bool secret = sec.node("client_secret") || sec.node("client_secret_file") || sec.node("client_secret_env");
  const bool cert = sec.node("client_certificate_file") != nullptr, key = sec.node("client_key_file") != nullptr;
  if (secret && (cert || key)) {
    sec.problem(cert ? "client_certificate_file" : "client_key_file",
                "give either a certificate (client_certificate_file + client_key_file) or a client secret, not both; "
                "the certificate is the safer of the two: remove the client_secret line");
    return;
  }
  if (secret) return;
  if (!cert && !key) {
    sec.missing("client_certificate_file",
                "grant = \"client_credentials\" needs the application's certificate (client_certificate_file, the PEM "
                "file uploaded to the app registration) and its private key (client_key_file), or a client secret "
                "(client_secret_file)");
    return;
  }
  if (!key) return sec.missing("client_key_file", "give the private key of client_certificate_file (PEM, chmod 600)");
  if (!cert) return sec.missing("client_certificate_file", "give the certificate of client_key_file (PEM), the one uploaded to the app registration");
  Secret pem;
  read_private_file(sec, base, "client_key_file", pem);
  if (pem.empty()) return;
  std::optional<oauth::jwt::PrivateKey> private_key;
  try {
    private_key = oauth::jwt::PrivateKey::from_pem(pem.value);
  } catch (const oauth::jwt::KeyError& e) {
    return sec.problem("client_key_file", pem.source + " " + e.what());
  }
  auto cert_path = read_pem_file(sec, base, "client_certificate_file", false);
  if (!cert_path) return;
  std::string error;
  auto cert_text = read_text_file(*cert_path, error);
  if (!cert_text) return sec.problem("client_certificate_file", "cannot read " + *cert_path + ": " + error);
  try {
    auto certificate = oauth::jwt::Certificate::from_pem(*cert_text);
    if (!certificate.matches(*private_key))
      return sec.problem("client_key_file", pem.source + " is not the private key of the certificate " + *cert_path +
                                                "; give the key the certificate was made with");
    out.certificate_x5t = certificate.x5t;
    out.certificate_x5t_s256 = certificate.x5t_s256;
  } catch (const oauth::jwt::KeyError& e) {
    return sec.problem("client_certificate_file", *cert_path + " " + e.what());
  }
  out.private_key = std::move(pem);
}

// The JSON key file of a Google service account: issuer, key and token endpoint come from it.
void load_service_account(const Section& sec, const std::filesystem::path& base, OAuth2& out) {
  if (sec.node("token_url"))
    sec.problem("token_url", "comes from service_account_file (its token_uri) with grant = \"service_account\"; remove it");
  Secret file;
  if (!read_private_file(sec, base, "service_account_file", file))
    return sec.missing("service_account_file",
                       "grant = \"service_account\" needs the service account's JSON key file from Google Cloud "
                       "(IAM > Service accounts > Keys), chmod 600");
  if (file.empty()) return;
  oauth::ServiceAccountKey k;
  try {
    k = oauth::parse_service_account_key(file.value);
  } catch (const std::invalid_argument& e) {
    return sec.problem("service_account_file", file.source + " " + e.what());
  }
  std::fill(file.value.begin(), file.value.end(), '\0');
  try {
    oauth::jwt::PrivateKey::from_pem(k.private_key);
    oauth::parse_endpoint_url(k.token_uri);
  } catch (const oauth::jwt::KeyError& e) {
    return sec.problem("service_account_file", file.source + ": its private_key " + e.what());
  } catch (const oauth::TokenError& e) {
    return sec.problem("service_account_file", file.source + ": its token_uri: " + e.what());
  }
  out.token_url = k.token_uri;
  out.service_account = k.client_email;
  out.service_account_key_id = k.private_key_id;
  if (out.client_id.empty()) out.client_id = k.client_id;
  out.private_key = Secret{std::move(k.private_key), file.source};
}

}  // namespace

void load_oauth2(const toml::node& node, const Section& owner, const std::filesystem::path& base,
                 std::string_view owner_provider, OAuth2& out) {
  auto* table = node.as_table();
  const std::string path = owner.key_path("oauth2");
  if (!table) {
    owner.problem_at(node, "oauth2",
                     std::string("expected a table (an [") + path + "] header after the section's lines), got " +
                         type_name(node.type()));
    return;
  }
  out.source_line = static_cast<int>(table->source().begin.line);
  Section sec(*table, path, owner.problems(), kOAuthKeys);
  load_grant(sec, out);
  load_provider(sec, owner_provider, out);
  if (out.grant == OAuthGrant::service_account)
    sec.get("client_id", out.client_id);  // the key file has it
  else
    sec.required("client_id", out.client_id,
                 "give the application (client) id registered with the provider, e.g. in Microsoft Entra "
                 "\"App registrations\" or Google Cloud \"Credentials\"");
  read_secret(sec, base, "client_secret", out.client_secret);
  if (out.grant == OAuthGrant::service_account && !out.client_secret.empty())
    sec.problem("client_secret", "is not used with grant = \"service_account\", which signs with the key file's key; remove it");
  sec.get("tenant", out.tenant);
  sec.get("token_url", out.token_url);
  sec.get("device_authorization_url", out.device_authorization_url);
  sec.get("authorization_url", out.authorization_url);
  sec.get("scopes", out.scopes);
  check_grant(sec, out);
  check_app_tenant(sec, out);
  apply_preset(sec, out);
  if (out.grant == OAuthGrant::client_credentials) load_client_credentials(sec, base, out);
  if (out.grant == OAuthGrant::service_account) load_service_account(sec, base, out);
  check_rules(sec, out);
}

// auth = "xoauth2" / "oauthbearer": [NAME.oauth2] instead of a password; false (and problems
// reported) when the table is missing. Other auth values: the table must not be there.
bool load_oauth_login(const Section& sec, const std::filesystem::path& base, bool oauth, std::string_view auth_name,
                      std::string_view section_name, const PresetUse& preset, std::optional<OAuth2>& out) {
  const toml::node* table = sec.node("oauth2");
  if (!oauth) {
    if (table)
      sec.problem("oauth2", "is only used with auth = \"xoauth2\" or \"oauthbearer\"; set one of those, or "
                            "remove [" + std::string(section_name) + ".oauth2]");
    return false;
  }
  const std::string why = std::string("is not used with auth = \"") + std::string(auth_name) +
                          "\", which logs in with an OAuth token (run postbridge oauth login NAME once); remove it";
  for (std::string_view k : {"password", "password_file", "password_env"})
    if (sec.node(k)) sec.problem(k, why);
  if (!table) {
    sec.missing("oauth2", "auth = \"" + std::string(auth_name) + "\" needs an [" + std::string(section_name) +
                              ".oauth2] table with at least provider and client_id");
    return true;
  }
  OAuth2 o;
  load_oauth2(*table, sec, base, preset.provider, o);
  // RFC 7523 2.1 "sub": a service account acts for the mailbox it logs in to.
  if (const toml::node* user = sec.node("username"); user && user->as_string()) o.subject = user->as_string()->get();
  out = std::move(o);
  return true;
}

}  // namespace pb::config::detail
