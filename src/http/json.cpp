// Model -> JSON for the status page API. Field names are the contract in api.md: add, never rename.
// Secrets cannot leak from here: the model types carry none.
#include "http/json.hpp"

#include <chrono>
#include <map>

#include "util/utf8.hpp"

namespace pb::http {

namespace json = boost::json;

namespace {

struct QueueCounts {
  std::int64_t queued = 0, held = 0, failed = 0;
};

json::object counts_json(const QueueCounts& c) {
  return {{"queued", c.queued}, {"held", c.held}, {"failed", c.failed}};
}

json::object route_json(const RouteStatus& r, const QueueCounts& c) {
  return {{"route", utf8_text(r.route)},
          {"name", utf8_text(r.name)},
          {"kind", utf8_text(r.kind)},
          {"host", utf8_text(r.host)},
          {"state", utf8_text(r.state)},
          {"paused_until", r.paused_until},
          {"rate_limited_until", r.rate_limited_until},
          {"reason", utf8_text(r.reason)},
          {"last_reply", utf8_text(r.last_reply)},
          {"sent_today", r.sent_today},
          {"sent_last_hour", r.sent_last_hour},
          {"max_per_hour", r.max_per_hour},
          {"max_per_day", r.max_per_day},
          {"oauth", r.oauth},
          {"app_login", r.app_login},
          {"queue", counts_json(c)}};
}

// Addresses that gave wrong passwords lately (relay AUTH, this page): seconds, not clock times,
// because the throttle counts on the monotonic clock.
json::array logins_json(const login::LoginThrottle& logins) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  auto ceil_seconds = [](login::LoginThrottle::Clock::duration d) {
    return std::chrono::ceil<seconds>(d).count();
  };
  json::array out;
  for (const auto& e : logins.entries(login::LoginThrottle::Clock::now()))
    out.push_back(json::object{{"address", utf8_text(e.address)},
                               {"doors", utf8_text(e.doors)},
                               {"failures", e.failures},
                               {"waiting", ceil_seconds(e.waiting)},
                               {"last_failure_ago", duration_cast<seconds>(e.since_last).count()}});
  return out;
}

}  // namespace

json::string utf8_text(std::string_view s) {
  json::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8::decode(s, i).len;
    if (n == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

json::object account_json(const AccountStatus& a) {
  return {{"name", utf8_text(a.name)},
          {"enabled", a.enabled},
          {"host", utf8_text(a.host)},
          {"state", utf8_text(a.state)},
          {"polling", a.polling},
          {"last_poll", a.last_poll},
          {"next_poll", a.next_poll},
          {"last_success", a.last_success},
          {"last_error", utf8_text(a.last_error)},
          {"fetched_today", a.fetched_today},
          {"bytes_today", a.bytes_today},
          {"delivers_to", utf8_text(a.delivers_to)},
          {"oauth", a.oauth},
          {"app_login", a.app_login}};
}

json::object oauth_state_json(const OAuthLoginState& s) {
  return {{"state", utf8_text(s.state)},
          {"flow", utf8_text(s.flow)},
          {"user_code", utf8_text(s.user_code)},
          {"verification_uri", utf8_text(s.verification_uri)},
          {"url", utf8_text(s.url)},
          {"error", utf8_text(s.error)},
          {"expires_at", s.expires_at}};
}

json::object event_json(const queue::StoredEvent& s) {
  const queue::Event& e = s.event;
  return {{"id", s.id},
          {"time", e.time},
          {"kind", utf8_text(std::string(e.kind.str()))},
          {"account", utf8_text(e.account)},
          {"route", utf8_text(e.route)},
          {"message_id", e.message_id},
          {"sender", utf8_text(e.sender)},
          {"recipients", utf8_text(e.recipients)},
          {"subject", utf8_text(e.subject)},
          {"size", e.size},
          {"count", e.count},
          {"result", utf8_text(std::string(e.result.str()))},
          {"text", utf8_text(e.text)}};
}

json::object message_json(const queue::QueuedMessage& m) {
  json::array rcpts;
  for (const auto& r : m.recipients)
    rcpts.push_back(json::object{
        {"address", utf8_text(r.address)}, {"state", queue::to_string(r.state)}, {"reply", utf8_text(r.reply)}});
  return {{"id", m.id},
          {"route", utf8_text(m.route)},
          {"account", utf8_text(m.account)},
          {"sender", utf8_text(m.sender)},
          {"recipients", std::move(rcpts)},
          {"subject", utf8_text(m.subject)},
          {"size", m.size},
          {"state", queue::to_string(m.state)},
          {"attempts", m.attempts},
          {"created_at", m.created_at},
          {"next_attempt", m.next_attempt},
          {"last_reply", utf8_text(m.last_reply)},
          {"is_bounce", m.is_bounce}};
}

json::object status_json(ServiceView& view, std::int64_t now) {
  // Queue counts come from the store (the truth), for configured routes and any others.
  std::map<std::string, QueueCounts> by_route;
  QueueCounts total;
  for (const auto& [route, state_count] : view.store().queue().counts_by_route()) {
    const auto& [state, n] = state_count;
    auto& c = by_route[route];
    std::int64_t* slot = state == "queued" ? &c.queued : state == "held" ? &c.held : state == "failed" ? &c.failed : nullptr;
    std::int64_t* sum = state == "queued" ? &total.queued : state == "held" ? &total.held : state == "failed" ? &total.failed : nullptr;
    if (slot) *slot += n;
    if (sum) *sum += n;
  }

  json::array accounts;
  for (const auto& a : view.accounts()) accounts.push_back(account_json(a));
  json::array routes;
  for (const auto& r : view.routes()) {
    auto it = by_route.find(r.route);
    routes.push_back(route_json(r, it == by_route.end() ? QueueCounts{} : it->second));
  }
  json::array per_route;
  for (const auto& [route, c] : by_route) {
    auto o = counts_json(c);
    o.emplace("route", utf8_text(route));
    per_route.push_back(std::move(o));
  }
  json::object queue = counts_json(total);
  queue.emplace("by_route", std::move(per_route));

  const std::int64_t started = view.started_at();
  const StorageStatus disk = view.storage();
  json::object storage{{"ok", disk.ok},
                       {"free", disk.free},
                       {"min_free", disk.min_free},
                       {"problem", utf8_text(disk.problem)}};
  const ConfigStatus cfg = view.config_status();
  json::array problems;
  for (const auto& p : cfg.reload_problems) problems.push_back(utf8_text(p));
  json::object config{{"file", utf8_text(cfg.file)},
                      {"loaded_at", cfg.loaded_at},
                      {"reload_failed_at", cfg.reload_failed_at},
                      {"reload_problems", std::move(problems)}};
  return {{"version", PB_VERSION},
          {"now", now},
          {"started_at", started},
          {"uptime", started > 0 && now > started ? now - started : 0},
          {"accounts", std::move(accounts)},
          {"routes", std::move(routes)},
          {"storage", std::move(storage)},
          {"config", std::move(config)},
          {"logins", logins_json(view.logins())},
          {"queue", std::move(queue)}};
}

}  // namespace pb::http
