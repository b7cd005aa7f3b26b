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

// Cross-site request forgery guard for requests that change something (every POST): the browser
// says the request comes from our own page (Sec-Fetch-Site: same-origin, or an Origin whose host
// equals Host, RFC 6454 7), and the page's own header X-Postbridge: 1 is present (a plain HTML
// form cannot set it). Returns the reason for a refusal, or nullopt when the request may pass.
std::optional<std::string> csrf_refusal(const Request& req);

}  // namespace pb::http
