// [account.oauth2] / [smarthost.oauth2]: the OAuth 2.0 client an auth = "xoauth2" or
// "oauthbearer" login gets its access tokens from. The Microsoft and Google presets
// (oauth/grant.cpp names their sources) fill endpoints and scopes; every key can be overridden.
#include <string>
#include <vector>

#include "config/loaders.hpp"
#include "oauth/grant.hpp"

namespace pb::config::detail {
namespace {

const std::vector<std::string_view> kOAuthKeys{"provider",      "client_id",         "client_secret",
                                                "client_secret_file", "client_secret_env", "tenant",
                                                "token_url",     "device_authorization_url",
                                                "authorization_url",  "scopes"};
const std::vector<std::string_view> kOAuthProviders{"microsoft", "google", "custom"};

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
    if (out.token_url.empty()) sec.missing("token_url", "provider = \"custom\" needs the token endpoint's https URL");
    if (out.scopes.empty()) sec.missing("scopes", "provider = \"custom\" needs the scopes to ask for, e.g. scopes = \"pop smtp offline_access\"");
    if (out.device_authorization_url.empty() && out.authorization_url.empty())
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
  load_provider(sec, owner_provider, out);
  sec.required("client_id", out.client_id,
               "give the application (client) id registered with the provider, e.g. in Microsoft Entra "
               "\"App registrations\" or Google Cloud \"Credentials\"");
  read_secret(sec, base, "client_secret", out.client_secret);
  sec.get("tenant", out.tenant);
  sec.get("token_url", out.token_url);
  sec.get("device_authorization_url", out.device_authorization_url);
  sec.get("authorization_url", out.authorization_url);
  sec.get("scopes", out.scopes);
  apply_preset(sec, out);
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
  out = std::move(o);
  return true;
}

}  // namespace pb::config::detail
