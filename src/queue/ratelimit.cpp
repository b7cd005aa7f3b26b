// Sliding-window send limits: keep only the last max(per_hour, per_day) send times; the limit-th
// most recent send decides when the next message may go (it must have left the window).
#include "queue/ratelimit.hpp"

#include <algorithm>
#include <stdexcept>

namespace pb::queue {

SendWindow::SendWindow(int per_hour, int per_day) : per_hour_(per_hour), per_day_(per_day) {
  if (per_hour < 0 || per_day < 0) throw std::invalid_argument("send limits must be >= 0 (0 = unlimited)");
  capacity_ = static_cast<std::size_t>(std::max(per_hour, per_day));
}

std::int64_t SendWindow::free_at(int limit, std::int64_t window, std::int64_t now) const {
  const auto n = static_cast<std::size_t>(limit);
  if (limit == 0 || sends_.size() < n) return now;
  // With `limit` sends in the window one more is allowed once the oldest of the last `limit`
  // sends has left it: at that send + window.
  std::int64_t oldest_counted = std::min(sends_[sends_.size() - n], now);
  return std::max(now, oldest_counted + window);
}

std::int64_t SendWindow::next_allowed(std::int64_t now) const {
  return std::max(free_at(per_hour_, kHour, now), free_at(per_day_, kDay, now));
}

void SendWindow::record(std::int64_t when) {
  if (capacity_ == 0) return;
  // Usually appended; an earlier time (a clock step back, a late record) is inserted in order.
  sends_.insert(std::upper_bound(sends_.begin(), sends_.end(), when), when);
  trim();
}

void SendWindow::load(std::vector<std::int64_t> past_sends) {
  std::sort(past_sends.begin(), past_sends.end());
  std::size_t keep = std::min(past_sends.size(), capacity_);
  sends_.assign(past_sends.end() - static_cast<std::ptrdiff_t>(keep), past_sends.end());
}

void SendWindow::trim() {
  while (sends_.size() > capacity_) sends_.pop_front();
}

int SendWindow::count_after(std::int64_t from_exclusive) const {
  // Entries after `now` (clock set back) are counted too, as if sent now, like in next_allowed().
  auto first = std::upper_bound(sends_.begin(), sends_.end(), from_exclusive);
  return static_cast<int>(sends_.end() - first);
}

int SendWindow::sent_last_hour(std::int64_t now) const { return count_after(now - kHour); }
int SendWindow::sent_last_day(std::int64_t now) const { return count_after(now - kDay); }

}  // namespace pb::queue
