// The free-space check: one statvfs per question (microseconds), asked before each accepted or
// fetched message, never per written block.
#include "app/storage.hpp"

#include <chrono>
#include <map>

#include "queue/spool.hpp"
#include "util/log.hpp"

namespace pb::app {

StorageCheck check_storage(const Context& ctx, std::uint64_t need) {
  StorageCheck c;
  c.min_free = ctx.config->service.min_free_space.bytes;
  auto free = queue::available_space(ctx.store.spool_dir());
  if (!free) return c;
  c.free = *free;
  if (c.free >= c.min_free && c.free - c.min_free >= need) return c;
  c.ok = false;
  c.words = "the state folder " + ctx.config->service.state_dir.string() + " has only " + format_size({c.free}) +
            " free" + (need > 0 ? " for a message of " + format_size({need}) : "") +
            ", and postbridge keeps min_free_space (" + format_size({c.min_free}) + ") free";
  return c;
}

void log_storage_problem(const StorageCheck& check, const std::string& consequence) {
  static std::map<std::string, std::chrono::steady_clock::time_point> last;  // per consequence
  auto now = std::chrono::steady_clock::now();
  auto [it, first] = last.try_emplace(consequence, now);
  if (!first && now - it->second < std::chrono::minutes(1)) return;
  it->second = now;
  log::error(check.words + ": " + consequence + ". Free up space (or lower min_free_space); postbridge resumes by itself");
}

}  // namespace pb::app
