// What the status page shows of a sign-in it started (oauth/page_logins.hpp). A header of its own:
// the page's model (http/model.hpp) names it without pulling in the sign-in's Asio code.
#pragma once
#include <cstdint>
#include <string>

namespace pb::oauth {

// A sign-in from the page: the device flow's code, or the browser flow's address; then done or
// failed. Never a token.
struct PageLoginState {
  std::string state;  // starting | waiting | exchanging | done | failed
  std::string flow;   // device | browser
  std::string user_code, verification_uri;  // device
  std::string url;                          // browser: the provider's sign-in page
  std::string error;                        // failed: plain words with the provider's own
  std::int64_t expires_at = 0;              // Unix seconds; the code or address is void after it
};

}  // namespace pb::oauth
