// Basic-auth parsing, the credential cache and the CSRF rule. The cache never holds a password:
// only SHA-256(salt, user, NUL, password) with a random per-process salt.
#include "http/auth.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "util/base64.hpp"
#include "util/text.hpp"

namespace pb::http {

std::optional<BasicCredentials> parse_basic(std::string_view authorization) {
  auto value = text::trim(authorization);
  constexpr std::string_view scheme = "basic ";
  if (!text::istarts_with(value, scheme)) return std::nullopt;  // RFC 7617 2: scheme is case-insensitive
  auto decoded = base64::decode(text::trim(value.substr(scheme.size())));
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  BasicCredentials c{decoded->substr(0, colon), decoded->substr(colon + 1)};
  std::fill(decoded->begin(), decoded->end(), '\0');  // the decoded password does not linger
  return c;
}

CredentialCache::CredentialCache(Clock::duration ttl, std::size_t capacity) : ttl_(ttl), capacity_(capacity) {
  if (RAND_bytes(salt_.data(), static_cast<int>(salt_.size())) != 1)
    throw std::runtime_error("no random numbers for the login cache (OpenSSL RAND_bytes failed)");
}

CredentialCache::Digest CredentialCache::digest(const BasicCredentials& c) const {
  Digest out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, salt_.data(), salt_.size()) == 1 &&
            EVP_DigestUpdate(ctx, c.user.data(), c.user.size()) == 1 && EVP_DigestUpdate(ctx, "", 1) == 1 &&
            EVP_DigestUpdate(ctx, c.password.data(), c.password.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), nullptr) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("SHA-256 failed in the login cache");
  return out;
}

bool CredentialCache::contains(const BasicCredentials& c, Clock::time_point now) const {
  const Digest d = digest(c);
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == d && e.expires > now; });
}

void CredentialCache::remember(const BasicCredentials& c, Clock::time_point now) {
  std::erase_if(entries_, [&](const Entry& e) { return e.expires <= now; });
  const Digest d = digest(c);
  std::erase_if(entries_, [&](const Entry& e) { return e.key == d; });
  if (entries_.size() >= capacity_) entries_.erase(entries_.begin());  // the oldest
  entries_.push_back({d, now + ttl_});
}

std::optional<std::string> csrf_refusal(const Request& req, const Site& site) {
  if (req["X-Postbridge"] != "1")
    return "the request lacks the header X-Postbridge: 1 that the status page sends";
  // Fetch Metadata (W3C): browsers label every request with where it comes from. same-origin is
  // necessary, not enough: a rebinding page is same-origin with itself.
  auto fetch_site = req["Sec-Fetch-Site"];
  if (!fetch_site.empty() && fetch_site != "same-origin")
    return "the request comes from another site (Sec-Fetch-Site: " + text::printable(fetch_site, 40) + ")";
  if (req.count(bhttp::field::origin) == 0) return std::nullopt;
  auto origin = req[bhttp::field::origin];
  if (!site.is_own_origin(origin))
    return "the request comes from the page " + text::printable(origin, 80) +
           ", which is not this status page (its names: the listen address, localhost and [web] hostnames)";
  return std::nullopt;
}

}  // namespace pb::http
