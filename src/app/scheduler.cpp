// The per-account poll loops: wait for the timer (or a wake-up), poll, record, compute the next
// delay. A reload or "Poll now" wakes a loop early; a stop wakes all of them.
#include "app/scheduler.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "endpoint/oauth_tokens.hpp"
#include "queue/backoff.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace pb::app {
namespace asio = boost::asio;
using endpoint::OAuthLogin;
using endpoint::oauth_fingerprint;
using endpoint::oauth_login_of;
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
std::string poll_advice(const config::Account& a, const PollOutcome& o, std::chrono::seconds next,
                        const std::string& unconfirmed) {
  const std::string when = format_duration(next);
  if (o.end == queue::PollEnd::login_needed)
    return "; postbridge looks again in " + when + " and goes on by itself once the login is done";
  if (o.end != queue::PollEnd::auth_failed) return "; next try in " + when;
  // The error already says what the provider's refusal means and what to change.
  const std::string what = o.explained ? std::string()
                           : !a.oauth2 ? " — check the username and password (was the password changed at the provider?)"
                           : !unconfirmed.empty()
                               ? " — " + unconfirmed + "; otherwise check [account.oauth2] and the app's permissions at "
                                                       "the provider (POP3 access for the mailbox, the scopes)"
                           : a.oauth2->grant != config::OAuthGrant::user
                               ? " — check [account.oauth2] and the app's access to the mailbox at the provider "
                                 "(POP.AccessAsApp and Add-MailboxPermission, or the domain-wide delegation)"
                               : " — check [account.oauth2] and the app's permissions at the provider (POP3 access for "
                                 "the mailbox, the scopes), then log in again with postbridge oauth login";
  return what + ". Next try in " + when + " so the provider does not lock the account; a config reload retries at once";
}

const char* state_name(const PollOutcome& o) {
  if (o.ok() || interrupted(o)) return "ok";
  return o.end == queue::PollEnd::auth_failed || o.end == queue::PollEnd::login_needed ? "auth-failed" : "error";
}

}  // namespace

Scheduler::Scheduler(Context& ctx, Deliverer& local)
    : ctx_(ctx), local_(local), slot_free_(ctx.executor), polls_done_(ctx.executor) {}

void Scheduler::start() {
  for (const auto& a : ctx_.config->accounts) {
    if (!a.enabled) continue;
    auto it = loops_.find(a.name);
    if (it != loops_.end() && it->second->running) continue;
    auto loop = std::make_shared<Loop>(ctx_.executor);
    loop->fingerprint = fingerprint(a);
    loops_[a.name] = loop;
    asio::co_spawn(ctx_.executor, account_loop(a.name, loop), asio::detached);
  }
}

void Scheduler::config_changed() {
  start();
  for (auto& [name, loop] : loops_) {
    const auto* a = ctx_.config->find_account(name);
    if (!a || !a->enabled) loop->running = false;
    else if (fingerprint(*a) != loop->fingerprint) loop->reset = true;
    loop->wake.notify();
  }
}

void Scheduler::stop() {
  for (auto& [name, loop] : loops_) loop->wake.notify();
  slot_free_.notify();
  polls_done_.notify();
}

bool Scheduler::poll_now(const std::string& account) {
  auto it = loops_.find(account);
  if (it == loops_.end() || !it->second->running) return false;
  it->second->poll_now = true;
  it->second->wake.notify();
  return true;
}

bool Scheduler::polling(const std::string& account) const {
  auto it = loops_.find(account);
  return it != loops_.end() && it->second->polling;
}

asio::awaitable<PollOutcome> Scheduler::poll_and_record(config::Account a) {
  queue::AccountState st = ctx_.store.accounts().find(a.name).value_or(queue::AccountState{});
  auto o = co_await poll_once(a);
  if (!ctx_.stopping) record_poll(a, o, st, next_poll_delay(a, o, st.failures + 1));
  co_return o;
}

asio::awaitable<void> Scheduler::acquire_slot() {
  while (active_polls_ >= std::max(1, ctx_.config->service.max_parallel_polls) && !ctx_.stopping)
    co_await slot_free_.wait(5s);
  ++active_polls_;
}
void Scheduler::release_slot() {
  --active_polls_;
  slot_free_.notify();
  polls_done_.notify();
}

// Delay until the next poll, from the outcome: queue/backoff decides, within the provider's LOGIN-DELAY.
std::chrono::seconds Scheduler::next_poll_delay(const config::Account& a, const PollOutcome& o, int failures) {
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

void Scheduler::record_poll(const config::Account& a, const PollOutcome& o, queue::AccountState& st, std::chrono::seconds next) {
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
    std::string advice = poll_advice(a, o, next, unconfirmed_user(a, o.end));
    text = o.error;
    // A full disk is checked every 30 s, a missing OAuth login every minute: said once at error
    // level, then quietly until it ends.
    bool recheck = o.end == queue::PollEnd::disk_full || o.end == queue::PollEnd::login_needed;
    if (recheck && st.failures > 1) log::info("account " + a.name + ": " + o.error + advice);
    else log::error("account " + a.name + ": " + o.error + advice);
  }
  try {
    ctx_.store.accounts().save(st);
  } catch (const std::exception& e) {  // a full disk: the poll loop goes on, the page shows the old state
    log::error("account " + a.name + ": could not record the poll: " + e.what());
  }
  ctx_.store.events().add(queue::Event::poll(now, a.name, st.state == "ok", result, o.bytes, o.fetched, text));
  if (ctx_.on_polled) ctx_.on_polled();
}

// A refused OAuth login whose sign-in the provider never confirmed: the words that ask whether
// it was made as another user ("" otherwise).
std::string Scheduler::unconfirmed_user(const config::Account& a, queue::PollEnd end) {
  if (!a.oauth2 || a.oauth2->grant != config::OAuthGrant::user || end != queue::PollEnd::auth_failed) return "";
  OAuthLogin who = oauth_login_of(*ctx_.config, a);
  return oauth_tokens(ctx_).signed_in_as_known(who.key) ? "" : unconfirmed_user_words(a.username, who);
}

asio::awaitable<PollOutcome> Scheduler::poll_once(const config::Account& a) {
  co_await acquire_slot();
  PollOutcome o;
  if (!ctx_.stopping) o = co_await poll_account(ctx_, local_, a);
  release_slot();
  co_return o;
}

asio::awaitable<void> Scheduler::account_loop(std::string name, std::shared_ptr<Loop> loop) {
  queue::AccountState st = ctx_.store.accounts().find(name).value_or(queue::AccountState{});
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

}  // namespace pb::app
