#include "app/oauth_command.hpp"

#include <ostream>

#include "endpoint/oauth_tokens.hpp"

namespace pb::app {

namespace {

// What the sign-in needs of an account's or smarthost's configuration; `o` is its [*.oauth2] table.
template <class Entry>
oauth::LoginSubject subject_of(const config::Config& cfg, const char* kind, const Entry& e, const config::OAuth2& o) {
  const endpoint::OAuthLogin who = endpoint::oauth_login_of(cfg, e);
  oauth::LoginSubject s;
  s.kind = kind;
  s.name = e.name;
  s.username = e.username;
  s.provider.name = o.provider;
  s.provider.token_url = o.token_url;
  s.provider.device_authorization_url = o.device_authorization_url;
  s.provider.authorization_url = o.authorization_url;
  s.provider.scopes = o.scopes;
  s.client = endpoint::oauth_client_config(o, who.login_name);
  s.token_key = who.key;
  s.token_dir = endpoint::oauth_token_dir(cfg);
  s.config_file = cfg.file.string();
  return s;
}

}  // namespace

WhyNot find_oauth_subject(const config::Config& cfg, const std::string& kind, const std::string& name,
                          oauth::LoginSubject& out) {
  const config::Account* a = kind != "smarthost" ? cfg.find_account(name) : nullptr;
  const config::Smarthost* s = kind != "account" ? cfg.find_smarthost(name) : nullptr;
  if (a && s)
    return "both an account and a smarthost are named '" + name + "': say which, e.g. postbridge oauth login account " +
           name;
  if (!a && !s)
    return "there is no " + (kind.empty() ? std::string("account or smarthost") : kind) + " named '" + name + "' in " +
           cfg.file.string();
  const std::string found = a ? "account" : "smarthost";
  const auto& oauth2 = a ? a->oauth2 : s->oauth2;
  if (!oauth2)
    return found + " " + (a ? a->name : s->name) + " does not log in with OAuth; set auth = \"xoauth2\" (or \"oauthbearer\") and an [" +
           found + ".oauth2] table first";
  out = a ? subject_of(cfg, "account", *a, *oauth2) : subject_of(cfg, "smarthost", *s, *oauth2);
  return std::nullopt;
}

int oauth_command(const config::Config& cfg, const OAuthCommand& cmd, std::ostream& out, std::ostream& err) {
  if (cmd.action == "status") {
    bool any = false;
    for (const auto& a : cfg.accounts) {
      if (!a.oauth2) continue;
      oauth::status_line(subject_of(cfg, "account", a, *a.oauth2), out);
      any = true;
    }
    for (const auto& s : cfg.smarthosts) {
      if (!s.oauth2) continue;
      oauth::status_line(subject_of(cfg, "smarthost", s, *s.oauth2), out);
      any = true;
    }
    if (!any) out << "no account or smarthost in " << cfg.file.string() << " logs in with OAuth\n";
    return oauth::kLoginOk;
  }
  if (cmd.action != "login" && cmd.action != "logout") {
    err << "postbridge: unknown oauth action '" << cmd.action << "' (login, status, logout)\n";
    return oauth::kLoginUsage;
  }
  if (cmd.name.empty()) {
    err << "postbridge: oauth " << cmd.action << " needs the name of an account or smarthost\n";
    return oauth::kLoginUsage;
  }
  oauth::LoginSubject s;
  if (auto problem = find_oauth_subject(cfg, cmd.kind, cmd.name, s)) {
    err << "postbridge: " << *problem << "\n";
    return oauth::kLoginUsage;
  }
  if (cmd.action == "logout") return oauth::logout(s, out, err);
  return oauth::login(s, cmd.browser, out, err);
}

}  // namespace pb::app
