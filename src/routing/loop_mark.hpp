// Loop marks only this gateway can write: a random nonce and its HMAC under a key kept in the
// state folder. The loop header and our own Received: stamps carry one, so a sender who knows our
// host name (every outgoing Received: shows it) can no longer forge a "loop" and have mail held.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace pb::routing {

class LoopMarker {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  using Key = std::array<std::uint8_t, kKeyBytes>;

  explicit LoopMarker(const Key& key) : key_(key) {}

  // STATE_DIR/loop.key: read, or made (0600, 32 random bytes, fsync'd) when missing. The service
  // calls this at start. Throws std::runtime_error naming the file.
  static LoopMarker load_or_create(const std::filesystem::path& state_dir);
  // Read only (the dry run): nullopt when the file is missing or unreadable.
  static std::optional<LoopMarker> load(const std::filesystem::path& state_dir);

  // A fresh mark for `hostname`: "NONCE.MAC" in base64url, 39 characters.
  std::string make(std::string_view hostname) const;
  // True when `mark` was made by make() with this key for this host name (any case).
  bool verify(std::string_view hostname, std::string_view mark) const;

 private:
  Key key_;
};

inline constexpr std::string_view kLoopKeyFile = "loop.key";

}  // namespace pb::routing
