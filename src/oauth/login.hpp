// `postbridge oauth`: the first OAuth login of an account or smarthost, what is stored, and
// forgetting it.
//   login  [account|smarthost] NAME [--browser]
//          the device authorization grant (RFC 8628) where the provider offers one (Microsoft):
//          a code to enter on any computer's browser; otherwise (Google, or --browser) the
//          authorization code grant with PKCE (RFC 7636) and a redirect to a one-off listener on
//          127.0.0.1 (RFC 8252 7.3). The tokens go to the state directory (oauth/, 0600, owned
//          like the state directory: as root, cli::with_config becomes its owner first), where the
//          running service picks them up.
//   status the OAuth accounts and smarthosts, whether a login is stored and until when the
//          access token runs; never a token.
//   logout [account|smarthost] NAME    forget the stored tokens.
#pragma once
#include <filesystem>
#include <iosfwd>
#include <string>
#include <string_view>

#include "oauth/grant.hpp"
#include "oauth/token_client.hpp"

namespace pb::oauth {

// The account or smarthost a login is for, with what its [*.oauth2] table says. Built from the
// configuration by the caller (app/oauth_command.hpp), so the sign-in knows no config file format.
struct LoginSubject {
  std::string kind, name, username;  // kind "account" | "smarthost"; username: the mailbox
  Provider provider;                 // its endpoints and scopes; name: "microsoft", "google", "custom"
  ClientConfig client;               // what the token endpoint is asked with
  std::string token_key;             // the token file's key: "account.NAME", "smarthost.NAME"
  std::filesystem::path token_dir;   // state_dir/oauth
  std::string config_file;           // for the words "postbridge test -c FILE ..."
};

// Who signed in, where the provider says so (an OpenID Connect id_token): "" when it did not say
// (then the first login at the mail server is the check). Throws std::runtime_error in plain
// words, naming both users, when someone else than the configured login signed in, or when the
// id_token is not for this client (oauth/identity.hpp).
std::string check_signed_in_as(const LoginSubject& s, const TokenResponse& t);

// Stores a completed sign-in (0600, owned by the user running this: as root, cli::with_config has become
// the state folder's owner first) once check_signed_in_as accepted it; nothing is written
// otherwise. Throws std::runtime_error in plain words (another user, no refresh token sent, a
// symbolic link in place of the token folder) or std::system_error.
struct SavedLogin {
  std::filesystem::path file;
  std::string signed_in_as;  // "" when the provider did not say
};
SavedLogin save_login(const LoginSubject& s, const TokenResponse& t);

// What the address a browser sign-in ended on ("http://...?code=..&state=..") says for the
// sign-in whose state is `state` (RFC 6749 4.1.2, 10.12).
struct RedirectResult {
  enum class Kind {
    not_redirect,  // no ?...state=...: no sign-in's business
    other_state,   // the state of another (or a forged) sign-in: must change nothing
    refused,       // this sign-in's state with error=...: the provider's words in `value`
    code,          // this sign-in's state with its authorization code in `value`
  } kind = Kind::not_redirect;
  std::string value;
};
RedirectResult redirect_result(std::string_view text, const std::string& state);

// Exit codes of `postbridge oauth`: 0 done, 1 the login failed (the reason printed), 2 usage.
constexpr int kLoginOk = 0, kLoginFailed = 1, kLoginUsage = 2;

// `oauth login`: the device or browser sign-in in this terminal, then storing it. An exit code.
int login(const LoginSubject& s, bool browser, std::ostream& out, std::ostream& err);
// `oauth status`: one line on what is stored for `s`; never a token.
void status_line(const LoginSubject& s, std::ostream& out);
// `oauth logout`: forgets the stored tokens. An exit code.
int logout(const LoginSubject& s, std::ostream& out, std::ostream& err);

}  // namespace pb::oauth
