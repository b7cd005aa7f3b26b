// Alerts: which problems of the running service the admin must hear about, and when. A pure step
// over the open problems and what the service sees now; no clock, no I/O, so tests drive it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pb::alerts {

enum class Condition {
  mailbox_login,        // the provider refuses a mailbox's login
  mailbox_unreachable,  // a mailbox's polls keep failing for another reason
  smarthost_paused,     // outgoing mail through a smarthost is paused
  queued_long,          // the oldest message of a route waits too long
  unclean_restart,      // postbridge did not stop cleanly last time (one-shot)
  smarthost_limited,    // a smarthost's send limit holds mail back
  disk_low,             // the state folder is below [service] min_free_space
  reload_failed,        // the last config reload (SIGHUP) failed; the old config runs
  oauth_signin,         // an OAuth login needs a person to sign in again
  oauth_expiring,       // an OAuth sign-in reaches a known end within 14 days
  certificate,          // a provider's certificate expires within 14 days or stopped verifying
};

inline constexpr Condition kConditions[] = {Condition::mailbox_login,    Condition::mailbox_unreachable,
                                            Condition::smarthost_paused, Condition::queued_long,
                                            Condition::unclean_restart,  Condition::smarthost_limited,
                                            Condition::disk_low,         Condition::reload_failed,
                                            Condition::oauth_signin,     Condition::oauth_expiring,
                                            Condition::certificate};

std::string_view to_string(Condition c);
std::optional<Condition> parse_condition(std::string_view s);
// A one-shot condition is told once and then forgotten: it has no "resolved".
bool one_shot(Condition c);

// What the service sees now, in plain words (never a secret).
struct Observation {
  Condition condition{};
  std::string object;  // "account info", "smarthost gmx", "route local"
  std::int64_t since = 0;  // when it started, from the service's own records
  std::string words;   // what is wrong
  std::string fix;     // what to do
};

// A problem being tracked. Keyed by (condition, object).
struct Open {
  Condition condition{};
  std::string object;
  std::int64_t since = 0;
  std::int64_t raised_at = 0;     // 0: not yet told
  std::int64_t last_sent = 0;     // the raise or the last reminder
  std::int64_t absent_since = 0;  // 0: still observed
  std::string words, fix;
};

// Seconds. How long a condition must last before it is told, how often it is told again, and how
// long it must be gone before "resolved" (so a flapping problem does not send one per poll).
struct Policy {
  std::int64_t unreachable_after = 3600;
  std::int64_t paused_after = 1800;
  std::int64_t queued_after = 3600;
  std::int64_t limited_after = 1800;
  std::int64_t disk_after = 120;  // a big message in flight dips below the reserve for seconds
  std::int64_t remind_every = 86400;
  std::int64_t settle = 600;
  // When a step sends anyway, a problem whose grace ends within this long is told with it: a
  // storm that reached several mailboxes a few seconds apart is one message, not one per second.
  std::int64_t coalesce = 120;
  std::int64_t grace(Condition c) const;
};

enum class AlertKind { raised, reminder, resolved };
std::string_view to_string(AlertKind k);

struct Alert {
  AlertKind kind{};
  Open problem;
};

struct Step {
  std::vector<Open> open;      // the new open set, to be stored
  std::vector<Alert> alerts;   // to send now, as one message
};

Step step(const std::vector<Open>& open, const std::vector<Observation>& seen_now, const Policy& policy,
          std::int64_t now);

}  // namespace pb::alerts
