// The alert rules (see tracker.hpp): raise once after the grace, remind while it lasts, resolve
// once after it stayed away for the settle time; never told, never resolved.
#include "alerts/tracker.hpp"

#include <algorithm>

namespace pb::alerts {

namespace {

struct Name {
  Condition c;
  std::string_view word;
};
constexpr Name kNames[] = {{Condition::mailbox_login, "mailbox_login"},
                           {Condition::mailbox_unreachable, "mailbox_unreachable"},
                           {Condition::smarthost_paused, "smarthost_paused"},
                           {Condition::queued_long, "queued_long"},
                           {Condition::unclean_restart, "unclean_restart"},
                           {Condition::smarthost_limited, "smarthost_limited"},
                           {Condition::disk_low, "disk_low"},
                           {Condition::reload_failed, "reload_failed"},
                           {Condition::oauth_signin, "oauth_signin"},
                           {Condition::oauth_expiring, "oauth_expiring"},
                           {Condition::certificate, "certificate"}};

const Observation* find_seen(const std::vector<Observation>& seen, const Open& o) {
  auto it = std::find_if(seen.begin(), seen.end(),
                         [&](const Observation& s) { return s.condition == o.condition && s.object == o.object; });
  return it == seen.end() ? nullptr : &*it;
}

bool is_open(const std::vector<Open>& open, const Observation& s) {
  return std::any_of(open.begin(), open.end(),
                     [&](const Open& o) { return o.condition == s.condition && o.object == s.object; });
}

// A problem seen now: told once its grace is over, again every remind_every. A one-shot problem
// is not kept once told.
void still_there(Open o, const Observation& s, const Policy& p, std::int64_t now, Step& out) {
  o.absent_since = 0;
  o.words = s.words;  // newer words are kept for the next message, but send nothing by themselves
  o.fix = s.fix;
  if (o.raised_at == 0) {
    if (now - o.since >= p.grace(o.condition)) {
      o.raised_at = o.last_sent = now;
      out.alerts.push_back({AlertKind::raised, o});
      if (one_shot(o.condition)) return;
    }
  } else if (now - o.last_sent >= p.remind_every) {
    o.last_sent = now;
    out.alerts.push_back({AlertKind::reminder, o});
  }
  out.open.push_back(std::move(o));
}

// A problem not seen now: forgotten if never told, resolved after the settle time otherwise.
void gone(Open o, const Policy& p, std::int64_t now, Step& out) {
  if (o.raised_at == 0) return;
  if (o.absent_since == 0) o.absent_since = now;
  if (now - o.absent_since >= p.settle) {
    out.alerts.push_back({AlertKind::resolved, std::move(o)});
    return;
  }
  out.open.push_back(std::move(o));
}

// A message goes out now: problems whose grace is nearly over (and that are still seen) join it,
// and so do told problems that have been gone for nearly the settle time.
void join_the_message(const Policy& p, std::int64_t now, Step& out) {
  std::vector<Open> kept;
  for (auto& o : out.open) {
    if (o.raised_at == 0 && !one_shot(o.condition) && now - o.since >= p.grace(o.condition) - p.coalesce) {
      o.raised_at = o.last_sent = now;
      out.alerts.push_back({AlertKind::raised, o});
    } else if (o.raised_at != 0 && o.absent_since != 0 && now - o.absent_since >= p.settle - p.coalesce) {
      out.alerts.push_back({AlertKind::resolved, std::move(o)});
      continue;
    }
    kept.push_back(std::move(o));
  }
  out.open = std::move(kept);
}

}  // namespace

std::string_view to_string(Condition c) {
  for (const auto& n : kNames)
    if (n.c == c) return n.word;
  return "unknown";
}

std::optional<Condition> parse_condition(std::string_view s) {
  for (const auto& n : kNames)
    if (n.word == s) return n.c;
  return std::nullopt;
}

bool one_shot(Condition c) { return c == Condition::unclean_restart; }

std::string_view to_string(AlertKind k) {
  switch (k) {
    case AlertKind::raised: return "raised";
    case AlertKind::reminder: return "reminder";
    case AlertKind::resolved: return "resolved";
  }
  return "unknown";
}

std::int64_t Policy::grace(Condition c) const {
  switch (c) {
    case Condition::mailbox_unreachable: return unreachable_after;
    case Condition::smarthost_paused: return paused_after;
    case Condition::queued_long: return queued_after;
    case Condition::smarthost_limited: return limited_after;
    case Condition::disk_low: return disk_after;
    // No blip to wait out: a failed reload stays failed until the admin acts, a refused login is not retried for an hour, a sign-in needs a person,
    // an end ahead is already told 14 days early, a refused certificate fails every session.
    case Condition::oauth_signin:
    case Condition::oauth_expiring:
    case Condition::certificate:
    case Condition::mailbox_login:
    case Condition::reload_failed:
    case Condition::unclean_restart: return 0;
  }
  return 0;
}

Step step(const std::vector<Open>& open, const std::vector<Observation>& seen_now, const Policy& policy,
          std::int64_t now) {
  Step out;
  for (const auto& o : open) {
    if (const Observation* s = find_seen(seen_now, o))
      still_there(o, *s, policy, now, out);
    else
      gone(o, policy, now, out);
  }
  for (const auto& s : seen_now) {
    if (is_open(open, s)) continue;
    Open fresh{s.condition, s.object, s.since, 0, 0, 0, s.words, s.fix};
    still_there(std::move(fresh), s, policy, now, out);
  }
  if (!out.alerts.empty()) join_the_message(policy, now, out);
  return out;
}

}  // namespace pb::alerts
