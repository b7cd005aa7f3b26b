// The per-address login throttle: counting, doubling waits, forgetting, bounded memory.
#include "util/login_throttle.hpp"

#include <algorithm>

#include "util/inet.hpp"

namespace pb::login {

namespace {

constexpr std::string_view kMappedPrefix = "::ffff:";

bool dotted_quad(std::string_view s) { return inet::is_ip_literal(s) && s.find(':') == std::string_view::npos; }

}  // namespace

std::string throttle_key(std::string_view address) {
  if (address.size() > kMappedPrefix.size() && address.substr(0, kMappedPrefix.size()) == kMappedPrefix &&
      dotted_quad(address.substr(kMappedPrefix.size())))
    return std::string(address.substr(kMappedPrefix.size()));  // RFC 4291 2.5.5.2
  if (address.find(':') != std::string_view::npos && inet::is_ip_literal(address) && !inet::is_loopback_literal(address)) {
    if (auto net = inet::Cidr::parse_masked(std::string(address) + "/64")) return net->str();
  }
  return std::string(address);
}

std::optional<LoginThrottle::Clock::duration> LoginThrottle::wait(std::string_view address,
                                                                    Clock::time_point now) const {
  auto it = states_.find(throttle_key(address));
  if (it == states_.end() || now >= it->second.until) return std::nullopt;
  return it->second.until - now;
}

LoginThrottle::Failure LoginThrottle::failed(std::string_view address, std::string_view door, Clock::time_point now) {
  const std::string key = throttle_key(address);
  if (!states_.count(key)) make_room(now);
  State& s = states_[key];
  const bool waiting = s.failures >= policy_.free_failures;
  // A quiet address starts afresh; below the threshold, old failures leave the window.
  if (s.failures > 0 && (now - s.last >= policy_.forget_after || (!waiting && now - s.first >= policy_.window)))
    s = State{};
  if (s.failures == 0) s.first = now;
  ++s.failures;
  s.last = now;
  if (s.doors.find(door) == std::string::npos) s.doors += (s.doors.empty() ? "" : ", ") + std::string(door);

  Failure f;
  f.failures = s.failures;
  const int over = s.failures - policy_.free_failures;
  if (over >= 0) {
    // first_wait * 2^over, capped; the shift is bounded so it cannot overflow.
    auto w = policy_.first_wait * (std::int64_t{1} << std::min(over, 30));
    f.wait = std::min<Clock::duration>(w, policy_.lockout);
    s.until = now + f.wait;
    f.started_waiting = over == 0;
  }
  return f;
}

void LoginThrottle::succeeded(std::string_view address) { states_.erase(throttle_key(address)); }

void LoginThrottle::make_room(Clock::time_point now) {
  std::erase_if(states_, [&](const auto& kv) { return now - kv.second.last >= policy_.forget_after && now >= kv.second.until; });
  while (!states_.empty() && states_.size() >= policy_.capacity) {
    auto quietest = std::min_element(states_.begin(), states_.end(),
                                     [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
    states_.erase(quietest);
  }
}

std::vector<LoginThrottle::Entry> LoginThrottle::entries(Clock::time_point now) const {
  std::vector<Entry> out;
  for (const auto& [key, s] : states_) {
    if (now - s.last >= policy_.forget_after && now >= s.until) continue;
    out.push_back({key, s.doors, s.failures, now < s.until ? s.until - now : Clock::duration{}, now - s.last});
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.since_last < b.since_last; });
  return out;
}

}  // namespace pb::login
