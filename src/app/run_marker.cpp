// The "running" marker (see run_marker.hpp): its content is the start time of the run that wrote it.
// A marker that cannot be read still says "unclean": its presence is what counts.
#include "app/run_marker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "util/fs.hpp"
#include "util/log.hpp"

namespace pb::app {

namespace {

std::filesystem::path marker(const std::filesystem::path& state_dir) { return state_dir / "running"; }

std::optional<queue::UnixTime> previous_start(const std::filesystem::path& file) {
  std::optional<std::string> text;
  try {
    text = fs::read_own_file(file, 64);
  } catch (const std::exception&) {
    return 0;  // there, but not ours to read: still an unclean stop, its time unknown
  }
  if (!text) return std::nullopt;
  try {
    return static_cast<queue::UnixTime>(std::stoll(*text));
  } catch (const std::exception&) {
    return 0;  // cut short by the crash itself
  }
}

}  // namespace

std::optional<queue::UnixTime> mark_running(const std::filesystem::path& state_dir, queue::UnixTime now) {
  const auto file = marker(state_dir);
  auto previous = previous_start(file);
  // Replaced, not truncated in place: a hard link someone made at its name is not written through.
  fs::replace_own_file(file, std::to_string(now) + "\n", 0640);
  return previous;
}

void mark_stopped(const std::filesystem::path& state_dir) {
  std::error_code ec;
  std::filesystem::remove(marker(state_dir), ec);
  if (ec) log::warn("could not remove " + marker(state_dir).string() + ": " + ec.message() +
                    "; the next start will report an unclean stop");
}

}  // namespace pb::app
