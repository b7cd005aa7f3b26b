// `postbridge oauth`: the first OAuth login of an account or smarthost, what is stored, and
// forgetting it.
//   login  [account|smarthost] NAME [--browser]
//          the device authorization grant (RFC 8628) where the provider offers one (Microsoft):
//          a code to enter on any computer's browser; otherwise (Google, or --browser) the
//          authorization code grant with PKCE (RFC 7636) and a redirect to a one-off listener on
//          127.0.0.1 (RFC 8252 7.3). The tokens go to the state directory (oauth/, 0600, owned
//          like the state directory: as root, main.cpp becomes its owner first), where the
//          running service picks them up.
//   status the OAuth accounts and smarthosts, whether a login is stored and until when the
//          access token runs; never a token.
//   logout [account|smarthost] NAME    forget the stored tokens.
#pragma once
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "app/oauth_tokens.hpp"
#include "config/config.hpp"
#include "oauth/grant.hpp"

namespace pb::app {

struct OAuthCommand {
  std::string action;  // "login", "status", "logout"
  std::string kind;    // "account", "smarthost" or "" (then NAME must be unique)
  std::string name;
  bool browser = false;  // login: the browser login even where a device login exists
};

// The account or smarthost a login is for.
struct OAuthSubject {
  std::string kind, name, username;  // kind "account" | "smarthost"; username: the mailbox
  const config::OAuth2* oauth2 = nullptr;
  OAuthLogin login;
};
// "" with `out` filled, or why not (no such name, ambiguous without `kind`, not an OAuth login).
std::string find_oauth_subject(const config::Config& cfg, const std::string& kind, const std::string& name,
                               OAuthSubject& out);

// Stores a completed sign-in (0600, owned by the user running this) and returns the file.
// Throws std::runtime_error in plain words (no refresh token sent, a symbolic link in place of
// the token folder) or std::system_error.
std::filesystem::path save_login(const config::Config& cfg, const OAuthSubject& s, const oauth::TokenResponse& t);

// The authorization code of a browser sign-in from the address it ended on ("http://...?code=..
// &state=.."), checked against `state`; nullopt with `error` in plain words otherwise.
std::optional<std::string> code_from_redirect(std::string_view text, const std::string& state, std::string& error);

// Exit code: 0 done, 1 the login failed (the reason printed), 2 usage (an unknown name...).
int oauth_command(const config::Config& cfg, const OAuthCommand& cmd, std::ostream& out, std::ostream& err);

}  // namespace pb::app
