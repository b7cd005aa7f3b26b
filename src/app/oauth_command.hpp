// `postbridge oauth login|status|logout`: which account or smarthost the words name, and what its
// configuration says for the sign-in (oauth/login.hpp runs the sign-in itself).
#pragma once
#include <iosfwd>
#include <string>

#include "config/config.hpp"
#include "oauth/login.hpp"
#include "util/why_not.hpp"

namespace pb::app {

struct OAuthCommand {
  std::string action;  // "login", "status", "logout"
  std::string kind;    // "account", "smarthost" or "" (then NAME must be unique)
  std::string name;
  bool browser = false;  // login: the browser login even where a device login exists
};

// nullopt with `out` filled, or why not (no such name, ambiguous without `kind`, not an OAuth login).
[[nodiscard]] WhyNot find_oauth_subject(const config::Config& cfg, const std::string& kind, const std::string& name,
                               oauth::LoginSubject& out);

// Exit code: 0 done, 1 the login failed (the reason printed), 2 usage (an unknown name...).
int oauth_command(const config::Config& cfg, const OAuthCommand& cmd, std::ostream& out, std::ostream& err);

}  // namespace pb::app
