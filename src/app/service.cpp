// The running service as a whole: owns the io_context, the store, the deliverers, the scheduler,
// the listeners and the status page; starts them, reloads them on SIGHUP and stops them on SIGTERM.
// The roles themselves live beside it (scheduler, deliverers, once, status_view).
#include "app/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <map>

#include "app/alerter.hpp"
#include "app/daily_report.hpp"
#include "app/committer.hpp"
#include "app/deliverers.hpp"
#include "app/listener.hpp"
#include "app/once.hpp"
#include "app/run_marker.hpp"
#include "app/scheduler.hpp"
#include "app/status_view.hpp"
#include "http/server.hpp"
#include "queue/spool.hpp"
#include "util/log.hpp"
#include "util/sd_notify.hpp"

namespace pb::app {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

void set_log_level(const std::string& level) {
  using L = log::Level;
  static const std::map<std::string, L> levels{
      {"error", L::err}, {"warning", L::warning}, {"notice", L::notice}, {"info", L::info}, {"debug", L::debug}};
  auto it = levels.find(level);
  log::set_min_level(it == levels.end() ? L::info : it->second);
}

void warn_about_risky_settings(const config::Config& cfg) {
  for (const auto& a : cfg.accounts) {
    if (!a.enabled) continue;
    if (!a.tls_verify)
      log::warn("account " + a.name + ": tls_verify = false — the certificate of " + a.host +
                " is not checked, so anyone in the network path could read the password and the mail");
    if (a.tls == config::TlsMode::none)
      log::warn("account " + a.name + ": tls = \"none\" — the password and all mail travel in clear text to " + a.host);
  }
  if (!cfg.local.tls_verify && cfg.local.tls != config::TlsMode::none)
    log::warn("[local] tls_verify = false — the office server's certificate is not checked");
}

class Service {
 public:
  explicit Service(config::Config cfg)
      : store_(cfg.service.state_dir),
        ctx_{ioc_.get_executor(), store_, std::make_shared<const config::Config>(std::move(cfg))},
        committer_(ctx_), deliverers_(ctx_), scheduler_(ctx_, deliverers_.local()), alerter_(ctx_, deliverers_), reporter_(ctx_),
        view_(ctx_, scheduler_, deliverers_, config_record_), signals_(ioc_, SIGTERM, SIGINT, SIGHUP),
        watch_timer_(ioc_) {
    ctx_.loop_marker = routing::LoopMarker::load_or_create(ctx_.config->service.state_dir);
    ctx_.on_queued = [this](const std::string& route) { deliverers_.get(route).kick(); };
    ctx_.on_polled = [this] { alerter_.kick(); };
  }

  int run(const RunOptions& opt) {
    queue::clean_spool_tmp(store_.spool_dir());
    queue::remove_orphans(store_.spool_dir(), store_.queue().spool_names_in_use());
    if (int n = store_.queue().recover_interrupted(Context::now()); n > 0)
      log::notice(std::to_string(n) + " message(s) were being delivered when postbridge stopped; trying them again now");
    warn_about_risky_settings(*ctx_.config);
    int enabled = 0;
    for (const auto& a : ctx_.config->accounts) enabled += a.enabled ? 1 : 0;
    if (enabled == 0)
      log::notice("no account is enabled in " + ctx_.config->file.string() +
                  ": nothing will be fetched. Add an [[account]] section (see the commented example in that file), "
                  "then reload with SIGHUP (systemctl reload postbridge) or restart");
    else
      log::notice("postbridge " PB_VERSION " started: " + std::to_string(enabled) + " account(s), delivering to " +
                  ctx_.config->local.host + ":" + std::to_string(ctx_.config->local.port) + " over " +
                  config::to_string(ctx_.config->local.protocol) + ", state in " + ctx_.config->service.state_dir.string());
    deliverers_.start();
    wait_signals();
    once_ = opt.once;
    if (opt.once) {
      asio::co_spawn(ioc_, run_once(ctx_, scheduler_, deliverers_),
                     [this](std::exception_ptr e, int code) {
                       if (!e) stop(code);
                     });
    } else {
      if (ctx_.config->relay.enabled()) {
        listener_ = std::make_unique<Listener>(ctx_, committer_, [this](const std::string& r) { deliverers_.get(r).kick(); });
        try {
          listener_->start();
        } catch (const std::exception& e) {
          log::error(e.what());
          return kExitRuntime;
        }
      }
      if (ctx_.config->web.enabled()) {
        web_ = std::make_unique<http::Server>(ioc_.get_executor(), ctx_.config->web, view_);
        try {
          web_->start();
        } catch (const std::exception& e) {
          log::error(std::string("status page: ") + e.what());
          return kExitRuntime;
        }
      }
      try {
        alerter_.start(mark_running(ctx_.config->service.state_dir, Context::now()));
      } catch (const std::exception& e) {
        log::error("state folder: " + std::string(e.what()));
        return kExitRuntime;
      }
      reporter_.start();
      scheduler_.start();
      watch_queue();
      // Type=notify: systemd counts the service as started once the listeners are open.
      sd::ready(status_line());
    }
    ioc_.run();
    // Reached only by a stop that ran its course (SIGTERM, SIGINT): a kill leaves the marker.
    if (!opt.once) mark_stopped(ctx_.config->service.state_dir);
    return exit_code_;
  }


 private:
  // The queue CLI changes the database while we run: PRAGMA data_version moves when another
  // connection commits, and then every route looks at its queue again.
  void watch_queue() {
    watch_timer_.expires_after(2s);
    watch_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || ctx_.stopping) return;
      auto v = store_.data_version();
      if (v != data_version_ && data_version_ != 0) {
        data_version_ = v;
        deliverers_.queue_changed();
      } else {
        data_version_ = v;
        // Cheap (each route re-reads its queue only when its sessions run dry), and it also
        // catches mail another process queued (a bounce from `postbridge queue bounce`).
        deliverers_.kick_all();
      }
      notify_status();
      watch_queue();
    });
  }

  void wait_signals() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signals();
      } else {
        log::notice(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping");
        stop(kExitOk);
      }
    });
  }

  void stop(int code) {
    if (ctx_.stopping) return;
    exit_code_ = code;
    ctx_.stopping = true;
    sd::stopping();
    scheduler_.stop();
    alerter_.stop();
    reporter_.stop();
    deliverers_.stop_all();
    if (listener_) listener_->stop();
    if (web_) web_->stop();
    watch_timer_.cancel();
    signals_.cancel();
    // Sessions finish their current step; whatever still runs after 8 s is abandoned (no QUIT,
    // so the provider deletes nothing), keeping the 10 s promise to systemd.
    auto deadline = std::make_shared<asio::steady_timer>(ioc_, 8s);
    deadline->async_wait([this, deadline](boost::system::error_code) { ioc_.stop(); });
    asio::co_spawn(ioc_, wait_quiet(), asio::detached);
  }

  // Stops the io_context as soon as no session is busy any more.
  asio::awaitable<void> wait_quiet() {
    while (scheduler_.active_polls() > 0 || deliverers_.busy() || (listener_ && listener_->sessions() > 0))
      co_await scheduler_.polls_done().wait(200ms);
    ioc_.stop();
  }

  void reload() {
    sd::reloading();
    std::shared_ptr<const config::Config> fresh;
    try {
      fresh = std::make_shared<const config::Config>(config::load(ctx_.config->file));
    } catch (const config::ConfigError& e) {
      for (const auto& p : e.problems()) log::error(p);
      log::error("configuration reload failed: the old configuration keeps running");
      config_record_.reload_problems = e.problems();
      config_record_.reload_failed_at = Context::now();
      sd::ready("configuration reload failed, the old configuration keeps running: " + e.problems().front());
      alerter_.config_reloaded(e.problems(), config_record_.reload_failed_at);
      return;
    }
    ctx_.config = fresh;
    config_record_.loaded_at = Context::now();
    config_record_.reload_problems.clear();
    config_record_.reload_failed_at = 0;
    set_log_level(fresh->service.log_level);
    warn_about_risky_settings(*fresh);
    log::notice("configuration reloaded from " + fresh->file.string());
    scheduler_.config_changed();
    deliverers_.config_changed();
    if (!once_) reload_listeners();
    alerter_.config_reloaded({}, config_record_.loaded_at);
    sd::ready(status_line());
  }

  // The relay and the status page follow a reload too: new addresses are bound, a renewed
  // certificate is read, removed logins stop working at once. A failure is logged in plain words
  // and leaves that listener as it was (or off, when its old address was already given up).
  void reload_listeners() {
    const auto& cfg = *ctx_.config;
    try {
      if (cfg.relay.enabled() && !listener_) {
        listener_ = std::make_unique<Listener>(ctx_, committer_, [this](const std::string& r) { deliverers_.get(r).kick(); });
        listener_->start();
      } else if (listener_ && cfg.relay.enabled()) {
        listener_->reconfigure();
      } else if (listener_) {
        listener_->stop();
        log::notice("relay: no longer listening ([relay] listen and listen_tls are empty)");
      }
    } catch (const std::exception& e) {
      log::error(std::string(e.what()) + "; fix [relay] in " + cfg.file.string() + " and reload again");
    }
    try {
      if (cfg.web.enabled() && !web_) {
        web_ = std::make_unique<http::Server>(ioc_.get_executor(), cfg.web, view_);
        web_->start();
      } else if (web_) {
        web_->reconfigure(cfg.web);
        if (!cfg.web.enabled()) log::notice("status page: off ([web] listen is empty)");
      }
    } catch (const std::exception& e) {
      log::error("status page: " + std::string(e.what()) + "; fix [web] in " + cfg.file.string() + " and reload again");
    }
  }

  // One line for `systemctl status`: how many mailboxes, what is waiting, what is wrong.
  std::string status_line() {
    int enabled = 0, fetched = 0;
    std::vector<std::string> trouble;
    for (const auto& a : view_.accounts()) {
      if (!a.enabled) continue;
      ++enabled;
      fetched += a.fetched_today;
      if (a.state == "auth-failed" || a.state == "error") trouble.push_back("account " + a.name + ": " + a.state);
    }
    int queued = 0, failed = 0;
    for (const auto& r : view_.routes()) {
      queued += r.queued;
      failed += r.failed;
      if (r.state != "ok" && r.state != "rate-limited") trouble.push_back(r.name + ": " + r.state);
    }
    std::string out = std::to_string(enabled) + " mailbox(es), " + std::to_string(fetched) + " fetched today, " +
                      std::to_string(queued) + " queued";
    if (failed) out += ", " + std::to_string(failed) + " failed";
    if (!view_.storage().ok) trouble.push_back("disk full");
    if (config_record_.reload_failed_at) trouble.push_back("config reload failed");
    for (std::size_t i = 0; i < trouble.size(); ++i) out += (i ? "; " : " — ") + trouble[i];
    return out;
  }

  void notify_status() {
    if (!sd_status_) return;
    auto line = status_line();
    if (line != last_status_) sd::status(line);
    last_status_ = std::move(line);
  }

  const bool sd_status_ = std::getenv("NOTIFY_SOCKET") != nullptr;
  std::string last_status_;
  queue::Store store_;
  asio::io_context ioc_{1};
  Context ctx_;
  GroupCommitter committer_;
  Deliverers deliverers_;
  Scheduler scheduler_;
  Alerter alerter_;
  DailyReporter reporter_;
  ConfigRecord config_record_;
  StatusView view_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<http::Server> web_;
  bool once_ = false;  // --once: no listeners to reload
  asio::signal_set signals_;
  asio::steady_timer watch_timer_;
  std::int64_t data_version_ = 0;
  int exit_code_ = kExitOk;
};

}  // namespace

int run_service(config::Config cfg, const RunOptions& opt) {
  set_log_level(cfg.service.log_level);
  std::unique_ptr<Service> service;
  try {
    service = std::make_unique<Service>(std::move(cfg));
  } catch (const std::exception& e) {
    log::error(std::string("cannot open the state folder: ") + e.what());
    return kExitRuntime;
  }
  return service->run(opt);
}

}  // namespace pb::app
