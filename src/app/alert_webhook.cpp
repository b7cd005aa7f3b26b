// The alert webhook (see alert_webhook.hpp): the bodies, and one detached coroutine per batch that
// tries each POST a few times. 2xx is done; a 4xx other than 408/429 is the admin's to fix (a
// wrong token or URL) and is not retried; anything else is tried again later.
#include "app/alert_webhook.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <ctime>

#include "oauth/token_client.hpp"
#include "util/log.hpp"

namespace pb::app {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using alerts::AlertKind;

namespace {

constexpr std::chrono::seconds kBackoff[] = {10s, 60s, 300s};
constexpr auto kTimeout = 20s;

// ntfy 1..5 (4: high, a sound), Gotify 0..10 (8 and above: a sound on Android).
int ntfy_priority(AlertKind k) { return k == AlertKind::raised ? 4 : k == AlertKind::reminder ? 3 : 2; }
int gotify_priority(AlertKind k) { return k == AlertKind::raised ? 8 : k == AlertKind::reminder ? 5 : 2; }

// The most urgent kind among the fired: a batch with one new problem is a new problem.
AlertKind top_kind(const std::vector<alerts::Alert>& fired) {
  AlertKind top = AlertKind::resolved;
  for (const auto& a : fired) {
    if (a.kind == AlertKind::raised) return AlertKind::raised;
    if (a.kind == AlertKind::reminder) top = AlertKind::reminder;
  }
  return top;
}

// ntfy's topic is the URL's one path segment; its JSON publishing goes to the server's root.
std::string ntfy_topic(const std::string& url) {
  const auto parsed = oauth::parse_http_url(url, "the webhook_url");
  std::string path = parsed.target.substr(0, parsed.target.find('?'));
  return path.substr(1);
}

std::string ntfy_root(const std::string& url) {
  const auto parsed = oauth::parse_http_url(url, "the webhook_url");
  const std::string scheme = parsed.tls ? "https://" : "http://";
  const bool v6 = parsed.host.find(':') != std::string::npos;
  return scheme + (v6 ? "[" + parsed.host + "]" : parsed.host) + ":" + std::to_string(parsed.port) + "/";
}

std::string post_url(const config::Alerts& a) {
  return a.webhook_format == config::WebhookFormat::ntfy ? ntfy_root(a.webhook_url) : a.webhook_url;
}

std::string where(const config::Alerts& a) {
  const auto parsed = oauth::parse_http_url(a.webhook_url, "the webhook_url");
  return parsed.host + ":" + std::to_string(parsed.port);
}

// What the admin changes for an answer that will not get better by trying again.
std::string fix_for(unsigned status) {
  if (status == 401 || status == 403) return "check webhook_token (or webhook_token_file) in [alerts]";
  if (status == 404) return "check webhook_url in [alerts] (for ntfy the topic's URL, for Gotify the server's /message)";
  return "check webhook_url and webhook_format in [alerts]";
}

bool retryable(unsigned status) { return status >= 500 || status == 408 || status == 429; }

asio::awaitable<bool> try_once(const config::Alerts& a, const WebhookPost& p, int attempt, int attempts) {
  oauth::HttpPost req{oauth::parse_http_url(post_url(a), "the webhook_url"), "the alert webhook",
                      "application/json", p.body, a.webhook_token.value, a.webhook_ca_file, kTimeout};
  const std::string try_words = " (try " + std::to_string(attempt) + " of " + std::to_string(attempts) + ")";
  try {
    const oauth::HttpAnswer answer = co_await oauth::post(std::move(req));
    if (answer.status >= 200 && answer.status < 300) {
      log::info("alert webhook: " + where(a) + " took " + p.what);
      co_return true;
    }
    const std::string said = "alert webhook: " + where(a) + " answered HTTP " + std::to_string(answer.status) +
                             " to " + p.what;
    if (!retryable(answer.status)) {
      log::error(said + "; postbridge does not try again: " + fix_for(answer.status) + ". The mail is sent all the same.");
      co_return true;  // done: trying again gives the same answer
    }
    log::warn(said + try_words);
  } catch (const std::exception& e) {
    log::warn("alert webhook: " + std::string(e.what()) + try_words);
  }
  co_return false;
}

asio::awaitable<void> deliver(Context& ctx, std::vector<WebhookPost> posts) {
  const auto cfg = ctx.config;  // the alerts were made under this config: a reload does not move them
  constexpr int attempts = static_cast<int>(std::size(kBackoff)) + 1;
  for (const auto& p : posts) {
    for (int attempt = 1;; ++attempt) {
      if (ctx.stopping) co_return;
      if (co_await try_once(cfg->alerts, p, attempt, attempts)) break;
      if (attempt == attempts) {
        log::error("alert webhook: gave up sending " + p.what + " to " + where(cfg->alerts) +
                   " after " + std::to_string(attempts) + " tries; the mail is sent all the same");
        break;
      }
      asio::steady_timer wait(ctx.executor, kBackoff[attempt - 1]);
      co_await wait.async_wait(asio::use_awaitable);
    }
  }
}

json::object json_body(const config::Config& cfg, const alerts::Alert& a, const std::string& title) {
  const auto& o = a.problem;
  json::object b;
  b["problem"] = title;
  b["condition"] = std::string(alerts::to_string(o.condition));
  b["object"] = o.object;
  b["since"] = rfc3339(o.since);
  b["words"] = o.words;
  b["fix"] = a.kind == AlertKind::resolved ? std::string() : o.fix;
  b["kind"] = std::string(alerts::to_string(a.kind));
  b["host"] = cfg.service.hostname;
  return b;
}

}  // namespace

std::string rfc3339(std::int64_t unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<WebhookPost> webhook_posts(const config::Config& cfg, const std::vector<alerts::Alert>& fired,
                                       const std::vector<std::string>& titles, const std::string& subject,
                                       const std::string& message) {
  std::vector<WebhookPost> out;
  const auto& a = cfg.alerts;
  if (a.webhook_url.empty() || fired.empty()) return out;
  if (a.webhook_format == config::WebhookFormat::json) {
    for (std::size_t i = 0; i < fired.size(); ++i)
      out.push_back({json::serialize(json_body(cfg, fired[i], titles[i])),
                     "the alert \"" + titles[i] + "\" (" + std::string(alerts::to_string(fired[i].kind)) + ")"});
    return out;
  }
  const AlertKind kind = top_kind(fired);
  json::object b;
  if (a.webhook_format == config::WebhookFormat::ntfy) {
    b["topic"] = ntfy_topic(a.webhook_url);
    b["priority"] = ntfy_priority(kind);
    b["tags"] = json::array{kind == AlertKind::resolved ? "white_check_mark" : "warning"};
  } else {
    b["priority"] = gotify_priority(kind);
  }
  b["title"] = subject;
  b["message"] = message;
  out.push_back({json::serialize(b), "the alert \"" + subject + "\""});
  return out;
}

void send_webhook(Context& ctx, std::vector<WebhookPost> posts) {
  if (posts.empty()) return;
  asio::co_spawn(ctx.executor, deliver(ctx, std::move(posts)), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      log::error(std::string("alert webhook: ") + x.what());
    }
  });
}

}  // namespace pb::app
