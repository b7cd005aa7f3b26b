// Typed configuration values parsed once at the edge: durations ("90s", "5m", "1h30m", "2d") and
// byte sizes ("50MB", "512KiB", "1048576"). Parsers return nullopt on anything malformed.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pb {

using Duration = std::chrono::milliseconds;

struct ByteSize {
  std::uint64_t bytes = 0;
  friend bool operator==(ByteSize, ByteSize) = default;
};

// "500ms", "30s", "5m", "1h", "2d", "1h30m"; a bare number means seconds. Must be >= 0.
std::optional<Duration> parse_duration(std::string_view text);
// "123", "10KB"/"10K" (1000), "10KiB" (1024), MB/MiB, GB/GiB; case-insensitive; no fractions.
std::optional<ByteSize> parse_size(std::string_view text);

std::string format_duration(Duration d);  // "5m", "1h30m", "250ms"
std::string format_size(ByteSize s);      // "50 MB", "1.5 KB", "12 bytes"

}  // namespace pb
