// Service wiring: poll loops with jitter and backoff per account, a bound on parallel polls, the
// deliverer, signals. Scheduling policy lives in queue/backoff (next_poll_delay); the rest is plumbing.
#include "app/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/json/serialize.hpp>

#include <csignal>
#include <map>
#include <set>

#include "app/bounce.hpp"
#include "app/committer.hpp"
#include "http/model.hpp"
#include "http/server.hpp"
#include "http/tally.hpp"
#include "app/deliverer.hpp"
#include "app/listener.hpp"
#include "app/oauth_page.hpp"
#include "app/storage.hpp"
#include "app/fetcher.hpp"
#include "doctor/probe.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "endpoint/route.hpp"
#include "mail/idn.hpp"
#include "queue/backoff.hpp"
#include "queue/spool.hpp"
#include "util/log.hpp"
#include "util/sd_notify.hpp"

namespace pb::app {
namespace asio = boost::asio;
using endpoint::OAuthLogin;
using endpoint::kLocalRoute;
using endpoint::oauth_fingerprint;
using endpoint::oauth_login_of;
using endpoint::resolve_route;
using endpoint::smarthost_route_name;
using endpoint::unconfirmed_user_words;
using namespace std::chrono_literals;

namespace {

// Everything about an account that, when changed by a reload, clears its error state.
std::string fingerprint(const config::Account& a) {
  return a.host + "|" + std::to_string(a.port) + "|" + config::to_string(a.tls) + "|" + a.username + "|" +
         a.password.value + "|" + config::to_string(a.auth) + "|" + a.ca_file + "|" + (a.tls_verify ? "v" : "n") + "|" +
         oauth_fingerprint(a.oauth2);
}

// A session that made progress before its connection broke: mail flows, the account stays "ok"
// and the event log says it was interrupted. A full disk is no such thing: nothing more can come.
bool interrupted(const PollOutcome& o) { return !o.ok() && o.progress() && o.end != queue::PollEnd::disk_full; }

// What the admin can do about a failed poll, after the error itself.
// unconfirmed: for an OAuth login whose sign-in the provider never confirmed, the words that ask
// whether another user signed in ("" otherwise).
std::string poll_advice(const config::Account& a, queue::PollEnd end, std::chrono::seconds next,
                        const std::string& unconfirmed) {
  const std::string when = format_duration(next);
  if (end == queue::PollEnd::login_needed)
    return "; postbridge looks again in " + when + " and goes on by itself once the login is done";
  if (end != queue::PollEnd::auth_failed) return "; next try in " + when;
  const std::string what = !a.oauth2 ? " — check the username and password (was the password changed at the provider?)"
                           : !unconfirmed.empty()
                               ? " — " + unconfirmed + "; otherwise check [account.oauth2] and the app's permissions at "
                                                       "the provider (POP3 access for the mailbox, the scopes)"
                               : " — check [account.oauth2] and the app's permissions at the provider (POP3 access for "
                                 "the mailbox, the scopes), then log in again with postbridge oauth login";
  return what + ". Next try in " + when + " so the provider does not lock the account; a config reload retries at once";
}

const char* state_name(const PollOutcome& o) {
  if (o.ok() || interrupted(o)) return "ok";
  return o.end == queue::PollEnd::auth_failed || o.end == queue::PollEnd::login_needed ? "auth-failed" : "error";
}

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

class Service final : public http::ServiceView {
 public:
  explicit Service(config::Config cfg)
      : store_(cfg.service.state_dir),
        ctx_{ioc_.get_executor(), store_, std::make_shared<const config::Config>(std::move(cfg))},
        committer_(ctx_), signals_(ioc_, SIGTERM, SIGINT, SIGHUP), slot_free_(ioc_.get_executor()),
        polls_done_(ioc_.get_executor()), watch_timer_(ioc_) {
    ctx_.loop_marker = routing::LoopMarker::load_or_create(ctx_.config->service.state_dir);
    local_ = &deliverer(kLocalRoute);
    ctx_.on_queued = [this](const std::string& route) { deliverer(route).kick(); };
  }

  int run(const RunOptions& opt) {
    queue::clean_spool_tmp(store_.spool_dir());
    queue::remove_orphans(store_.spool_dir(), store_.spool_names_in_use());
    if (int n = store_.recover_interrupted(Context::now()); n > 0)
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
    start_deliverers();
    wait_signals();
    once_ = opt.once;
    if (opt.once) {
      asio::co_spawn(ioc_, run_once(), asio::detached);
    } else {
      if (ctx_.config->relay.enabled()) {
        listener_ = std::make_unique<Listener>(ctx_, committer_, [this](const std::string& r) { deliverer(r).kick(); });
        try {
          listener_->start();
        } catch (const std::exception& e) {
          log::error(e.what());
          return kExitRuntime;
        }
      }
      if (ctx_.config->web.enabled()) {
        web_ = std::make_unique<http::Server>(ioc_.get_executor(), ctx_.config->web, *this);
        try {
          web_->start();
        } catch (const std::exception& e) {
          log::error(std::string("status page: ") + e.what());
          return kExitRuntime;
        }
      }
      start_loops();
      watch_queue();
      // Type=notify: systemd counts the service as started once the listeners are open.
      sd::ready(status_line());
    }
    ioc_.run();
    return exit_code_;
  }

 private:
  struct Loop {
    explicit Loop(const asio::any_io_executor& ex) : wake(ex) {}
    Signal wake;
    std::string fingerprint;
    bool reset = false;    // config changed: forget the error state, poll soon
    bool poll_now = false; // the admin pressed "Poll now"
    bool polling = false;
    bool running = true;
  };

  // One deliverer per route, created on demand and kept for the life of the service (its loop ends
  // by itself when a reload removes the route; queued mail then waits for a route of that name).
  Deliverer& deliverer(const std::string& route) {
    auto it = deliverers_.find(route);
    if (it != deliverers_.end()) return *it->second;
    auto& d = deliverers_[route];
    d = std::make_unique<Deliverer>(ctx_, route);
    if (started_) asio::co_spawn(ioc_, d->run(), asio::detached);
    return *d;
  }

  void start_deliverers() {
    started_ = true;
    deliverer(kLocalRoute);
    for (const auto& s : ctx_.config->smarthosts) deliverer(smarthost_route_name(s.name));
    // Routes with queued mail but no config (smarthost renamed): their deliverer idles.
    for (const auto& [route, state] : store_.counts_by_route()) deliverer(route);
    for (auto& [name, d] : deliverers_) asio::co_spawn(ioc_, d->run(), asio::detached);
  }

  bool deliverers_busy() const {
    return std::any_of(deliverers_.begin(), deliverers_.end(), [](const auto& d) { return d.second->busy(); });
  }

  // The queue CLI changes the database while we run: PRAGMA data_version moves when another
  // connection commits, and then every route looks at its queue again.
  void watch_queue() {
    watch_timer_.expires_after(2s);
    watch_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || ctx_.stopping) return;
      auto v = store_.data_version();
      if (v != data_version_ && data_version_ != 0) {
        data_version_ = v;
        queue_changed();
      } else {
        data_version_ = v;
        // Cheap (each route re-reads its queue only when its sessions run dry), and it also
        // catches mail another process queued (a bounce from `postbridge queue bounce`).
        for (auto& [name, d] : deliverers_) d->kick();
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
    for (auto& [name, loop] : loops_) loop->wake.notify();
    for (auto& [name, d] : deliverers_) d->stop();
    if (listener_) listener_->stop();
    if (web_) web_->stop();
    watch_timer_.cancel();
    slot_free_.notify();
    polls_done_.notify();
    signals_.cancel();
    // Sessions finish their current step; whatever still runs after 8 s is abandoned (no QUIT,
    // so the provider deletes nothing), keeping the 10 s promise to systemd.
    auto deadline = std::make_shared<asio::steady_timer>(ioc_, 8s);
    deadline->async_wait([this, deadline](boost::system::error_code) { ioc_.stop(); });
    asio::co_spawn(ioc_, wait_quiet(), asio::detached);
  }

  // Stops the io_context as soon as no session is busy any more.
  asio::awaitable<void> wait_quiet() {
    while (active_polls_ > 0 || deliverers_busy() || (listener_ && listener_->sessions() > 0))
      co_await polls_done_.wait(200ms);
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
      reload_problems_ = e.problems();
      reload_failed_at_ = Context::now();
      sd::ready("configuration reload failed, the old configuration keeps running: " + e.problems().front());
      return;
    }
    ctx_.config = fresh;
    config_loaded_at_ = Context::now();
    reload_problems_.clear();
    reload_failed_at_ = 0;
    set_log_level(fresh->service.log_level);
    warn_about_risky_settings(*fresh);
    log::notice("configuration reloaded from " + fresh->file.string());
    start_loops();
    for (auto& [name, loop] : loops_) {
      const auto* a = fresh->find_account(name);
      if (!a || !a->enabled) loop->running = false;
      else if (fingerprint(*a) != loop->fingerprint) loop->reset = true;
      loop->wake.notify();
    }
    for (const auto& s : fresh->smarthosts) deliverer(smarthost_route_name(s.name));
    for (auto& [name, d] : deliverers_) d->config_changed();
    if (!once_) reload_listeners();
    sd::ready(status_line());
  }

  // The relay and the status page follow a reload too: new addresses are bound, a renewed
  // certificate is read, removed logins stop working at once. A failure is logged in plain words
  // and leaves that listener as it was (or off, when its old address was already given up).
  void reload_listeners() {
    const auto& cfg = *ctx_.config;
    try {
      if (cfg.relay.enabled() && !listener_) {
        listener_ = std::make_unique<Listener>(ctx_, committer_, [this](const std::string& r) { deliverer(r).kick(); });
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
        web_ = std::make_unique<http::Server>(ioc_.get_executor(), cfg.web, *this);
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
    for (const auto& a : accounts()) {
      if (!a.enabled) continue;
      ++enabled;
      fetched += a.fetched_today;
      if (a.state == "auth-failed" || a.state == "error") trouble.push_back("account " + a.name + ": " + a.state);
    }
    int queued = 0, failed = 0;
    for (const auto& r : routes()) {
      queued += r.queued;
      failed += r.failed;
      if (r.state != "ok" && r.state != "rate-limited") trouble.push_back(r.name + ": " + r.state);
    }
    std::string out = std::to_string(enabled) + " mailbox(es), " + std::to_string(fetched) + " fetched today, " +
                      std::to_string(queued) + " queued";
    if (failed) out += ", " + std::to_string(failed) + " failed";
    if (!storage().ok) trouble.push_back("disk full");
    if (reload_failed_at_) trouble.push_back("config reload failed");
    for (std::size_t i = 0; i < trouble.size(); ++i) out += (i ? "; " : " — ") + trouble[i];
    return out;
  }

  void notify_status() {
    if (!sd_status_) return;
    auto line = status_line();
    if (line != last_status_) sd::status(line);
    last_status_ = std::move(line);
  }

  void start_loops() {
    for (const auto& a : ctx_.config->accounts) {
      if (!a.enabled) continue;
      auto it = loops_.find(a.name);
      if (it != loops_.end() && it->second->running) continue;
      auto loop = std::make_shared<Loop>(ioc_.get_executor());
      loop->fingerprint = fingerprint(a);
      loops_[a.name] = loop;
      asio::co_spawn(ioc_, account_loop(a.name, loop), asio::detached);
    }
  }

  asio::awaitable<void> acquire_slot() {
    while (active_polls_ >= std::max(1, ctx_.config->service.max_parallel_polls) && !ctx_.stopping)
      co_await slot_free_.wait(5s);
    ++active_polls_;
  }
  void release_slot() {
    --active_polls_;
    slot_free_.notify();
    polls_done_.notify();
  }

  // Delay until the next poll, from the outcome (issue 3, section 6).
  std::chrono::seconds next_poll_delay(const config::Account& a, const PollOutcome& o, int failures) {
    auto interval = std::chrono::duration_cast<std::chrono::seconds>(a.poll_interval);
    if (interval < 1s) interval = 1s;
    // RFC 2449 6.8: the provider announces how often a login is allowed; polling sooner only
    // earns "-ERR [LOGIN-DELAY]". Its minimum wins over ours.
    auto& floor = min_interval_[a.name];
    if (o.min_interval_s > 0) {
      if (floor.count() != o.min_interval_s && interval.count() < o.min_interval_s)
        log::notice("account " + a.name + ": " + a.host + " allows a login only every " +
                    format_duration(std::chrono::seconds(o.min_interval_s)) + "; polling that often instead of every " +
                    format_duration(interval));
      floor = std::chrono::seconds(o.min_interval_s);
    }
    interval = std::max(interval, floor);
    return queue::next_poll_delay(o.end, interrupted(o), failures, interval, ctx_.random_unit());
  }

  void record_poll(const config::Account& a, const PollOutcome& o, queue::AccountState& st, std::chrono::seconds next) {
    auto now = Context::now();
    st.name = a.name;
    st.last_poll = now;
    st.next_poll = now + next.count();
    st.state = state_name(o);
    // The account's state word (ok | auth-failed | error) is also the poll's result.
    auto result = queue::parse_event_result(st.state).value_or(queue::EventResult::error);
    std::string text;
    if (o.ok()) {
      st.last_success = now;
      st.failures = 0;
      st.last_error.clear();
      if (o.fetched || o.deleted || o.too_large)
        log::info("account " + a.name + ": fetched " + std::to_string(o.fetched) + " message(s), " +
                  format_size({o.bytes}) + "; deleted " + std::to_string(o.deleted) + " at the provider; " +
                  std::to_string(o.on_server) + " were on the server");
    } else if (interrupted(o)) {
      // Not a failure: what arrived is stored (and deleted once delivered); the rest follows at once.
      st.last_success = now;
      st.failures = 0;
      st.last_error = o.error;
      result = queue::EventResult::interrupted;
      text = o.error + " — after " + std::to_string(o.fetched) + " message(s) were stored and " +
             std::to_string(o.deleted) + " deleted at the provider; continuing in " + format_duration(next);
      log::warn("account " + a.name + ": " + text);
    } else {
      ++st.failures;
      st.last_error = o.error;
      std::string advice = poll_advice(a, o.end, next, unconfirmed_user(a, o.end));
      text = o.error;
      // A full disk is checked every 30 s, a missing OAuth login every minute: said once at error
      // level, then quietly until it ends.
      bool recheck = o.end == queue::PollEnd::disk_full || o.end == queue::PollEnd::login_needed;
      if (recheck && st.failures > 1) log::info("account " + a.name + ": " + o.error + advice);
      else log::error("account " + a.name + ": " + o.error + advice);
    }
    try {
      store_.save_account_state(st);
    } catch (const std::exception& e) {  // a full disk: the poll loop goes on, the page shows the old state
      log::error("account " + a.name + ": could not record the poll: " + e.what());
    }
    store_.add_event(queue::Event::poll(now, a.name, st.state == "ok", result, o.bytes, o.fetched, text));
  }

  // A refused OAuth login whose sign-in the provider never confirmed: the words that ask whether
  // it was made as another user ("" otherwise).
  std::string unconfirmed_user(const config::Account& a, queue::PollEnd end) {
    if (!a.oauth2 || end != queue::PollEnd::auth_failed) return "";
    OAuthLogin who = oauth_login_of(*ctx_.config, a);
    return oauth_tokens(ctx_).signed_in_as_known(who.key) ? "" : unconfirmed_user_words(a.username, who);
  }

  asio::awaitable<PollOutcome> poll_once(const config::Account& a) {
    co_await acquire_slot();
    PollOutcome o;
    if (!ctx_.stopping) o = co_await poll_account(ctx_, *local_, a);
    release_slot();
    co_return o;
  }

  asio::awaitable<void> account_loop(std::string name, std::shared_ptr<Loop> loop) {
    queue::AccountState st = store_.account_state(name).value_or(queue::AccountState{});
    // First poll soon after start, spread over a few seconds so accounts do not start in lockstep.
    auto wait = std::chrono::milliseconds(static_cast<long>(2000 * ctx_.random_unit()));
    while (!ctx_.stopping && loop->running) {
      auto until = std::chrono::steady_clock::now() + wait;
      while (!ctx_.stopping && loop->running && !loop->reset && !loop->poll_now &&
             std::chrono::steady_clock::now() < until)
        co_await loop->wake.wait(until - std::chrono::steady_clock::now());
      if (ctx_.stopping || !loop->running) break;
      const auto* found = ctx_.config->find_account(name);
      if (!found) break;
      config::Account a = *found;  // the poll keeps its copy even if a reload replaces the config
      if (loop->reset) {
        loop->reset = false;
        loop->fingerprint = fingerprint(a);
        st.failures = 0;
        log::info("account " + name + ": configuration changed, polling now");
      }
      loop->poll_now = false;
      loop->polling = true;
      auto outcome = co_await poll_once(a);
      loop->polling = false;
      if (ctx_.stopping) break;
      auto next = next_poll_delay(a, outcome, st.failures + 1);
      record_poll(a, outcome, st, next);
      wait = next;
    }
    loop->running = false;
  }

  struct OnceTally {
    int pending = 0, failed = 0;
    std::vector<std::string> problems;
  };

  asio::awaitable<void> poll_for_once(config::Account a, std::shared_ptr<OnceTally> tally) {
    queue::AccountState st = store_.account_state(a.name).value_or(queue::AccountState{});
    auto o = co_await poll_once(a);
    if (!ctx_.stopping) record_poll(a, o, st, next_poll_delay(a, o, st.failures + 1));
    if (!o.ok()) {
      ++tally->failed;
      tally->problems.push_back("account " + a.name + ": " + o.error);
    }
    --tally->pending;
    polls_done_.notify();
  }

  asio::awaitable<void> run_once() {
    auto tally = std::make_shared<OnceTally>();
    auto all_idle = [this] {
      return std::all_of(deliverers_.begin(), deliverers_.end(), [](const auto& d) { return d.second->idle(); });
    };
    // Mail already due goes first: a message delivered before its mailbox is polled is deleted at
    // the provider in this same run (else only by the next one, depending on which was quicker).
    while (!all_idle() && !ctx_.stopping) co_await local_->progress().wait(1s);
    for (const auto& a : ctx_.config->accounts) {
      if (!a.enabled) continue;
      ++tally->pending;
      asio::co_spawn(ioc_, poll_for_once(a, tally), asio::detached);
    }
    while (tally->pending > 0 && !ctx_.stopping) co_await polls_done_.wait(1s);
    int failed = tally->failed;
    auto& problems = tally->problems;
    while (!all_idle() && !ctx_.stopping) co_await local_->progress().wait(1s);
    if (ctx_.stopping) co_return;
    int queued = store_.count(queue::MsgState::queued);
    int code = kExitOk;
    if (queued > 0) {
      for (const auto& [route, d] : deliverers_) {
        int n = 0;
        for (const auto& [r, state] : store_.counts_by_route())
          if (r == route && state.first == "queued") n += state.second;
        if (n == 0) continue;
        std::string why = d->paused_until() > Context::now()      ? d->pause_reason()
                          : d->rate_limited_until() > Context::now() ? "send limit reached"
                                                                      : "waiting for a retry";
        problems.push_back(std::to_string(n) + " message(s) still queued for " + route + ": " + why);
      }
    }
    if (failed > 0 || queued > 0) {
      code = kExitPending;
      for (const auto& p : problems) log::error("--once: " + p);
    }
    stop(code);
  }

  // --- http::ServiceView: what the status page sees and may do ---------------------------------
  std::int64_t started_at() const override { return started_at_; }

  // For the account card: "info@firma.local", or "catch-all: firma.de, müller.de -> firma.local".
  static std::string delivers_to(const config::Account& a) {
    std::string out;
    if (!a.multidrop) {
      for (const auto& r : a.deliver_to) out += (out.empty() ? "" : ", ") + r;
      return out;
    }
    for (const auto& d : a.multidrop->domains) out += (out.empty() ? "" : ", ") + mail::domain_for_display(d);
    out = "catch-all: " + out;
    if (!a.multidrop->rewrite_domain.empty()) out += " -> " + a.multidrop->rewrite_domain;
    return out;
  }

  std::vector<http::AccountStatus> accounts() override {
    std::vector<http::AccountStatus> out;
    for (const auto& a : ctx_.config->accounts) {
      http::AccountStatus s;
      s.name = a.name;
      s.enabled = a.enabled;
      s.host = a.host + ":" + std::to_string(a.port);
      auto st = store_.account_state(a.name);
      s.state = !a.enabled ? "disabled" : st ? st->state : "ok";
      if (st) {
        s.last_poll = st->last_poll;
        s.next_poll = st->next_poll;
        s.last_success = st->last_success;
        s.last_error = st->last_error;
      }
      auto it = loops_.find(a.name);
      s.polling = it != loops_.end() && it->second->polling;
      s.delivers_to = delivers_to(a);
      s.oauth = a.oauth2.has_value();
      out.push_back(std::move(s));
    }
    std::vector<http::RouteStatus> none;
    http::fill_counts(store_, Context::now(), out, none);
    return out;
  }

  std::vector<http::RouteStatus> routes() override {
    std::vector<http::RouteStatus> out;
    auto counts = store_.counts_by_route();
    auto now = Context::now();
    for (const auto& [name, d] : deliverers_) {
      auto route = resolve_route(*ctx_.config, name);
      if (!route && store_.count_undelivered("", name) == 0) continue;  // removed and empty
      http::RouteStatus r;
      r.route = name;
      const auto id = queue::RouteId::parse(name);
      r.kind = id && id->is_local() ? "local" : "smarthost";
      r.name = id ? id->name() : name;
      r.host = route ? route->host + ":" + std::to_string(route->port) : "(no longer configured)";
      r.state = d->auth_failed() && d->paused_until() > now  ? "auth-failed"
                : d->paused_until() > now                    ? "paused"
                : d->rate_limited_until() > now              ? "rate-limited"
                                                             : "ok";
      r.paused_until = d->paused_until() > now ? d->paused_until() : 0;
      r.rate_limited_until = d->rate_limited_until() > now ? d->rate_limited_until() : 0;
      r.reason = r.paused_until ? d->pause_reason() : "";
      r.last_reply = d->last_reply();
      r.sent_last_hour = d->sent_last_hour();
      if (route) {
        r.max_per_hour = route->max_per_hour;
        r.max_per_day = route->max_per_day;
        r.oauth = route->oauth2.has_value();
      }
      for (const auto& [rn, st] : counts) {
        if (rn != name) continue;
        if (st.first == "queued") r.queued = st.second;
        else if (st.first == "failed") r.failed = st.second;
        else if (st.first == "held") r.held = st.second;
      }
      out.push_back(std::move(r));
    }
    std::vector<http::AccountStatus> none;
    http::fill_counts(store_, now, none, out);
    return out;
  }

  http::StorageStatus storage() override {
    auto c = check_storage(ctx_);
    return {c.ok, c.free, c.min_free, c.ok ? "" : c.words};
  }

  bool poll_now(const std::string& account) override {
    auto it = loops_.find(account);
    if (it == loops_.end() || !it->second->running) return false;
    it->second->poll_now = true;
    it->second->wake.notify();
    return true;
  }

  bool resume(const std::string& smarthost) override {
    auto it = deliverers_.find(smarthost_route_name(smarthost));
    if (it == deliverers_.end()) return false;
    log::notice(it->first + ": resumed from the status page");
    it->second->resume();
    return true;
  }

  // An admin acted on the queue (CLI or page): like `postqueue -f`, paused routes try again now.
  void queue_changed() override {
    for (auto& [name, d] : deliverers_) {
      if (d->paused_until() > Context::now()) d->resume();
      else d->kick();
    }
  }

  bool bounce(std::int64_t id) override {
    auto msg = store_.get(id);
    if (!msg || (msg->state != queue::MsgState::queued && msg->state != queue::MsgState::held)) return false;
    bool ok = bounce_now(*ctx_.config, store_, *msg);
    queue_changed();
    return ok;
  }

  queue::Store& store() override { return store_; }

  http::ConfigStatus config_status() override {
    return {ctx_.config->file.string(), config_loaded_at_, reload_failed_at_, reload_problems_};
  }

  std::string start_test(const std::string& kind, const std::string& name,
                         std::function<void(std::string)> done) override {
    const auto& cfg = *ctx_.config;
    if (kind == "account" && !cfg.find_account(name)) return "no account named '" + name + "'";
    if (kind == "smarthost" && !cfg.find_smarthost(name)) return "no smarthost named '" + name + "'";
    if (kind != "account" && kind != "smarthost" && kind != "local") return "unknown kind '" + kind + "'";
    // One test per target at a time: a second press must not hammer the provider's login.
    if (!tests_running_.insert(kind + ":" + name).second) return "a test of " + name + " is already running";
    asio::co_spawn(ioc_, run_test(ctx_.config, kind, name, std::move(done)), asio::detached);
    return {};
  }

  std::string start_oauth(const std::string& kind, const std::string& name) override {
    return page_logins_.start(ctx_.config, kind, name, oauth_redirect_uri(*ctx_.config));
  }
  std::optional<http::OAuthLoginState> oauth_state(const std::string& kind, const std::string& name) override {
    return page_logins_.state(kind, name);
  }
  std::string finish_oauth(const std::string& kind, const std::string& name, const std::string& redirect) override {
    return kind.empty() ? page_logins_.finish(redirect) : page_logins_.finish(kind, name, redirect);
  }
  login::LoginThrottle& logins() override { return ctx_.logins; }

  // Where a browser sign-in started on the page comes back: the page's own /oauth/callback, at
  // the address it listens on (127.0.0.1 for a wildcard). A browser that cannot reach it (another
  // computer) shows the failed address, which the admin pastes into the page instead.
  static std::string oauth_redirect_uri(const config::Config& cfg) {
    if (!cfg.web.listen) return "http://127.0.0.1/oauth/callback";
    std::string host = cfg.web.listen->host;
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return std::string(cfg.web.tls() ? "https" : "http") + "://" + host + ":" + std::to_string(cfg.web.listen->port) +
           "/oauth/callback";
  }

  // Not a coroutine: picks the test and hands back its awaitable (the Options travel by value).
  // The service's OAuth tokens go along: a test's refresh and a session's are one request.
  asio::awaitable<doctor::Report> doctor_for(const config::Config& cfg, const std::string& kind,
                                             const std::string& name) {
    doctor::Options options;
    oauth_tokens(ctx_);
    options.oauth_tokens = ctx_.oauth;
    if (kind == "account") return doctor::test_account(cfg, *cfg.find_account(name), options);
    if (kind == "smarthost") return doctor::test_smarthost(cfg, *cfg.find_smarthost(name), options);
    return doctor::test_local(cfg, options);
  }

  // Parameters by value: they live in the coroutine frame, and the config it started with stays
  // alive even if a reload replaces it meanwhile.
  asio::awaitable<void> run_test(std::shared_ptr<const config::Config> cfg, std::string kind, std::string name,
                                 std::function<void(std::string)> done) {
    doctor::Report r = co_await doctor_for(*cfg, kind, name);
    tests_running_.erase(kind + ":" + name);
    log::notice("status page: connection test of " + kind + (kind == name ? "" : " " + name) + ": " + r.summary());
    done(boost::json::serialize(doctor::to_json(r)));
  }

  std::int64_t started_at_ = Context::now();
  std::int64_t config_loaded_at_ = Context::now();
  std::int64_t reload_failed_at_ = 0;
  std::vector<std::string> reload_problems_;
  std::set<std::string> tests_running_;  // "account:NAME" etc.: connection tests from the page
  const bool sd_status_ = std::getenv("NOTIFY_SOCKET") != nullptr;
  std::string last_status_;
  queue::Store store_;
  asio::io_context ioc_{1};
  // OAuth sign-ins from the page; a finished one lets the account or smarthost try at once.
  PageLogins page_logins_{ioc_.get_executor(), [this](const std::string& kind, const std::string& name) {
                            if (kind == "account") poll_now(name);
                            else resume(name);
                          }};
  Context ctx_;
  GroupCommitter committer_;
  std::map<std::string, std::unique_ptr<Deliverer>> deliverers_;
  Deliverer* local_ = nullptr;
  bool started_ = false;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<http::Server> web_;
  bool once_ = false;  // --once: no listeners to reload
  asio::signal_set signals_;
  Signal slot_free_, polls_done_;
  std::map<std::string, std::shared_ptr<Loop>> loops_;
  asio::steady_timer watch_timer_;
  std::int64_t data_version_ = 0;
  std::map<std::string, std::chrono::seconds> min_interval_;  // CAPA LOGIN-DELAY per account
  int active_polls_ = 0;
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
