// crypt(3) via libxcrypt's reentrant crypt_rn/crypt_gensalt_rn. The 32 KB crypt_data lives on
// the heap (callers may run on small coroutine stacks); results are compared in constant time.
#include "util/password.hpp"

#include <crypt.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

namespace pb::password {
namespace {

// One accepted method: the hash starts with `prefix`, splits on '$' into `min_parts` to
// `max_parts` pieces (the first is empty) and its last piece has exactly `final_length`
// characters of the crypt alphabet. Lengths are those libxcrypt 4.4 produces.
struct Method {
  std::string_view prefix;
  std::size_t min_parts, max_parts, final_length;
};

constexpr std::array<Method, 6> kMethods{{
    {"$y$", 5, 5, 43},   // yescrypt: $y$params$salt$hash
    {"$gy$", 5, 5, 43},  // gost-yescrypt
    {"$7$", 4, 4, 43},   // scrypt: $7$params+salt$hash
    {"$6$", 4, 5, 86},   // SHA-512-crypt: $6$[rounds=N$]salt$hash
    {"$5$", 4, 5, 43},   // SHA-256-crypt
    {"$2b$", 4, 4, 53},  // bcrypt: $2b$NN$ + 22 salt + 31 hash (one piece)
}};

constexpr std::size_t kMaxPassword = CRYPT_MAX_PASSPHRASE_SIZE - 1;  // the size counts the NUL

bool crypt64(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}

// Setting pieces (parameters, salt): visible ASCII except ':' (the passwd-file separator).
bool setting_char(char c) { return c > ' ' && c < 0x7F && c != ':'; }

std::vector<std::string_view> split_dollar(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t d = s.find('$', start);
    parts.push_back(s.substr(start, d == s.npos ? s.npos : d - start));
    if (d == s.npos) return parts;
    start = d + 1;
  }
}

// bcrypt's variants $2a$ and $2y$ share the $2b$ layout; the cost is two digits.
const Method* method_of(std::string_view text) {
  for (const Method& m : kMethods) {
    if (text.starts_with(m.prefix)) return &m;
  }
  if (text.starts_with("$2a$") || text.starts_with("$2y$")) return &kMethods[5];
  return nullptr;
}

bool shaped_like(const Method& m, std::string_view text) {
  auto parts = split_dollar(text);
  if (parts.size() < m.min_parts || parts.size() > m.max_parts) return false;
  for (std::size_t i = 1; i + 1 < parts.size(); ++i) {
    if (parts[i].empty() || !std::all_of(parts[i].begin(), parts[i].end(), setting_char))
      return false;
  }
  std::string_view last = parts.back();
  if (m.prefix == "$2b$") {
    bool cost = parts[2].size() == 2 && std::isdigit(static_cast<unsigned char>(parts[2][0])) &&
                std::isdigit(static_cast<unsigned char>(parts[2][1]));
    if (!cost) return false;
  }
  return last.size() == m.final_length && std::all_of(last.begin(), last.end(), crypt64);
}

bool acceptable_password(std::string_view pw) {
  return pw.size() <= kMaxPassword && pw.find('\0') == std::string_view::npos;
}

// Constant-time equality for equal-length inputs; lengths are not secret (they follow from the
// method), so a length mismatch may return early.
bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// crypt_rn into a heap buffer; nullopt on failure (crypt_rn returns NULL, never "*0" tokens).
std::optional<std::string> run_crypt(std::string_view password, const char* setting) {
  auto data = std::make_unique<crypt_data>();  // value-initialised: "initialized" must be 0
  std::string pw(password);
  const char* out = ::crypt_rn(pw.c_str(), setting, data.get(), sizeof(crypt_data));
  std::optional<std::string> result;
  if (out && out[0] != '*') result = std::string(out);
  // Copies of the password must not linger in freed memory; explicit_bzero is never elided.
  ::explicit_bzero(pw.data(), pw.size());
  ::explicit_bzero(data.get(), sizeof(crypt_data));
  return result;
}

}  // namespace

bool looks_like_hash(std::string_view text) {
  const Method* m = method_of(text);
  return m && shaped_like(*m, text);
}

bool verify_password(std::string_view password, const std::string& hash) {
  if (!acceptable_password(password) || !looks_like_hash(hash)) return false;
  auto computed = run_crypt(password, hash.c_str());
  return computed && equal_constant_time(*computed, hash);
}

std::string hash_password(std::string_view password) {
  if (password.empty()) throw std::invalid_argument("the password is empty");
  if (!acceptable_password(password))
    throw std::invalid_argument("the password is longer than 511 bytes or contains a NUL byte");
  // NULL prefix: libxcrypt's preferred method with its default cost, salt from the OS RNG.
  for (const char* prefix : {static_cast<const char*>(nullptr), "$6$"}) {
    std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
    if (!::crypt_gensalt_rn(prefix, 0, nullptr, 0, setting.data(), setting.size())) continue;
    auto hash = run_crypt(password, setting.data());
    if (hash && looks_like_hash(*hash)) return *hash;
  }
  throw std::runtime_error("libxcrypt could not hash the password (no random salt available?)");
}

}  // namespace pb::password
