// The status page's view of the service: account and route cards, storage, config state, and
// the few actions the page may take (poll now, resume, bounce, connection tests, OAuth sign-in).
#include "app/status_view.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/serialize.hpp>

#include "app/bounce.hpp"
#include "app/oauth_command.hpp"
#include "app/storage.hpp"
#include "doctor/probe.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "endpoint/route.hpp"
#include "http/tally.hpp"
#include "mail/idn.hpp"
#include "util/log.hpp"

namespace pb::app {
namespace asio = boost::asio;
using endpoint::kLocalRoute;
using endpoint::resolve_route;
using endpoint::smarthost_route_name;

namespace {

// For the account card: "info@firma.local", or "catch-all: firma.de, müller.de -> firma.local".
std::string delivers_to(const config::Account& a) {
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

// Where a browser sign-in started on the page comes back: the page's own /oauth/callback, at
// the address it listens on (127.0.0.1 for a wildcard). A browser that cannot reach it (another
// computer) shows the failed address, which the admin pastes into the page instead.
std::string oauth_redirect_uri(const config::Config& cfg) {
  if (!cfg.web.listen) return "http://127.0.0.1/oauth/callback";
  std::string host = cfg.web.listen->host;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(cfg.web.tls() ? "https" : "http") + "://" + host + ":" + std::to_string(cfg.web.listen->port) +
         "/oauth/callback";
}

// Not a coroutine: picks the test and hands back its awaitable (the Options travel by value).
// The service's OAuth tokens go along: a test's refresh and a session's are one request.
asio::awaitable<doctor::Report> doctor_for(Context& ctx, const config::Config& cfg, const std::string& kind,
                                           const std::string& name) {
  doctor::Options options;
  oauth_tokens(ctx);
  options.oauth_tokens = ctx.oauth;
  if (kind == "account") return doctor::test_account(cfg, *cfg.find_account(name), options);
  if (kind == "smarthost") return doctor::test_smarthost(cfg, *cfg.find_smarthost(name), options);
  return doctor::test_local(cfg, options);
}

}  // namespace

StatusView::StatusView(Context& ctx, Scheduler& scheduler, Deliverers& deliverers, const ConfigRecord& config)
    : ctx_(ctx), scheduler_(scheduler), deliverers_(deliverers), config_(config),
      page_logins_(ctx.executor, [this](const std::string& kind, const std::string& name) {
        if (kind == "account") poll_now(name);
        else resume(name);
      }) {}

std::vector<http::AccountStatus> StatusView::accounts() {
  std::vector<http::AccountStatus> out;
  for (const auto& a : ctx_.config->accounts) {
    http::AccountStatus s;
    s.name = a.name;
    s.enabled = a.enabled;
    s.host = a.host + ":" + std::to_string(a.port);
    auto st = ctx_.store.accounts().find(a.name);
    s.state = !a.enabled ? "disabled" : st ? st->state : "ok";
    if (st) {
      s.last_poll = st->last_poll;
      s.next_poll = st->next_poll;
      s.last_success = st->last_success;
      s.last_error = st->last_error;
    }
    s.polling = scheduler_.polling(a.name);
    s.delivers_to = delivers_to(a);
    s.oauth = a.oauth2 && a.oauth2->grant == config::OAuthGrant::user;  // an application's login has no sign-in
    s.app_login = a.oauth2 && a.oauth2->grant != config::OAuthGrant::user;
    out.push_back(std::move(s));
  }
  std::vector<http::RouteStatus> none;
  http::fill_counts(ctx_.store, Context::now(), out, none);
  return out;
}

std::vector<http::RouteStatus> StatusView::routes() {
  std::vector<http::RouteStatus> out;
  auto counts = ctx_.store.queue().counts_by_route();
  auto now = Context::now();
  for (const auto& [name, d] : deliverers_) {
    auto route = resolve_route(*ctx_.config, name);
    if (!route && ctx_.store.queue().count_undelivered("", name) == 0) continue;  // removed and empty
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
      r.oauth = route->oauth2 && route->oauth2->grant == config::OAuthGrant::user;
      r.app_login = route->oauth2 && route->oauth2->grant != config::OAuthGrant::user;
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
  http::fill_counts(ctx_.store, now, none, out);
  return out;
}

http::StorageStatus StatusView::storage() {
  auto c = check_storage(ctx_);
  return {c.ok, c.free, c.min_free, c.ok ? "" : c.words};
}

bool StatusView::poll_now(const std::string& account) { return scheduler_.poll_now(account); }

bool StatusView::resume(const std::string& smarthost) {
  const std::string route = smarthost_route_name(smarthost);
  Deliverer* d = deliverers_.find(route);
  if (!d) return false;
  log::notice(route + ": resumed from the status page");
  d->resume();
  return true;
}

void StatusView::queue_changed() { deliverers_.queue_changed(); }

bool StatusView::bounce(std::int64_t id) {
  auto msg = ctx_.store.queue().get(id);
  if (!msg || (msg->state != queue::MsgState::queued && msg->state != queue::MsgState::held)) return false;
  bool ok = bounce_now(*ctx_.config, ctx_.store, *msg);
  queue_changed();
  return ok;
}

http::ConfigStatus StatusView::config_status() {
  return {ctx_.config->file.string(), config_.loaded_at, config_.reload_failed_at, config_.reload_problems};
}

WhyNot StatusView::start_test(const std::string& kind, const std::string& name,
                              std::function<void(std::string)> done) {
  const auto& cfg = *ctx_.config;
  if (kind == "account" && !cfg.find_account(name)) return "no account named '" + name + "'";
  if (kind == "smarthost" && !cfg.find_smarthost(name)) return "no smarthost named '" + name + "'";
  if (kind != "account" && kind != "smarthost" && kind != "local") return "unknown kind '" + kind + "'";
  // One test per target at a time: a second press must not hammer the provider's login.
  if (!tests_running_.insert(kind + ":" + name).second) return "a test of " + name + " is already running";
  asio::co_spawn(ctx_.executor, run_test(ctx_.config, kind, name, std::move(done)), asio::detached);
  return std::nullopt;
}

WhyNot StatusView::start_oauth(const std::string& kind, const std::string& name) {
  if (kind != "account" && kind != "smarthost") return "unknown kind '" + kind + "'";
  if (page_logins_.in_progress(kind, name)) return std::nullopt;  // the page shows the sign-in that is already waiting
  oauth::LoginSubject s;
  if (auto why = find_oauth_subject(*ctx_.config, kind, name, s)) return why;
  return page_logins_.start(std::move(s), oauth_redirect_uri(*ctx_.config));
}
std::optional<http::OAuthLoginState> StatusView::oauth_state(const std::string& kind, const std::string& name) {
  return page_logins_.state(kind, name);
}
WhyNot StatusView::finish_oauth(const std::string& kind, const std::string& name,
                                const std::string& redirect) {
  return kind.empty() ? page_logins_.finish(redirect) : page_logins_.finish(kind, name, redirect);
}
// Parameters by value: they live in the coroutine frame, and the config it started with stays
// alive even if a reload replaces it meanwhile.
asio::awaitable<void> StatusView::run_test(std::shared_ptr<const config::Config> cfg, std::string kind,
                                           std::string name, std::function<void(std::string)> done) {
  doctor::Report r = co_await doctor_for(ctx_, *cfg, kind, name);
  tests_running_.erase(kind + ":" + name);
  log::notice("status page: connection test of " + kind + (kind == name ? "" : " " + name) + ": " + r.summary());
  done(boost::json::serialize(doctor::to_json(r)));
}

}  // namespace pb::app
