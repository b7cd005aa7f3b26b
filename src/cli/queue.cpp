// `postbridge queue -c FILE [ACTION ID|retry --all]`: the queue as a table, or one action on a
// message; both work while the service runs (the store is SQLite in WAL mode).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "app/bounce.hpp"
#include "app/service.hpp"
#include "cli/command.hpp"
#include "queue/action.hpp"
#include "queue/ratelimit.hpp"
#include "queue/route_id.hpp"
#include "queue/store.hpp"
#include "util/display.hpp"
#include "util/units.hpp"

namespace pb::cli {
namespace {

using app::kExitOk;
using app::kExitRuntime;

std::string span(std::int64_t seconds) {
  return format_duration(std::chrono::seconds(std::max<std::int64_t>(0, seconds)));
}
std::string age(queue::UnixTime t) { return t <= 0 ? "-" : span(std::time(nullptr) - t); }

// ACTION ID (or retry --all): the same actions as the status page (queue/action.hpp).
int queue_action(const config::Config& cfg, const Args& args) {
  const std::string& action = args.operands[0];
  queue::Store store(cfg.service.state_dir);
  auto now = static_cast<queue::UnixTime>(std::time(nullptr));
  if (action == "retry" && args.all) {
    std::printf("%d queued message(s) will be tried now\n", store.queue().retry_all(now));
    return kExitOk;
  }
  if (args.operands.size() != 2) return usage_error("queue " + action + " needs a message ID");
  char* end = nullptr;
  long long id = std::strtoll(args.operands[1].c_str(), &end, 10);
  if (!end || *end || id <= 0) return usage_error("'" + args.operands[1] + "' is not a message ID");
  const auto act = queue::parse_action(action);
  if (!act) return usage_error("unknown queue action '" + action + "' (retry, hold, release, delete, bounce)");
  auto bounce = [&](const queue::QueuedMessage& m) { return app::bounce_now(cfg, store, m); };
  auto msg = store.queue().get(id);
  const bool ok = msg && queue::apply(store, *msg, *act, now, bounce);
  if (!ok) {
    std::fprintf(stderr, "postbridge: message %lld not found or not in a state that allows '%s'\n", id, action.c_str());
    return kExitRuntime;
  }
  std::printf("message %lld: %s done\n", id, action.c_str());
  return kExitOk;
}

}  // namespace

int queue(config::Config& cfg, const Args& args) {
  if (!args.operands.empty()) return queue_action(cfg, args);
  queue::Store store(cfg.service.state_dir);
  auto msgs = store.queue().list(500);
  // A smarthost at its send limit holds its messages back: NEXT says until when, not "now".
  const auto now_s = static_cast<queue::UnixTime>(std::time(nullptr));
  std::map<std::string, queue::UnixTime> allowed_at;
  for (const auto& s : cfg.smarthosts) {
    if (s.max_per_hour <= 0 && s.max_per_day <= 0) continue;
    queue::SendWindow window(s.max_per_hour, s.max_per_day);
    const std::string route = queue::RouteId::smarthost(s.name).to_string();
    window.load(store.events().send_times(route, now_s - 86400));
    allowed_at[route] = window.next_allowed(now_s);
  }
  // Columns are measured in what the terminal shows (an umlaut one column, a CJK character two),
  // and addresses and replies come from mail and servers: escaped, so no control reaches the
  // terminal (U+009B acts like ESC [ there).
  std::vector<std::vector<std::string>> rows{
      {"ID", "STATE", "ROUTE", "SENDER", "RECIPIENTS", "SIZE", "AGE", "TRY", "NEXT", "LAST REPLY"}};
  for (const auto& m : msgs) {
    std::string rcpts;
    for (const auto& r : m.recipients) rcpts += (rcpts.empty() ? "" : ",") + r.address;
    queue::UnixTime due = m.next_attempt;
    if (auto it = allowed_at.find(m.route); it != allowed_at.end()) due = std::max(due, it->second);
    std::string next = m.state == queue::MsgState::queued ? (due <= now_s ? "now" : "in " + span(due - now_s)) : "-";
    rows.push_back({std::to_string(m.id), queue::to_string(m.state), display::safe(m.route),
                    m.sender.empty() ? "<>" : display::safe(m.sender), display::safe(rcpts, 2000),
                    format_size({m.size}), age(m.created_at), std::to_string(m.attempts), next,
                    display::safe(m.last_reply, 2000)});
  }
  std::fputs(display::table(rows, {{12}, {9}, {24}, {40}, {50}, {10, true}, {8, true}, {4, true}, {12}, {200}})
                 .c_str(),
             stdout);
  std::printf("%d queued, %d failed, %d held, %d delivered\n", store.queue().count(queue::MsgState::queued),
              store.queue().count(queue::MsgState::failed), store.queue().count(queue::MsgState::held),
              store.queue().count(queue::MsgState::delivered));
  return kExitOk;
}

}  // namespace pb::cli
