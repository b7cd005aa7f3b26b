// Routing and the handlers of the status page API (api.md). Each handler reads the store or the
// service view and returns JSON; queue actions mirror `postbridge queue ACTION ID` exactly.
#include "http/api.hpp"

#include <boost/json.hpp>

#include "queue/route_id.hpp"

#include <array>
#include <charconv>
#include <ctime>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "http/assets.hpp"
#include "http/auth.hpp"
#include "http/json.hpp"
#include "http/tally.hpp"
#include "util/target.hpp"
#include "queue/action.hpp"

namespace pb::http {

namespace json = boost::json;
using bhttp::status;
using bhttp::verb;
using target::parse_target;
using target::Target;

namespace {

constexpr std::string_view kCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";
constexpr int kEventsDefault = 100, kEventsMax = 500;
constexpr int kQueueDefault = 500, kQueueMax = 1000;
constexpr std::size_t kMaxParam = 200;  // bytes of a filter or search word

// Everything a handler may look at.
struct Call {
  const Request& req;
  const Target& target;
  ServiceView& view;
  const Site& site;
  std::vector<std::string> args;  // the path segments matched by "*"
  std::int64_t now;
};

// A refusal of the request's parameters: becomes 400 with these words.
struct BadRequest {
  std::string message;
};

Response json_response(const Call& c, status s, const json::value& body) {
  Response res{s, c.req.version()};
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.body() = json::serialize(body);
  res.keep_alive(c.req.keep_alive());
  add_security_headers(res, false);
  res.prepare_payload();
  return res;
}

Response error_for(const Call& c, status s, std::string_view word, std::string_view message) {
  return error_response(c.req.version(), c.req.keep_alive(), s, word, message);
}

Response text_response(const Call& c, std::string_view content_type, std::string body) {
  Response res{status::ok, c.req.version()};
  res.set(bhttp::field::content_type, content_type);
  res.body() = std::move(body);
  res.keep_alive(c.req.keep_alive());
  add_security_headers(res, false);
  res.prepare_payload();
  return res;
}

// --- parameters --------------------------------------------------------------------------------

std::optional<std::int64_t> parse_id(std::string_view s) {
  std::int64_t v = 0;
  if (s.empty() || s.size() > 18) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

std::string text_param(const Call& c, std::string_view name) {
  auto v = c.target.param(name).value_or("");
  if (v.size() > kMaxParam)
    throw BadRequest{std::string(name) + " is longer than " + std::to_string(kMaxParam) + " bytes"};
  return v;
}

int limit_param(const Call& c, int fallback, int max) {
  auto v = c.target.param("limit");
  if (!v) return fallback;
  auto n = parse_id(*v);
  if (!n || *n > max) throw BadRequest{"limit must be a whole number from 1 to " + std::to_string(max)};
  return static_cast<int>(*n);
}

std::int64_t id_param(const Call& c, std::string_view name) {
  auto v = c.target.param(name);
  if (!v || v->empty()) return 0;
  auto n = parse_id(*v);
  if (!n) throw BadRequest{std::string(name) + " must be an event id (a whole number above 0)"};
  return *n;
}

// kind=... of GET /api/events -> the Event::kind values (api.md lists the groups).
void apply_kind(queue::EventFilter& f, const std::string& kind) {
  if (kind.empty() || kind == "all") return;
  using K = queue::EventKind;
  if (kind == "fetch") f.kinds = {K::fetch};
  else if (kind == "send") f.kinds = {K::deliver, K::send};
  else if (kind == "receive") f.kinds = {K::receive};
  else if (kind == "poll") f.kinds = {K::poll};
  else if (kind == "notice") f.kinds = {K::bounce, K::notice, K::alert};
  else if (kind == "error") f.problems_only = true;
  else throw BadRequest{"kind must be one of fetch, send, receive, poll, notice, error, all"};
}

// --- GET handlers ------------------------------------------------------------------------------

Response get_healthz(const Call& c) { return text_response(c, "text/plain; charset=utf-8", "ok\n"); }

Response get_metrics(const Call& c) {
  return text_response(c, "text/plain; version=0.0.4; charset=utf-8", metrics_text(c.view));
}

Response get_status(const Call& c) { return json_response(c, status::ok, status_json(c.view, c.now)); }

Response get_chart(const Call& c) { return json_response(c, status::ok, chart_json(c.view.store(), c.now)); }

// One page of the log, newest first, as {"events": [...], "next_before": ID or 0} (before= and
// limit= of the request).
json::object events_page(const Call& c, queue::EventFilter f) {
  f.before_id = id_param(c, "before");
  const int limit = limit_param(c, kEventsDefault, kEventsMax);
  f.limit = limit + 1;  // one more tells whether an older page exists
  auto rows = c.view.store().events().find(f);
  const bool more = rows.size() > static_cast<std::size_t>(limit);
  if (more) rows.pop_back();
  json::array events;
  for (const auto& e : rows) events.push_back(event_json(e));
  return {{"events", std::move(events)}, {"next_before", more ? rows.back().id : 0}};
}

Response get_events(const Call& c) {
  queue::EventFilter f;
  apply_kind(f, text_param(c, "kind"));
  f.account = text_param(c, "account");
  f.route = text_param(c, "route");
  if (auto host = text_param(c, "smarthost"); !host.empty()) f.route = queue::RouteId::smarthost(host).to_string();
  f.text = text_param(c, "q");
  return json_response(c, status::ok, events_page(c, std::move(f)));
}

// The open problems and a page of the alert history (the log's alert events).
Response get_alerts(const Call& c) {
  json::array open;
  for (const auto& a : c.view.store().alerts().all()) open.push_back(alert_json(a));
  queue::EventFilter f;
  f.kinds = {queue::EventKind::alert};
  json::object body = events_page(c, std::move(f));
  body["open"] = std::move(open);
  return json_response(c, status::ok, body);
}

Response get_queue(const Call& c) {
  auto state = text_param(c, "state");
  if (!state.empty() && state != "queued" && state != "held" && state != "failed")
    throw BadRequest{"state must be queued, held or failed"};
  auto route = text_param(c, "route");
  const int limit = limit_param(c, kQueueDefault, kQueueMax);
  auto& store = c.view.store();
  json::array messages;
  for (const auto& m : store.queue().undelivered(state, route, limit)) messages.push_back(message_json(m));
  return json_response(c, status::ok,
                       json::object{{"messages", std::move(messages)}, {"total", store.queue().count_undelivered(state, route)}});
}

// --- POST handlers -----------------------------------------------------------------------------

Response post_poll(const Call& c) {
  const auto& name = c.args[0];
  if (!c.view.poll_now(name)) return error_for(c, status::not_found, "not_found", "no enabled account named '" + name + "'");
  return json_response(c, status::accepted, json::object{{"ok", true}, {"account", utf8_text(name)}});
}

// "Send a test alert": 202 with the queue id, or 429 with Retry-After while the last one is recent.
Response post_test_alert(const Call& c) {
  auto r = c.view.send_test_alert();
  if (r.id <= 0) {
    auto res = error_for(c, status::too_many_requests, "too_many_requests", r.refused);
    res.set(bhttp::field::retry_after, std::to_string(r.retry_after));
    return res;
  }
  return json_response(c, status::accepted, json::object{{"ok", true}, {"id", r.id}});
}

Response post_resume(const Call& c) {
  const auto& name = c.args[0];
  if (!c.view.resume(name)) return error_for(c, status::not_found, "not_found", "no smarthost named '" + name + "'");
  return json_response(c, status::ok, json::object{{"ok", true}, {"smarthost", utf8_text(name)}});
}

// --- OAuth sign-in from the page ---------------------------------------------------------------

// /api/oauth/KIND/NAME[/...]: kind must be account or smarthost.
void check_oauth_kind(const Call& c) {
  if (c.args[0] != "account" && c.args[0] != "smarthost")
    throw BadRequest{"use /api/oauth/account/NAME or /api/oauth/smarthost/NAME"};
}

Response oauth_state_response(const Call& c, status s) {
  auto st = c.view.oauth_state(c.args[0], c.args[1]);
  if (!st) return json_response(c, s, json::object{{"state", "none"}});
  return json_response(c, s, oauth_state_json(*st));
}

Response post_oauth_start(const Call& c) {
  check_oauth_kind(c);
  if (WhyNot why = c.view.start_oauth(c.args[0], c.args[1])) return error_for(c, status::not_found, "not_found", *why);
  return oauth_state_response(c, status::accepted);
}

Response get_oauth(const Call& c) {
  check_oauth_kind(c);
  return oauth_state_response(c, status::ok);
}

// The page's paste box: {"url": "the address the sign-in ended on"}.
Response post_oauth_code(const Call& c) {
  check_oauth_kind(c);
  json::error_code ec;
  json::value body = json::parse(c.req.body(), ec);
  const json::value* url = !ec && body.is_object() ? body.as_object().if_contains("url") : nullptr;
  if (!url || !url->is_string() || url->as_string().empty() || url->as_string().size() > 8192)
    throw BadRequest{"send {\"url\": \"the address the sign-in ended on\"}"};
  if (WhyNot why = c.view.finish_oauth(c.args[0], c.args[1], std::string(url->as_string())))
    return error_for(c, status::bad_request, "bad_request", *why);
  return oauth_state_response(c, status::accepted);
}

// Where the provider sends the browser back (the redirect_uri of a page sign-in). Plain text:
// the page itself shows the result.
Response get_oauth_callback(const Call& c) {
  WhyNot why = c.view.finish_oauth("", "", std::string(c.req.target()));
  Response res = text_response(c, "text/plain; charset=utf-8",
                               !why ? "postbridge received the sign-in and is storing it. You can close this tab: "
                                      "the status page shows when the login works.\n"
                                    : "postbridge could not use this sign-in: " + *why + "\n");
  if (why) res.result(status::bad_request);
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

Response post_queue_action(const Call& c) {
  auto id = parse_id(c.args[0]);
  const std::string& action = c.args[1];
  if (!id) return error_for(c, status::not_found, "not_found", "'" + c.args[0] + "' is not a message id");
  auto& store = c.view.store();
  auto before = store.queue().get(*id);
  if (!before || before->state == queue::MsgState::delivered)
    return error_for(c, status::not_found, "not_found", "no message " + std::to_string(*id) + " in the queue");
  const auto act = queue::parse_action(action);  // the routes table lists only the five actions
  if (!act) return error_for(c, status::not_found, "not_found", "no queue action '" + action + "'");
  auto bounce = [&c](const queue::QueuedMessage& m) { return c.view.bounce(m.id); };
  if (!queue::apply(store, *before, *act, c.now, bounce))
    return error_for(c, status::conflict, "conflict",
                     "message " + std::to_string(*id) + " is " + queue::to_string(before->state) + ": '" + action +
                         "' is not possible now");
  c.view.queue_changed();
  auto after = store.queue().get(*id);
  std::string state = after ? queue::to_string(after->state) : "deleted";
  return json_response(c, status::ok,
                       json::object{{"ok", true}, {"id", *id}, {"action", action}, {"state", state}});
}

// --- static files ------------------------------------------------------------------------------

bool is_static_path(const Target& t) {
  return t.segments.empty() || (t.segments.size() == 1 && t.segments[0] == "index.html") ||
         (t.segments.size() >= 2 && t.segments[0] == "assets");
}

Response get_static(const Call& c) {
  const EmbeddedFile* f = find_asset(c.target.segments.empty() ? "/index.html" : c.target.path);
  if (!f) return error_for(c, status::not_found, "not_found", "no such file");
  if (c.req[bhttp::field::if_none_match] == f->etag) {  // RFC 9110 13.1.2
    Response res{status::not_modified, c.req.version()};
    res.set(bhttp::field::etag, f->etag);
    res.keep_alive(c.req.keep_alive());
    add_security_headers(res, true);
    return res;
  }
  Response res{status::ok, c.req.version()};
  res.set(bhttp::field::content_type, f->content_type);
  res.set(bhttp::field::etag, f->etag);
  res.body() = std::string(f->body);
  res.keep_alive(c.req.keep_alive());
  add_security_headers(res, true);
  res.prepare_payload();
  return res;
}

// --- routing -----------------------------------------------------------------------------------

struct Route {
  std::array<std::string_view, 5> pattern;  // segments; "*" matches one; "" ends the pattern
  verb method;
  Response (*handler)(const Call&);
};

constexpr Route kRoutes[] = {
    {{"healthz"}, verb::get, get_healthz},
    {{"metrics"}, verb::get, get_metrics},
    {{"api", "status"}, verb::get, get_status},
    {{"api", "events"}, verb::get, get_events},
    {{"api", "queue"}, verb::get, get_queue},
    {{"api", "chart"}, verb::get, get_chart},
    {{"api", "alerts"}, verb::get, get_alerts},
    {{"api", "alerts", "test"}, verb::post, post_test_alert},
    {{"api", "stream"}, verb::get, nullptr},  // the socket layer serves it
    {{"api", "accounts", "*", "poll"}, verb::post, post_poll},
    {{"api", "smarthosts", "*", "resume"}, verb::post, post_resume},
    {{"api", "queue", "*", "retry"}, verb::post, post_queue_action},
    {{"api", "queue", "*", "hold"}, verb::post, post_queue_action},
    {{"api", "queue", "*", "release"}, verb::post, post_queue_action},
    {{"api", "queue", "*", "bounce"}, verb::post, post_queue_action},
    {{"api", "queue", "*", "delete"}, verb::post, post_queue_action},
    {{"api", "oauth", "*", "*"}, verb::get, get_oauth},
    {{"api", "oauth", "*", "*", "start"}, verb::post, post_oauth_start},
    {{"api", "oauth", "*", "*", "code"}, verb::post, post_oauth_code},
    {{"oauth", "callback"}, verb::get, get_oauth_callback},
};

// Matches the path; fills args with the "*" segments and the fixed last segment (the action).
bool matches(const Route& r, const std::vector<std::string>& segs, std::vector<std::string>& args) {
  std::size_t n = 0;
  while (n < r.pattern.size() && !r.pattern[n].empty()) ++n;
  if (segs.size() != n) return false;
  args.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (r.pattern[i] == "*") args.push_back(segs[i]);
    else if (r.pattern[i] != segs[i]) return false;
  }
  if (!args.empty()) args.push_back(segs.back());
  return true;
}

Response route(const Request& req, const Target& target, ServiceView& view, const Site& site) {
  const verb method = req.method() == verb::head ? verb::get : req.method();  // RFC 9110 9.3.2
  Call call{req, target, view, site, {}, static_cast<std::int64_t>(std::time(nullptr))};
  if (is_static_path(target)) {
    if (method != verb::get) {
      auto res = error_for(call, status::method_not_allowed, "method_not_allowed", "use GET");
      res.set(bhttp::field::allow, "GET, HEAD");
      return res;
    }
    return get_static(call);
  }
  std::string allow;
  for (const auto& r : kRoutes) {
    std::vector<std::string> args;
    if (!matches(r, target.segments, args)) continue;
    if (r.method != method) {
      allow = r.method == verb::get ? "GET, HEAD" : "POST";
      continue;
    }
    if (!r.handler)
      return error_for(call, status::bad_request, "bad_request", "open this address with EventSource (GET)");
    if (method == verb::post) {
      if (auto why = csrf_refusal(req, site)) return error_for(call, status::forbidden, "forbidden", *why);
    }
    call.args = std::move(args);
    return r.handler(call);
  }
  if (!allow.empty()) {
    auto res = error_for(call, status::method_not_allowed, "method_not_allowed", "use " + allow);
    res.set(bhttp::field::allow, allow);
    return res;
  }
  return error_for(call, status::not_found, "not_found", "no such page or API");
}

}  // namespace

void add_security_headers(bhttp::fields& headers, bool cacheable) {
  headers.set("Content-Security-Policy", kCsp);
  headers.set("X-Content-Type-Options", "nosniff");
  headers.set("Referrer-Policy", "no-referrer");
  headers.set(bhttp::field::cache_control, cacheable ? "no-cache" : "no-store");
}

Response error_response(unsigned version, bool keep_alive, status s, std::string_view word, std::string_view message) {
  Response res{s, version};
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.body() = json::serialize(json::object{{"error", word}, {"message", utf8_text(message)}});
  res.keep_alive(keep_alive);
  add_security_headers(res, false);
  res.prepare_payload();
  return res;
}

bool is_test_request(const Request& req) {
  auto t = parse_target(req.target());
  return t && t->segments.size() >= 3 && t->segments[0] == "api" && t->segments[1] == "test";
}

std::optional<Response> check_test_request(const Request& req, const Site& site, std::string& kind,
                                           std::string& name) {
  const bool keep = req.keep_alive();
  if (req.method() != verb::post) {
    auto res = error_response(req.version(), keep, status::method_not_allowed, "method_not_allowed", "use POST");
    res.set(bhttp::field::allow, "POST");
    return res;
  }
  if (auto why = csrf_refusal(req, site))
    return error_response(req.version(), keep, status::forbidden, "forbidden", *why);
  auto t = parse_target(req.target());
  const auto& seg = t->segments;
  if (seg.size() == 3 && seg[2] == "local") {
    kind = name = "local";
    return std::nullopt;
  }
  if (seg.size() == 4 && (seg[2] == "account" || seg[2] == "smarthost") && !seg[3].empty()) {
    kind = seg[2];
    name = seg[3];
    return std::nullopt;
  }
  return error_response(req.version(), keep, status::not_found, "not_found",
                        "use /api/test/account/NAME, /api/test/smarthost/NAME or /api/test/local");
}

Response test_report_response(const Request& req, std::string json_body) {
  Response res{status::ok, req.version()};
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.body() = std::move(json_body);
  res.keep_alive(req.keep_alive());
  add_security_headers(res, false);
  res.prepare_payload();
  return res;
}

Response test_refused_response(const Request& req, const std::string& why) {
  const bool busy = why.find("already running") != std::string::npos;
  return error_response(req.version(), req.keep_alive(), busy ? status::conflict : status::not_found,
                        busy ? "conflict" : "not_found", why);
}

bool is_stream_request(const Request& req) {
  if (req.method() != verb::get) return false;
  auto t = parse_target(req.target());
  return t && t->segments.size() == 2 && t->segments[0] == "api" && t->segments[1] == "stream";
}

Response handle(const Request& req, ServiceView& view, const Site& site) {
  auto target = parse_target(req.target());
  Response res;
  try {
    res = target ? route(req, *target, view, site)
                 : error_response(req.version(), false, status::bad_request, "bad_request", "malformed request target");
  } catch (const BadRequest& e) {
    res = error_response(req.version(), req.keep_alive(), status::bad_request, "bad_request", e.message);
  } catch (const std::exception& e) {
    res = error_response(req.version(), req.keep_alive(), status::internal_server_error, "internal",
                         std::string("the service could not answer: ") + e.what());
  }
  // Every answer to HEAD, the refusal of a malformed target too: a body would be read by the
  // client as the start of the next response.
  if (req.method() == verb::head) {  // the headers of GET, no body (RFC 9110 9.3.2)
    res.content_length(res.body().size());
    res.body().clear();
  }
  return res;
}

}  // namespace pb::http
