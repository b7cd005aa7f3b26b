// Who may use the status page: HTTP Basic logins (RFC 7617) checked against [[web.user]], with a
// short-lived cache of successful checks, and the same-origin rule for state-changing requests.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"
#include "http/site.hpp"

namespace pb::http {

struct BasicCredentials {
  std::string user;
  std::string password;
};

// The credentials of an "Authorization: Basic base64(user:password)" header (RFC 7617 2), or
// nullopt for another scheme or a malformed value. The user name ends at the first ':'.
std::optional<BasicCredentials> parse_basic(std::string_view authorization);

// Successful checks remembered for `ttl`, keyed by a salted SHA-256 of user and password (the
// password itself is never kept), so yescrypt runs about once a minute per user, not per request.
class CredentialCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CredentialCache(Clock::duration ttl, std::size_t capacity = 32);
  bool contains(const BasicCredentials& c, Clock::time_point now) const;
  void remember(const BasicCredentials& c, Clock::time_point now);
  void clear() { entries_.clear(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  Digest digest(const BasicCredentials& c) const;
  struct Entry {
    Digest key;
    Clock::time_point expires;
  };
  Clock::duration ttl_;
  std::size_t capacity_;
  std::array<unsigned char, 16> salt_{};
  std::vector<Entry> entries_;
};

// Cross-site request forgery guard for requests that change something (every POST): the page's
// own header X-Postbridge: 1 (a plain HTML form cannot set it, and a cross-origin fetch with it
// needs a CORS preflight this server never grants); no Sec-Fetch-Site other than same-origin;
// and an Origin, when the browser sends one, that is this page by `site` (RFC 6454 7) — never
// compared with the request's own Host, which a rebinding page controls. Browsers send Origin
// with every POST (Fetch, "append a request Origin header"); a request without one is not a
// page's but a script's (curl), which needs no guard against forgery. Returns the reason for a
// refusal, or nullopt when the request may pass.
std::optional<std::string> csrf_refusal(const Request& req, const Site& site);

}  // namespace pb::http
