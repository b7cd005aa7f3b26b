// The daily report (see daily_report.hpp): the event log's tallies of one local day, counted by the
// same rule as the page and /metrics (http::Counts), and the day of the last report in the state.
#include "app/daily_report.hpp"

#include <boost/asio/io_context.hpp>

#include <ctime>
#include <map>

#include "app/alerter.hpp"
#include "app/notice.hpp"
#include "http/tally.hpp"
#include "queue/alert_table.hpp"
#include "queue/route_id.hpp"
#include "util/display.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace pb::app {

using namespace std::chrono_literals;

namespace {

constexpr auto kEvery = 60s;

std::string local_time(queue::UnixTime t, const char* format) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (!::localtime_r(&tt, &tm)) return "?";
  char buf[32];
  return std::strftime(buf, sizeof buf, format, &tm) ? buf : "?";
}

int local_minutes(queue::UnixTime t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (!::localtime_r(&tt, &tm)) return 0;
  return tm.tm_hour * 60 + tm.tm_min;
}

struct DayCounts {
  std::map<std::string, http::Counts> account, route;
};

// The tallies of [from, to): the log counts from a start onwards, so the day is "since its start"
// minus "since its end". to == 0: until now.
DayCounts day_counts(queue::Store& store, queue::UnixTime from, queue::UnixTime to) {
  DayCounts plus, minus;
  for (const auto& t : store.events().tally(from)) {
    if (!t.account.empty()) plus.account[t.account].add(t);
    if (!t.route.empty()) plus.route[t.route].add(t);
  }
  if (to == 0) return plus;
  for (const auto& t : store.events().tally(to)) {
    if (!t.account.empty()) minus.account[t.account].add(t);
    if (!t.route.empty()) minus.route[t.route].add(t);
  }
  auto take = [](std::map<std::string, http::Counts>& a, const std::map<std::string, http::Counts>& b) {
    for (const auto& [k, c] : b) {
      auto& x = a[k];
      x.fetched -= c.fetched;
      x.delivered -= c.delivered;
      x.sent -= c.sent;
      x.bounced -= c.bounced;
    }
  };
  take(plus.account, minus.account);
  take(plus.route, minus.route);
  return plus;
}

alerts::Language language(const config::Config& cfg) {
  return cfg.alerts.language == config::Alerts::Language::de ? alerts::Language::de : alerts::Language::en;
}

std::filesystem::path last_report_file(const config::Config& cfg) { return cfg.service.state_dir / "daily-report"; }

}  // namespace

alerts::ReportInput report_input(const config::Config& cfg, queue::Store& store, queue::UnixTime now, bool so_far) {
  const queue::UnixTime today = http::local_day_start(now);
  const queue::UnixTime from = so_far ? today : http::local_day_start(today - 1);
  auto counts = day_counts(store, from, so_far ? 0 : today);

  alerts::ReportInput in;
  in.hostname = cfg.service.hostname;
  in.day = local_time(from, "%Y-%m-%d");
  if (so_far) in.until = local_time(now, "%H:%M");
  in.now = now;
  for (const auto& a : cfg.accounts) {
    const auto& c = counts.account[a.name];
    in.mailboxes.push_back({a.name, c.fetched, 0, c.bounced});
  }
  std::vector<std::string> routes{queue::RouteId::local().to_string()};
  for (const auto& h : cfg.smarthosts) routes.push_back(queue::RouteId::smarthost(h.name).to_string());
  for (const auto& r : routes) {
    const auto& c = counts.route[r];
    in.routes.push_back({r, 0, c.delivered + c.sent, c.bounced});
  }
  in.open = from_rows(store.alerts().all());
  if (auto oldest = store.queue().undelivered("queued", "", 1); !oldest.empty())
    in.oldest = alerts::OldestQueued{oldest.front().route, oldest.front().created_at,
                                     display::safe(oldest.front().last_reply, 300)};
  in.queued = store.queue().count_undelivered("queued", "");
  in.config_file = cfg.file.string();
  return in;
}

queue::MessageId queue_daily_report(const config::Config& cfg, queue::Store& store, queue::UnixTime now,
                                    bool so_far) {
  boost::asio::io_context io;  // Context wants an executor; nothing runs on it here
  Context ctx{io.get_executor(), store, std::make_shared<const config::Config>(cfg)};
  auto mail = alerts::daily_report(report_input(cfg, store, now, so_far), language(cfg));
  return queue_mail(ctx, cfg.alerts.recipients, mail.subject, mail.body).id;
}

DailyReporter::DailyReporter(Context& ctx) : ctx_(ctx), timer_(ctx.executor) {}

void DailyReporter::start() {
  check();
  schedule();
}

void DailyReporter::stop() { timer_.cancel(); }

void DailyReporter::schedule() {
  timer_.expires_after(kEvery);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || ctx_.stopping) return;
    check();
    schedule();
  });
}

// The day is recorded before the report is queued: a crash in between loses one report, where the
// other order would send it twice — and "at most once a day" is what the admin relies on.
// A failure (a full disk) is logged and tried again next minute.
void DailyReporter::check() {
  const auto cfg = ctx_.config;
  if (!cfg->alerts.daily_report) return;
  try {
    const auto now = Context::now();
    if (local_minutes(now) < *cfg->alerts.daily_report) return;
    const std::string today = local_time(now, "%Y-%m-%d") + "\n";
    const auto file = last_report_file(*cfg);
    if (fs::read_own_file(file, 64) == today) return;
    fs::replace_own_file(file, today, 0640);
    auto id = queue_daily_report(*cfg, ctx_.store, now, false);
    if (ctx_.on_queued) ctx_.on_queued(queue::RouteId::local().to_string());
    log::notice("daily report queued as message " + std::to_string(id));
  } catch (const std::exception& e) {
    log::error(std::string("daily report: ") + e.what());
  }
}

}  // namespace pb::app
