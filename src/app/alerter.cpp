// The alerter (see alerter.hpp): observations from account states, route pauses, the oldest queued
// message per route and the run marker; one message per step, never a password in it.
#include "app/alerter.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <tuple>

#include "app/alert_webhook.hpp"
#include "app/notice.hpp"
#include "app/storage.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "mail/headers.hpp"
#include "queue/route_id.hpp"
#include "routing/sender_route.hpp"
#include "util/display.hpp"
#include "util/log.hpp"
#include "util/units.hpp"

namespace pb::app {

using namespace std::chrono_literals;
using alerts::AlertKind;
using alerts::Condition;

namespace {

constexpr auto kEvery = 60s;
// The office server's oldest mail waiting this long means it takes nothing, paused or not (the
// pause ends before each new try).
constexpr queue::UnixTime kLocalStuck = 15 * 60;
// Microsoft ends a sign-in whose refresh token was not used for 90 days; told 14 days ahead.
constexpr queue::UnixTime kMicrosoftUnused = 90 * 86400;
constexpr queue::UnixTime kExpiryAhead = 14 * 86400;

std::int64_t whole_seconds(Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

alerts::Policy policy_of(const config::Alerts& a) {
  alerts::Policy p;
  p.unreachable_after = whole_seconds(a.after);
  p.remind_every = whole_seconds(a.remind_every);
  p.settle = whole_seconds(a.resolve_after);
  return p;
}

// "account info" -> "info"
std::string name_in(const std::string& object) {
  auto sp = object.find(' ');
  return sp == std::string::npos ? object : object.substr(sp + 1);
}

std::string when(queue::UnixTime t) { return t > 0 ? mail::rfc5322_date(t) : std::string("an unknown time"); }

std::string title(const alerts::Open& o) {
  const std::string name = name_in(o.object);
  switch (o.condition) {
    case Condition::mailbox_login: return "mailbox " + name + " cannot log in";
    case Condition::mailbox_unreachable: return "mailbox " + name + " cannot be reached";
    case Condition::smarthost_paused: return "sending through " + name + " is paused";
    case Condition::queued_long:
      return "mail waits in the queue for " + (name == "local" ? std::string("the office server") : name);
    case Condition::unclean_restart: return "postbridge restarted after an unclean stop";
    case Condition::smarthost_limited: return "sending through " + name + " is held back by its send limit";
    case Condition::disk_low: return "the state folder is almost full";
    case Condition::reload_failed: return "the configuration could not be reloaded";
    case Condition::oauth_signin: return o.object + " needs a new OAuth sign-in";
    case Condition::oauth_expiring: return "the OAuth sign-in of " + o.object + " ends soon";
    case Condition::certificate: return "the certificate of " + o.object + " needs a look";
  }
  return o.object;
}

std::string_view heading(AlertKind k) {
  switch (k) {
    case AlertKind::raised: return "PROBLEM";
    case AlertKind::reminder: return "STILL A PROBLEM";
    case AlertKind::resolved: return "RESOLVED";
  }
  return "";
}

queue::EventResult event_result(AlertKind k) {
  switch (k) {
    case AlertKind::raised: return queue::EventResult::raised;
    case AlertKind::reminder: return queue::EventResult::reminded;
    case AlertKind::resolved: return queue::EventResult::resolved;
  }
  return queue::EventResult::raised;
}

std::string subject_of(const std::vector<alerts::Alert>& fired) {
  if (fired.size() == 1) {
    const auto& a = fired.front();
    if (a.kind == AlertKind::resolved) return "postbridge: resolved: " + title(a.problem);
    if (a.kind == AlertKind::reminder) return "postbridge: still: " + title(a.problem);
    return "postbridge: " + title(a.problem);
  }
  auto resolved = std::count_if(fired.begin(), fired.end(), [](const auto& a) { return a.kind == AlertKind::resolved; });
  auto problems = static_cast<std::int64_t>(fired.size()) - resolved;
  if (problems == 0) return "postbridge: resolved: " + std::to_string(resolved) + " problems";
  std::string s = "postbridge: " + std::to_string(problems) + (problems == 1 ? " problem" : " problems");
  return resolved > 0 ? s + ", " + std::to_string(resolved) + " resolved" : s;
}

std::string paragraph(const alerts::Alert& a) {
  const auto& o = a.problem;
  std::string out = std::string(heading(a.kind)) + ": " + title(o) + "\n\n" + o.words + "\n";
  if (o.condition != Condition::unclean_restart) out += "Since: " + when(o.since) + "\n";
  if (a.kind == AlertKind::resolved) out += "It is gone since " + when(o.absent_since) + ".\n";
  else if (!o.fix.empty()) out += "What to do: " + o.fix + "\n";
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

alerts::Observation login_refused(const config::Config& cfg, const config::Account& a, const queue::AccountState& st) {
  std::string words = "postbridge cannot log in to " + mailbox_words(cfg, a.name) +
                      ": the provider refused the login, so no mail is fetched from this mailbox.";
  if (!st.last_error.empty()) words += " The provider said: " + display::safe(st.last_error, 300);
  std::string fix = "check the password (" + a.password.source +
                    ") — it may have been changed, or the provider may ask for an app password — then "
                    "reload postbridge (systemctl reload postbridge). Until then postbridge tries at most "
                    "once an hour, so the provider does not lock the mailbox.";
  if (a.oauth2 && a.oauth2->grant != config::OAuthGrant::user)  // the application logs in, no person can sign in
    fix = "check that the application's certificate, key or client secret ([account.oauth2]) is still valid and "
          "registered with the provider, and that the application may still open this mailbox (Microsoft: "
          "Add-MailboxPermission; Google: the domain-wide delegation of https://mail.google.com/), then reload "
          "postbridge.";
  else if (a.oauth2)
    fix = "sign in again on the status page (the mailbox's \"Sign in\" button), then wait for the next poll.";
  return {Condition::mailbox_login, "account " + a.name, st.last_poll, std::move(words), std::move(fix)};
}

alerts::Observation unreachable(const config::Config& cfg, const config::Account& a, const queue::AccountState& st) {
  std::string words = "postbridge cannot fetch mail from " + mailbox_words(cfg, a.name) + " (" +
                      std::to_string(st.failures) + " failed polls in a row): " + display::safe(st.last_error, 300);
  std::string fix = "see where it fails with: postbridge test -c " + cfg.file.string() + " account " + a.name +
                    ". postbridge keeps trying by itself.";
  return {Condition::mailbox_unreachable, "account " + a.name, st.last_success > 0 ? st.last_success : st.last_poll,
          std::move(words), std::move(fix)};
}

// Who gets alerts and why, under every alert mail.
std::string footer(const config::Config& cfg) {
  return "--\npostbridge on " + cfg.service.hostname + " sends this to " + joined(cfg.alerts.recipients) +
         " ([alerts] recipients in " + cfg.file.string() + "). A problem that lasts is told again every " +
         format_duration(cfg.alerts.remind_every) + "; the status page shows the current state.\n";
}

// The smarthost that takes alert mail when the office server is down, and the sender it takes:
// the postmaster's domain first, then each recipient's; a default smarthost takes the postmaster.
struct Fallback {
  std::string smarthost, sender;
};
std::optional<Fallback> fallback_route(const config::Config& cfg) {
  std::vector<std::string> senders{cfg.service.postmaster};
  senders.insert(senders.end(), cfg.alerts.recipients.begin(), cfg.alerts.recipients.end());
  for (const auto& s : senders)
    if (auto name = routing::route_for_sender(cfg.smarthosts, s))
      return Fallback{*name, s};
  return std::nullopt;
}

alerts::Observation reload_failure(const config::Config& cfg, const std::vector<std::string>& problems,
                                   queue::UnixTime at) {
  std::string words = "the configuration " + cfg.file.string() +
                      " was changed and could not be reloaded, so postbridge keeps running with the one it had "
                      "before:";
  for (std::size_t i = 0; i < problems.size() && i < 5; ++i) words += "\n  " + display::safe(problems[i], 300);
  if (problems.size() > 5) words += "\n  (" + std::to_string(problems.size() - 5) + " more)";
  return {Condition::reload_failed, "config " + cfg.file.filename().string(), at, std::move(words),
          "fix the file (postbridge check -c " + cfg.file.string() +
              " shows every problem), then reload again (systemctl reload postbridge). A restart now would fail: "
              "postbridge does not start with a broken configuration."};
}

}  // namespace

AlertMail alert_mail(const config::Config& cfg, const std::vector<alerts::Alert>& fired) {
  AlertMail m;
  m.subject = subject_of(fired);
  for (const auto& a : fired) m.body += paragraph(a) + "\n";
  m.body += footer(cfg);
  return m;
}

std::vector<queue::AlertRow> to_rows(const std::vector<alerts::Open>& open) {
  std::vector<queue::AlertRow> rows;
  for (const auto& o : open)
    rows.push_back({std::string(alerts::to_string(o.condition)), o.object, o.since, o.raised_at, o.last_sent,
                    o.absent_since, o.words, o.fix});
  return rows;
}

std::vector<alerts::Open> from_rows(const std::vector<queue::AlertRow>& rows) {
  std::vector<alerts::Open> open;
  for (const auto& r : rows) {
    auto c = alerts::parse_condition(r.condition);
    if (!c) continue;
    open.push_back({*c, r.object, r.since, r.raised_at, r.last_sent, r.absent_since, r.words, r.fix});
  }
  return open;
}

Alerter::Alerter(Context& ctx, Deliverers& deliverers) : ctx_(ctx), deliverers_(deliverers), timer_(ctx.executor) {}

void Alerter::start(std::optional<queue::UnixTime> unclean_since) {
  unclean_since_ = unclean_since;
  running_ = true;
  evaluate();
  schedule();
}

void Alerter::stop() {
  running_ = false;
  timer_.cancel();
}

void Alerter::kick() {
  if (running_ && !ctx_.stopping) evaluate();
}

void Alerter::config_reloaded(const std::vector<std::string>& problems, queue::UnixTime at) {
  reload_problems_ = problems;
  reload_failed_at_ = problems.empty() ? 0 : at;
  kick();
}

void Alerter::schedule() {
  timer_.expires_after(kEvery);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || ctx_.stopping) return;
    evaluate();
    schedule();
  });
}

// A failure here (a full disk) must not stop the service: the problem is seen again next time.
void Alerter::evaluate() {
  try {
    const auto now = Context::now();
    const auto stored = ctx_.store.alerts().all();  // ordered by condition, object
    auto step = alerts::step(from_rows(stored), observe(now), policy_of(ctx_.config->alerts), now);
    fall_back(now);
    if (!step.alerts.empty()) send(step.alerts, now);
    // Every poll ends in a look, and most change nothing: no write (and no fsync) then.
    auto rows = to_rows(step.open);
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return std::tie(a.condition, a.object) < std::tie(b.condition, b.object);
    });
    if (rows != stored) ctx_.store.alerts().replace_all(rows);
    unclean_since_.reset();
  } catch (const std::exception& e) {
    log::error(std::string("alerts: ") + e.what());
  }
}

std::vector<alerts::Observation> Alerter::observe(queue::UnixTime now) {
  std::vector<alerts::Observation> out;
  if (unclean_since_) {
    out.push_back({Condition::unclean_restart, "service postbridge", now,
                   "postbridge was started again after it had stopped without a clean shutdown (a crash, a kill -9 "
                   "or a power cut); the run before had started at " + when(*unclean_since_) +
                       ". No mail is lost: messages that were in transfer are sent again, so a recipient may get "
                       "one twice.",
                   "look at the log of that time (journalctl -u postbridge) for the cause."});
  }
  observe_service(now, out);
  // A full state folder fails every poll on purpose (nothing can be stored): that is the disk's
  // alert, not one per mailbox, also for a poll that failed so and was not yet followed by another.
  if (std::any_of(out.begin(), out.end(), [](const auto& o) { return o.condition == Condition::disk_low; }))
    disk_low_seen_ = now;
  observe_accounts(out);
  observe_routes(now, out);
  observe_oauth(now, out);
  observe_certificates(now, out);
  return out;
}

// The state folder's free space and the last reload: the service's own health.
void Alerter::observe_service(queue::UnixTime now, std::vector<alerts::Observation>& out) {
  const auto& cfg = *ctx_.config;
  if (auto disk = check_storage(ctx_); !disk.ok)
    out.push_back({Condition::disk_low, "state folder", now,
                   disk.words + ". postbridge takes in no new mail until there is room: it fetches nothing and "
                                "the relay answers 452 (try again later). Mail already queued is still delivered.",
                   "free up space in " + cfg.service.state_dir.string() +
                       " (or lower [service] min_free_space); postbridge resumes by itself."});
  if (reload_failed_at_ > 0) out.push_back(reload_failure(cfg, reload_problems_, reload_failed_at_));
}

// A sign-in that reaches a known end: Microsoft's refresh tokens die after 90 days unused (each
// refresh stores a new one, so the stored file's age is the time unused). A smarthost that sends
// rarely is the usual victim. One small file read per login and look.
void Alerter::observe_oauth(queue::UnixTime now, std::vector<alerts::Observation>& out) {
  const auto& cfg = *ctx_.config;
  const oauth::TokenStore store(endpoint::oauth_token_dir(cfg));
  auto look = [&](const std::optional<config::OAuth2>& o, const endpoint::OAuthLogin& who, const std::string& object,
                  const std::string& command) {
    if (!o || o->grant != config::OAuthGrant::user || o->provider != "microsoft") return;
    std::optional<oauth::StoredTokens> t;
    try {
      t = store.load(who.key);
    } catch (const std::exception&) {
      return;  // a damaged file is the login's own error, told by its poll or delivery
    }
    if (!t || t->refresh_token.empty() || t->updated_at <= 0) return;
    const queue::UnixTime ends = t->updated_at + kMicrosoftUnused;
    if (now < ends - kExpiryAhead) return;
    out.push_back({Condition::oauth_expiring, object, ends - kExpiryAhead,
                   "the OAuth sign-in of " + object + " was last used " + when(t->updated_at) +
                       "; Microsoft ends a sign-in that is not used for 90 days, so this one ends " + when(ends) +
                       " and postbridge can then no longer log in.",
                   "sign in again (" + command + "), or let postbridge use the login before then."});
  };
  for (const auto& a : cfg.accounts)
    if (a.enabled)
      look(a.oauth2, endpoint::oauth_login_of(cfg, a), "account " + a.name,
           "postbridge oauth login account " + a.name + " -c " + cfg.file.string());
  for (const auto& h : cfg.smarthosts)
    look(h.oauth2, endpoint::oauth_login_of(cfg, h), "smarthost " + h.name,
         "postbridge oauth login smarthost " + h.name + " -c " + cfg.file.string());
}

// What the fetches and deliveries saw of the providers' certificates (app/certificates.hpp).
void Alerter::observe_certificates(queue::UnixTime now, std::vector<alerts::Observation>& out) {
  const std::string test = "postbridge test -c " + ctx_.config->file.string() + " ";
  for (const auto& [object, seen] : ctx_.certificates) {
    const std::string check = test + (object == "office server" ? std::string("local") : object);
    if (!seen.refused.empty()) {
      out.push_back({Condition::certificate, object, now,
                     "the certificate of " + seen.host + " (" + object + ") is no longer accepted, so postbridge does "
                     "not log in there: " + display::safe(seen.refused, 300),
                     "see the certificate with: " + check +
                         ". If the provider changed it on purpose (a new CA), give that CA in ca_file; otherwise "
                         "someone may be in the way — do not switch tls_verify off."});
    } else if (seen.not_after > 0 && seen.not_after - now < kExpiryAhead) {
      out.push_back({Condition::certificate, object, seen.not_after - kExpiryAhead,
                     "the certificate of " + seen.host + " (" + object + ") expires " + when(seen.not_after) +
                         "; after that postbridge refuses it and stops logging in there.",
                     "nothing, if the provider renews it in time (the alert resolves itself then); if it is your "
                     "own server, renew its certificate. " + check + " shows the one in use."});
    }
  }
}

void Alerter::observe_accounts(std::vector<alerts::Observation>& out) {
  const auto& cfg = *ctx_.config;
  for (const auto& a : cfg.accounts) {
    if (!a.enabled) continue;
    auto st = ctx_.store.accounts().find(a.name);
    if (!st) continue;
    if (st->state == "auth-failed") out.push_back(login_refused(cfg, a, *st));
    else if (st->state == "error" && st->failures > 0 && st->last_poll > disk_low_seen_)
      out.push_back(unreachable(cfg, a, *st));
  }
}

// A paused smarthost (the office server's own pause shows as its queue waiting: alerts travel
// through it) and the oldest queued message of every route.
void Alerter::observe_routes(queue::UnixTime now, std::vector<alerts::Observation>& out) {
  const std::string config_file = ctx_.config->file.string();
  for (const auto& [route, d] : deliverers_) {
    const auto id = queue::RouteId::parse(route);
    if (id && !id->is_local() && d->login_needed()) {
      out.push_back({Condition::oauth_signin, "smarthost " + id->name(), now,
                     "Outgoing mail through the smarthost " + id->name() +
                         " waits: its OAuth login has no usable sign-in (none yet, or the provider refused or "
                         "revoked it). " + display::safe(d->pause_reason(), 300),
                     "sign in again: postbridge oauth login smarthost " + id->name() + " -c " + config_file +
                         ". postbridge goes on by itself "
                         "within a minute of the sign-in."});
    } else if (id && !id->is_local() && d->paused_until() > now) {
      const std::string& name = id->name();
      out.push_back({Condition::smarthost_paused, "smarthost " + name, now,
                     "Outgoing mail through the smarthost " + name + " is paused until " + when(d->paused_until()) +
                         ": " + display::safe(d->pause_reason(), 300),
                     d->auth_failed() ? "check the smarthost's password, then reload postbridge (systemctl reload "
                                        "postbridge)."
                                      : "see where it fails with: postbridge test -c " + config_file + " smarthost " +
                                            name + ". postbridge keeps trying by itself."});
    }
    if (id && !id->is_local() && d->rate_limited_until() > now)
      out.push_back({Condition::smarthost_limited, "smarthost " + id->name(), now,
                     "The smarthost " + id->name() + " reached its send limit (" +
                         std::to_string(d->sent_last_hour()) + " sent in the last hour, " +
                         std::to_string(d->sent_last_day()) + " in the last day); mail through it waits until " +
                         when(d->rate_limited_until()) + ".",
                     "if this happens often, raise max_per_hour / max_per_day of [[smarthost]] " + id->name() +
                         " up to what the provider allows, or send part of the mail through another smarthost."});
    auto oldest = ctx_.store.queue().undelivered("queued", route, 1);
    if (oldest.empty()) continue;
    const int waiting = ctx_.store.queue().count_undelivered("queued", route);
    out.push_back({Condition::queued_long, "route " + route, oldest.front().created_at,
                   std::to_string(waiting) + " message(s) wait on route " + route + "; the oldest since " +
                       when(oldest.front().created_at) +
                       (oldest.front().last_reply.empty()
                            ? std::string(".")
                            : ", last reply: " + display::safe(oldest.front().last_reply, 300)),
                   "postbridge queue -c " + config_file + " lists them; the status page says why they wait."});
  }
}

void Alerter::send(const std::vector<alerts::Alert>& fired, queue::UnixTime now) {
  const auto& cfg = *ctx_.config;
  auto mail = alert_mail(cfg, fired);
  auto queued = queue_mail(ctx_, cfg.alerts.recipients, mail.subject, mail.body);
  std::vector<std::string> titles;
  for (const auto& a : fired) {
    titles.push_back(title(a.problem));
    ctx_.store.events().add(queue::Event::alert(now, queued.id, joined(cfg.alerts.recipients), a.problem.object,
                                                event_result(a.kind), titles.back()));
    log::notice("alert " + std::string(alerts::to_string(a.kind)) + ": " + titles.back());
  }
  send_webhook(ctx_, webhook_posts(cfg, fired, titles, mail.subject, mail.body));
  if (local_down(now)) send_by_smarthost(mail.subject, mail.body);
  else on_local_.push_back({queued.id, mail.subject, mail.body});
}

bool Alerter::local_down(queue::UnixTime now) {
  if (deliverers_.local().paused_until() > now) return true;
  auto oldest = ctx_.store.queue().undelivered("queued", "local", 1);
  return !oldest.empty() && now - oldest.front().created_at >= kLocalStuck && oldest.front().attempts > 0;
}

// Alert mails still waiting for the office server go out through a smarthost once it is down;
// delivered (or removed) ones are forgotten.
void Alerter::fall_back(queue::UnixTime now) {
  if (on_local_.empty()) return;
  std::erase_if(on_local_, [&](const OnLocal& m) {
    auto msg = ctx_.store.queue().get(m.id);
    return !msg || msg->state != queue::MsgState::queued;
  });
  if (on_local_.empty() || !local_down(now)) return;
  for (const auto& m : on_local_) send_by_smarthost(m.subject, m.body);
  on_local_.clear();
}

void Alerter::send_by_smarthost(const std::string& subject, const std::string& body) {
  const auto& cfg = *ctx_.config;
  auto way = fallback_route(cfg);
  if (!way) {
    if (!told_no_way_)
      log::error("alerts: the office server takes no mail now, and no [[smarthost]] takes " + cfg.service.postmaster +
                 " to send alerts around it; they wait for the office server" +
                 (cfg.alerts.webhook_url.empty() ? std::string(" (an [alerts] webhook_url would reach you now)")
                                                 : std::string(" (the webhook has them)")));
    told_no_way_ = true;
    return;
  }
  const std::string text = body + "\n(The office server " + cfg.local.host + " takes no mail now, so this alert "
                           "comes through the smarthost " + way->smarthost + ".)\n";
  const std::string route = queue::RouteId::smarthost(way->smarthost).to_string();
  auto queued = queue_mail(ctx_, cfg.alerts.recipients, subject, text, route, way->sender);
  log::notice("alert mail " + std::to_string(queued.id) + " goes through " + route +
              ": the office server takes no mail now");
}

}  // namespace pb::app

namespace pb::app {

queue::MessageId queue_test_alert(const config::Config& cfg, queue::Store& store) {
  boost::asio::io_context io;  // Context wants an executor; nothing runs on it here
  Context ctx{io.get_executor(), store, std::make_shared<const config::Config>(cfg)};
  const auto now = Context::now();
  const std::string body =
      "TEST: postbridge's alerts reach you\n\nThis is a test, sent by `postbridge test alerts`. Nothing is "
      "wrong. A real alert says what is wrong (a mailbox's refused login, a mailbox that cannot be reached, a "
      "paused smarthost, mail waiting in the queue, a restart after a crash), since when, and what to do.\n\n" +
      footer(cfg);
  auto queued = queue_mail(ctx, cfg.alerts.recipients, "postbridge: test alert", body);
  store.events().add(queue::Event::alert(now, queued.id, joined(cfg.alerts.recipients), "test alerts",
                                         queue::EventResult::raised, "test alert"));
  return queued.id;
}

}  // namespace pb::app
