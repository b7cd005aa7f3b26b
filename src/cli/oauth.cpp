// `postbridge oauth -c FILE login|status|logout [account|smarthost] NAME [--browser]`: the words
// checked here, the sign-in itself in oauth/login (app/oauth_command finds what it is for).
#include <iostream>

#include "app/oauth_command.hpp"
#include "cli/command.hpp"

namespace pb::cli {

int oauth(config::Config& cfg, const Args& args) {
  app::OAuthCommand cmd;
  const auto& ops = args.operands;
  if (ops.empty()) return usage_error("oauth needs an action: login, status or logout");
  cmd.action = ops[0];
  cmd.browser = args.browser;
  if (ops.size() == 3) {
    if (ops[1] != "account" && ops[1] != "smarthost")
      return usage_error("oauth " + ops[0] + ": '" + ops[1] + "' is neither 'account' nor 'smarthost'");
    cmd.kind = ops[1];
    cmd.name = ops[2];
  } else if (ops.size() == 2) {
    cmd.name = ops[1];
  }
  if (cmd.action == "status" && ops.size() > 1) return usage_error("oauth status takes no name");
  if (args.browser && cmd.action != "login") return usage_error("--browser only applies to 'oauth login'");
  return app::oauth_command(cfg, cmd, std::cout, std::cerr);
}

}  // namespace pb::cli
