// Provider send limits (max_per_hour / max_per_day) as sliding windows over past send times.
// Pure: the caller passes the clock; memory is bounded by the larger limit, whatever is sent.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

namespace pb::queue {

// One window per smarthost. A send at time s counts for the hour window while now < s + 3600
// (and for the day while now < s + 86400): sliding windows, not calendar hours, because that is
// how providers count (new accounts get "n mails an hour").
class SendWindow {
 public:
  static constexpr std::int64_t kHour = 3600;
  static constexpr std::int64_t kDay = 86400;

  // 0 = unlimited. Throws std::invalid_argument for a negative limit.
  SendWindow(int per_hour, int per_day);

  // Earliest time (unix s) at which one more message may be sent; `now` if allowed now.
  // Sends recorded "in the future" (the clock was set back) count as sent `now`, so a clock
  // change can never block a route for longer than the window itself.
  std::int64_t next_allowed(std::int64_t now) const;
  bool allowed(std::int64_t now) const { return next_allowed(now) <= now; }

  // A message was sent (accepted by the smarthost). Out-of-order times are placed in order.
  void record(std::int64_t when);
  // Replaces the history, e.g. from the store at start-up (only the last 24 h matter).
  void load(std::vector<std::int64_t> past_sends);

  // Sends in (now - window, now]. Exact for a window that has a limit; for an unlimited window
  // only the sends kept for the other limit are counted (memory stays bounded by the limits).
  int sent_last_hour(std::int64_t now) const;
  int sent_last_day(std::int64_t now) const;

  int per_hour() const { return per_hour_; }
  int per_day() const { return per_day_; }

 private:
  std::int64_t free_at(int limit, std::int64_t window, std::int64_t now) const;
  int count_after(std::int64_t from_exclusive) const;
  void trim();

  int per_hour_;
  int per_day_;
  std::size_t capacity_;            // max(per_hour, per_day): older sends can never matter
  std::deque<std::int64_t> sends_;  // ascending, at most capacity_ entries
};

}  // namespace pb::queue
