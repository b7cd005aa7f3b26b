// The parts of the shared Context made on first use: the OAuth token source is only built when an
// account or smarthost logs in with OAuth.
#include "app/context.hpp"

#include "endpoint/oauth_tokens.hpp"

namespace pb::app {

endpoint::OAuthTokens& oauth_tokens(Context& ctx) {
  if (!ctx.oauth) ctx.oauth = std::make_shared<endpoint::OAuthTokens>(endpoint::oauth_token_dir(*ctx.config));
  return *ctx.oauth;
}

}  // namespace pb::app
