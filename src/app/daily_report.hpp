// The daily report ([alerts] daily_report = "07:00"): once a day, at that local time or at the first
// minute the service runs after it, one mail to [alerts] recipients with yesterday's numbers, the
// open problems and the oldest queued message (alerts::daily_report writes the words).
// Promise: at most one report per local day, across restarts — the day of the last one is kept in
// STATE_DIR/daily-report.
#pragma once
#include <boost/asio/steady_timer.hpp>

#include "alerts/daily_report.hpp"
#include "app/context.hpp"

namespace pb::app {

class DailyReporter {
 public:
  explicit DailyReporter(Context& ctx);
  void start();  // looks at once (a machine that was off at report time sends when it comes up)
  void stop();

 private:
  void schedule();
  void check();

  Context& ctx_;
  boost::asio::steady_timer timer_;
};

// What the report says, from the store: the whole local day before `now`, or (so_far) today until
// `now` — the report `postbridge test daily-report` queues, so an admin sees today's numbers.
alerts::ReportInput report_input(const config::Config& cfg, queue::Store& store, queue::UnixTime now, bool so_far);

// Queues the report to [alerts] recipients in [alerts] language; returns the queue id.
queue::MessageId queue_daily_report(const config::Config& cfg, queue::Store& store, queue::UnixTime now,
                                    bool so_far);

}  // namespace pb::app
