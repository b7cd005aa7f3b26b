// Logging to stderr with syslog priority prefixes; one write(2) per line so lines never interleave,
// and no control character of the text ever reaches the log as itself.
#include "util/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "util/text.hpp"

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
  // Text from peers (a login name, a reply) must neither forge extra log lines nor reach an
  // admin's terminal as escape sequences: every control character is shown as \xNN, here once
  // for every caller (text::printable keeps readable UTF-8 readable).
  line += text::printable(text, std::string::npos);
  line += '\n';
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace pb::log
