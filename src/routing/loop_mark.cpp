// HMAC-SHA256 loop marks and their key file.
#include "routing/loop_mark.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "util/base64.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace pb::routing {
namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kMacBytes = 16;  // 128 bits: guessing one is hopeless

std::string b64url(const std::uint8_t* p, std::size_t n) {
  std::string s = base64::encode(std::string_view(reinterpret_cast<const char*>(p), n));
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::array<std::uint8_t, kMacBytes> mac_of(const LoopMarker::Key& key, std::string_view hostname, std::string_view nonce) {
  std::string input = text::to_lower(hostname) + "\n" + std::string(nonce);
  std::uint8_t full[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(input.data()),
            input.size(), full, &len))
    throw std::runtime_error("HMAC-SHA256 failed (OpenSSL)");
  std::array<std::uint8_t, kMacBytes> out{};
  std::memcpy(out.data(), full, out.size());
  return out;
}

// Exactly kKeyBytes from an open descriptor, or nullopt.
std::optional<LoopMarker::Key> read_key(int fd) {
  LoopMarker::Key key{};
  std::size_t got = 0;
  while (got < key.size()) {
    ssize_t n = ::read(fd, key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  return key;
}

}  // namespace

LoopMarker LoopMarker::load_or_create(const std::filesystem::path& state_dir) {
  const auto path = state_dir / kLoopKeyFile;
  if (auto existing = load(state_dir)) return *existing;
  Key key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) throw std::runtime_error("no random numbers for " + path.string());
  fs::replace_own_file(path, std::string_view(reinterpret_cast<const char*>(key.data()), key.size()), 0600);
  return LoopMarker(key);
}

std::optional<LoopMarker> LoopMarker::load(const std::filesystem::path& state_dir) {
  const auto path = state_dir / kLoopKeyFile;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  auto key = read_key(fd);
  ::close(fd);
  if (!key) return std::nullopt;
  return LoopMarker(*key);
}

std::string LoopMarker::make(std::string_view hostname) const {
  std::uint8_t raw[kNonceBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no random numbers for a loop mark");
  const std::string nonce = b64url(raw, sizeof raw);
  const auto mac = mac_of(key_, hostname, nonce);
  return nonce + "." + b64url(mac.data(), mac.size());
}

bool LoopMarker::verify(std::string_view hostname, std::string_view mark) const {
  auto dot = mark.find('.');
  if (dot == std::string_view::npos || dot == 0 || mark.size() > 64) return false;
  const auto mac = mac_of(key_, hostname, mark.substr(0, dot));
  const std::string want = b64url(mac.data(), mac.size());
  const std::string_view got = mark.substr(dot + 1);
  return got.size() == want.size() && CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
}

}  // namespace pb::routing
