// Logging to stderr with syslog priority prefixes; one write(2) per line so lines never interleave.
#include "util/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace pb::log {
namespace {
Level g_min = Level::info;
bool g_time = false;
}  // namespace

void set_min_level(Level level) { g_min = level; }
void set_prefix_time(bool with_time) { g_time = with_time; }

void write(Level level, std::string_view text) {
  if (static_cast<int>(level) > static_cast<int>(g_min)) return;
  std::string line = "<" + std::to_string(static_cast<int>(level)) + ">";
  if (g_time) {
    std::time_t now = std::time(nullptr);
    char buf[32];
    std::tm tm{};
    localtime_r(&now, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S ", &tm);
    line += buf;
  }
  // Control characters from peers must not forge extra log lines.
  for (char c : text) line += (c == '\n' || c == '\r' || c == '\0') ? ' ' : c;
  line += '\n';
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace pb::log
