// What the status page and its JSON API may see and do: a narrow view of the running service,
// implemented by app::Service, so the HTTP layer needs no knowledge of sessions or deliverers.
// Secrets never pass through here.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "oauth/login_state.hpp"
#include "util/login_throttle.hpp"
#include "util/why_not.hpp"

namespace pb::queue { class Store; }

namespace pb::http {

struct AccountStatus {
  std::string name;
  bool enabled = true;
  std::string host;               // "pop.example.net:995"
  std::string state;              // ok | auth-failed | error | disabled
  std::int64_t last_poll = 0, next_poll = 0, last_success = 0;  // Unix seconds, 0 = never
  std::string last_error;         // plain words incl. the server's reply
  int fetched_today = 0;
  std::uint64_t bytes_today = 0;
  bool polling = false;           // a poll is running now
  // Where its mail goes: the deliver_to addresses, or "catch-all for firma.de" (multidrop).
  std::string delivers_to;
  bool oauth = false;             // logs in with OAuth: the page offers "Sign in"
  bool app_login = false;         // logs in as an application (OAuth grant without a person)
};

struct RouteStatus {
  std::string route;              // "local" | "smarthost:NAME"
  std::string name;               // "local" | NAME
  std::string kind;               // "local" | "smarthost"
  std::string host;               // "smtp.example.net:465"
  std::string state;              // ok | paused | rate-limited | auth-failed
  std::int64_t paused_until = 0, rate_limited_until = 0;
  std::string reason;             // why paused, plain words
  std::string last_reply;
  int sent_today = 0, sent_last_hour = 0;
  int max_per_hour = 0, max_per_day = 0;
  int queued = 0, failed = 0, held = 0;
  bool oauth = false;             // a smarthost that logs in with OAuth
  bool app_login = false;         // logs in as an application (OAuth grant without a person)
};

// The state folder's free space against [service] min_free_space.
struct StorageStatus {
  bool ok = true;
  std::uint64_t free = 0, min_free = 0;  // bytes; free = 0 when unknown
  std::string problem;                   // plain words when not ok
};

// The configuration file as loaded, and the last reload that failed: the old configuration keeps
// running then, and the page says so until a reload works.
struct ConfigStatus {
  std::string file;
  std::int64_t loaded_at = 0;              // Unix seconds of the configuration that runs
  std::int64_t reload_failed_at = 0;       // 0: no failed reload since
  std::vector<std::string> reload_problems;  // each "FILE:LINE:COL: key: message"
};

// A sign-in from the page (oauth/page_logins.hpp). Never a token.
using OAuthLoginState = oauth::PageLoginState;

class ServiceView {
 public:
  virtual ~ServiceView() = default;
  virtual std::int64_t started_at() const = 0;
  virtual std::vector<AccountStatus> accounts() = 0;
  virtual std::vector<RouteStatus> routes() = 0;
  virtual StorageStatus storage() = 0;
  virtual bool poll_now(const std::string& account) = 0;   // false: no such enabled account
  virtual bool resume(const std::string& smarthost) = 0;   // false: no such smarthost
  virtual void queue_changed() = 0;                        // after a queue action: wake the deliverers
  // "Bounce now" from the page: fails the message's pending recipients and queues the DSN to its
  // sender (app::bounce_now with the current config). False: the message is not queued or held,
  // or nothing was pending. The HTTP layer calls queue_changed() afterwards.
  virtual bool bounce(std::int64_t id) = 0;
  virtual queue::Store& store() = 0;
  virtual ConfigStatus config_status() = 0;
  // The connection doctor (`postbridge test`) for kind "account" | "smarthost" | "local" and a
  // name; `done` receives its report as JSON (doctor::to_json) on the service's executor. Returns
  // nullopt when the test started, else why not ("no account named 'x'", "... already running").
  [[nodiscard]] virtual WhyNot start_test(const std::string& kind, const std::string& name,
                                 std::function<void(std::string json)> done) = 0;
  // OAuth sign-in from the page for kind "account" | "smarthost": nullopt when started, else why
  // not ("no account named 'x'", "... does not log in with OAuth").
  [[nodiscard]] virtual WhyNot start_oauth(const std::string& kind, const std::string& name) = 0;
  // nullopt: no sign-in of it since the service started.
  virtual std::optional<OAuthLoginState> oauth_state(const std::string& kind, const std::string& name) = 0;
  // The address a browser sign-in ended on, pasted on the page (kind and name given) or the
  // callback's own request target (kind empty): nullopt when the code exchange started, else why not.
  [[nodiscard]] virtual WhyNot finish_oauth(const std::string& kind, const std::string& name, const std::string& redirect) = 0;
  // Wrong passwords per client address, shared with the relay's AUTH: the page's login asks it
  // before checking a password and tells it the outcome; GET /api/status lists its entries.
  virtual login::LoginThrottle& logins() = 0;
};

}  // namespace pb::http
