// The delivery loop of one route: pick due messages, hand them to a few reusable SMTP/LMTP
// sessions, record every attempt before sending and every outcome after, classify failures by
// scope, bounce what failed for good (and send the "relayed" notice a next hop without DSN leaves
// to us), and keep within the provider's send limits.
#include "app/deliverer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>

#include "app/bounce.hpp"
#include "app/certificates.hpp"
#include "app/fetcher.hpp"
#include "app/redirect.hpp"
#include "mail/rewrite.hpp"
#include "net/transport.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "endpoint/pop3.hpp"
#include "pop3/client.hpp"
#include "queue/route_id.hpp"
#include "queue/spool.hpp"
#include "smtp/classify.hpp"
#include "smtp/client.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "words/provider_replies.hpp"

namespace pb::app {
namespace asio = boost::asio;
using queue::UnixTime;
using endpoint::OAuthLogin;
using endpoint::Route;
using endpoint::oauth_client_config;
using endpoint::oauth_login_of;
using endpoint::pop3_options;
using endpoint::resolve_route;
using endpoint::unconfirmed_user_words;

namespace {

// "smarthost gmx" / "office server": the name the alerter gives a route's certificate.
std::string certificate_object(const std::string& route) {
  auto id = queue::RouteId::parse(route);
  return id && !id->is_local() ? "smarthost " + id->name() : std::string("office server");
}

std::string join_recipients(const std::vector<queue::Recipient>& rs) {
  std::string out;
  for (const auto& r : rs) out += (out.empty() ? "" : ", ") + r.address;
  return out;
}

// "delivered to a, b; refused for c (550 5.1.1 unknown user); deferred for d (452 ...)"
std::string summarize(const std::vector<queue::DeliveryResult>& results, const std::string& message_reply) {
  std::string delivered, parts;
  for (const auto& r : results)
    if (r.state == queue::RcptState::delivered) delivered += (delivered.empty() ? "" : ", ") + r.address;
  if (!delivered.empty()) parts = "delivered to " + delivered;
  for (const auto& r : results) {
    if (r.state == queue::RcptState::delivered) continue;
    bool refused = r.state == queue::RcptState::failed || r.state == queue::RcptState::redirected;
    parts += std::string(parts.empty() ? "" : "; ") + (refused ? "refused for " : "deferred for ") + r.address + " (" +
             r.reply + ")";
  }
  return parts.empty() ? message_reply : parts;
}

// Maps what the transport or client reported before the transaction onto the classifier's words.
smtp::Failure failure_of(const std::exception& e, smtp::Stage& stage) {
  if (auto* se = dynamic_cast<const smtp::SessionError*>(&e)) {
    switch (se->kind()) {
      case smtp::FailureKind::tls:
        stage = smtp::Stage::starttls;
        return std::string(se->what()).find("does not offer") != std::string::npos ? smtp::Failure::tls_missing
                                                                                    : smtp::Failure::tls_handshake;
      case smtp::FailureKind::auth: stage = smtp::Stage::auth; return smtp::Failure::auth_unavailable;
      case smtp::FailureKind::protocol: return smtp::Failure::protocol;
      case smtp::FailureKind::greeting: stage = smtp::Stage::greeting; return smtp::Failure::closed;
      case smtp::FailureKind::connection: return smtp::Failure::closed;
    }
  }
  if (auto* nf = dynamic_cast<const net::NetFailure*>(&e)) {
    switch (nf->kind()) {
      case net::NetError::timeout: return smtp::Failure::timeout;
      case net::NetError::tls_failed: stage = smtp::Stage::starttls; return smtp::Failure::tls_certificate;
      case net::NetError::tls_not_offered: stage = smtp::Stage::starttls; return smtp::Failure::tls_missing;
      case net::NetError::connect_failed:
        return std::string(nf->what()).find("refused") != std::string::npos ? smtp::Failure::refused
                                                                            : smtp::Failure::unreachable;
      case net::NetError::line_too_long: return smtp::Failure::protocol;
    }
  }
  return smtp::Failure::closed;
}

OAuthLogin oauth_login_of(const Route& r) { return {r.oauth_key, r.oauth_login_name}; }

// Network weather rather than a refusal: a short backoff (queue::kConnectionLost) fits.
bool network_failure(smtp::Failure f) {
  return f == smtp::Failure::closed || f == smtp::Failure::timeout || f == smtp::Failure::refused ||
         f == smtp::Failure::unreachable;
}

bool non_ascii(const std::string& a) {
  return std::any_of(a.begin(), a.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// The envelope of one attempt: the pending recipients, and what the next hop is asked about DSNs
// (RFC 3461; the client passes it on only to a hop that offers DSN):
//  - Relayed mail (from the listener, to a smarthost): RET, ENVID and NOTIFY as the office's client
//    gave them (5.2.1), and ORCPT as given or else the address it named: 5.2.1 (b) lets a relay add
//    one and says it must be the RCPT address we received. Postfix does the same; a later hop's
//    report then names the address the sender wrote, even after the provider rewrote or expanded it.
//  - Fetched mail (to the office server): NOTIFY=NEVER. Its DSN story ended at the provider, whose
//    mailbox took it; handing it to the office is the mailbox owner's own forwarding. A failure
//    after the office server accepted it is for the office's admin (that server's log, Postfix's
//    notify_classes), not for the outside sender: that sender is often forged, and a bounce to it
//    would leave through our relay and the office's provider account as backscatter. What the
//    office server refuses while we talk to it reaches the postmaster, as before.
//  - Our own notices: nothing; with the null sender they cannot be bounced anyway (RFC 5321 4.5.5).
smtp::Envelope envelope_for(const queue::QueuedMessage& msg, const Route& route) {
  smtp::Envelope env;
  env.sender = route.rewrite_sender.empty() || msg.is_bounce ? msg.sender : route.rewrite_sender;
  const bool relayed = route.outbound && !msg.is_bounce;
  const bool fetched = !msg.account.empty() && !msg.is_bounce;
  for (const auto& r : msg.recipients) {
    if (r.state != queue::RcptState::pending) continue;
    env.recipients.push_back(r.address);
    if (relayed) {
      env.notify.push_back(r.notify);
      env.orcpt.push_back(r.orcpt.empty() ? "rfc822;" + r.address : r.orcpt);
    } else if (fetched) {
      env.notify.push_back("NEVER");
    }
  }
  if (relayed) {
    env.ret = msg.ret;
    env.envid = msg.envid;
  }
  // Declared whenever offered: RFC 6152 allows BODY=8BITMIME for 7-bit content too, and it spares
  // a scan of every spool file.
  env.eight_bit = true;
  // RFC 6531 3.4: an address with UTF-8 needs SMTPUTF8 (the client refuses if it is not offered).
  env.smtputf8 = non_ascii(env.sender) || std::any_of(env.recipients.begin(), env.recipients.end(), non_ascii);
  return env;
}

// A message postbridge did not hand over itself. The words say that postbridge decided, and why:
// the server never saw the message, and "the server refused" would send the admin and the sender
// to the provider for nothing. No reply code in `why`, so the DSN shows it as our reason.
struct LocalDecision {
  std::string why;          // one line: the log, the page, the DSN's diagnostic
  std::string explanation;  // for the sender: English, then German
};

// "your provider's server HOST" or "the office mail server HOST", in English and German.
struct ServerWords {
  std::string en, de;
};
ServerWords server_words(const Route& route) {
  if (route.outbound) return {"your provider's server " + route.host, "der Server Ihres Anbieters " + route.host};
  return {"the office mail server " + route.host, "der Mailserver des Büros " + route.host};
}

LocalDecision decided_by_client(const smtp::SendResult& r, const Route& route) {
  const ServerWords server = server_words(route);
  switch (r.refused_here) {
    case smtp::LocalRefusal::smtputf8:
      return {"not sent by postbridge: " + route.host + " does not offer SMTPUTF8 (RFC 6531), which an address "
              "of this message needs; the server never saw the message",
              "postbridge did not send your message. An address in it contains characters outside plain ASCII "
              "(such as ä or é). Such an address needs the SMTPUTF8 extension, and " + server.en +
                  " does not offer it, so the server never saw the message. If the recipient also has an address "
                  "in plain ASCII, use that one; otherwise ask your IT administrator.\n"
                  "postbridge hat Ihre Nachricht nicht versandt. Eine Adresse darin enthält Zeichen außerhalb von "
                  "ASCII (etwa ä oder é). Eine solche Adresse braucht die Erweiterung SMTPUTF8, und " + server.de +
                  " bietet sie nicht an; er hat die Nachricht also nie gesehen. Hat der Empfänger auch eine "
                  "Adresse nur aus ASCII-Zeichen, verwenden Sie diese; sonst fragen Sie Ihre IT-Betreuung."};
    case smtp::LocalRefusal::size: {
      const std::string& said = r.reply.lines.empty() ? r.reply.text() : r.reply.lines.front();
      std::string what = said.starts_with(r.reply.enhanced + " ") ? said.substr(r.reply.enhanced.size() + 1) : said;
      return {"not sent by postbridge: " + what,
              "postbridge did not send your message: it is larger than " + server.en +
                  " accepts. The server announces its limit beforehand, so sending the message would only "
                  "have been refused. Make the attachments smaller or share large files by link.\n"
                  "postbridge hat Ihre Nachricht nicht versandt: sie ist größer, als " + server.de +
                  " annimmt. Verkleinern Sie die Anhänge oder teilen Sie große Dateien per Link."};
    }
    case smtp::LocalRefusal::control_chars:
    case smtp::LocalRefusal::none:
      break;
  }
  return {"not sent by postbridge: an envelope address contains control characters",
          "postbridge did not send your message: an address in it contains control characters, which no mail "
          "server accepts. Please check the addresses; if this keeps happening, tell your IT administrator.\n"
          "postbridge hat Ihre Nachricht nicht versandt: eine Adresse darin enthält Steuerzeichen, die kein "
          "Mailserver annimmt. Bitte prüfen Sie die Adressen; passiert das öfter, sagen Sie Ihrer IT-Betreuung "
          "Bescheid."};
}

LocalDecision spool_unreadable(const std::string& error) {
  return {"not sent by postbridge: its queued copy of the message cannot be read (" + error + ")",
          "postbridge could not read its stored copy of your message, so it could not send it. Please send "
          "the message again and tell your IT administrator.\n"
          "postbridge konnte die gespeicherte Kopie Ihrer Nachricht nicht lesen und sie deshalb nicht "
          "versenden. Bitte senden Sie sie erneut und sagen Sie Ihrer IT-Betreuung Bescheid."};
}

LocalDecision too_large_for_route(std::uint64_t size, const Route& route) {
  std::string limit = format_size({*route.max_message_size});
  return {"not sent by postbridge: at " + format_size({size}) + " the message exceeds max_message_size (" + limit +
              ") of " + route.description,
          "postbridge did not send your message: at " + format_size({size}) + " it is larger than the " + limit +
              " this mail gateway sends through your provider. Make the attachments smaller or share large "
              "files by link.\n"
              "postbridge hat Ihre Nachricht nicht versandt: mit " + format_size({size}) + " ist sie größer als "
              "die " + limit + ", die dieses Mail-Gateway über Ihren Anbieter versendet. Verkleinern Sie die "
              "Anhänge oder teilen Sie große Dateien per Link."};
}

// Every recipient refused with one reply of our own making.
smtp::SendResult refused_here(const smtp::Envelope& env, int code, const std::string& enhanced, const std::string& text) {
  smtp::SendResult result;
  result.message = smtp::Outcome::permanent;
  result.reply.code = code;
  result.reply.enhanced = enhanced;
  result.reply.lines = {enhanced + " " + text};
  for (const auto& a : env.recipients) result.recipients.push_back({a, smtp::Outcome::permanent, result.reply});
  return result;
}

// RFC 3461 5.2.2: the next hop took the message without offering DSN, so no delivery confirmation
// will come from there; a recipient whose NOTIFY asked for SUCCESS learns that from us, now.
void notify_relayed(Context& ctx, const queue::QueuedMessage& msg, const smtp::SendResult& result, const Route& route) {
  std::vector<BounceRecipient> relayed;
  for (const auto& r : result.recipients)
    if (r.outcome == smtp::Outcome::accepted)
      relayed.push_back({r.address, "", r.reply.enhanced.starts_with("2.") ? r.reply.enhanced : "2.0.0", r.reply.text()});
  if (relayed.empty()) return;
  try {
    queue_bounce(ctx, msg, relayed, NoticeKind::relayed, route.host, "");
  } catch (const std::exception& e) {  // the message itself is delivered: that must stand
    log::warn("message " + std::to_string(msg.id) + ": the relayed notice to " + msg.sender +
              " could not be queued: " + e.what());
  }
}

}  // namespace

Deliverer::Deliverer(Context& ctx, std::string route)
    : ctx_(ctx), route_(std::move(route)), wake_(ctx.executor), progress_(ctx.executor) {
  if (auto r = resolve_route(*ctx_.config, route_)) fingerprint_ = r->fingerprint;
}

void Deliverer::resume() {
  paused_until_ = 0;
  route_failures_ = 0;
  pause_reason_.clear();
  auth_failed_ = login_needed_ = false;
  wake_.notify();
}

void Deliverer::config_changed() {
  auto r = resolve_route(*ctx_.config, route_);
  if (r && r->fingerprint != fingerprint_) {
    fingerprint_ = r->fingerprint;
    if (paused_until_ > Context::now()) log::notice(route_ + ": configuration changed, trying again now");
    resume();
  }
  wake_.notify();
}

void Deliverer::pause_route(const std::string& reason, bool auth, std::chrono::seconds delay) {
  paused_until_ = Context::now() + delay.count();
  pause_reason_ = reason;
  auth_failed_ = auth;
  login_needed_ = false;
  // The taken messages go back to the store untouched: they did not fail, the server did.
  for (const auto& m : pending_) in_flight_.erase(m.id);
  pending_.clear();
  log::warn(route_ + " paused for " + format_duration(delay) + ": " + reason);
  ctx_.store.events().add(queue::Event::route_paused(Context::now(), route_, auth,
                                                  reason + " (next try in " + format_duration(delay) + ")"));
  progress_.notify();
}

void Deliverer::pause_route_backoff(const Route& route, const std::string& reason, bool auth, bool network) {
  ++route_failures_;
  // A rejected login is retried hourly at most (provider lockouts); a reload retries at once. A
  // lost or refused connection is retried sooner than a refusal by the server.
  auto delay = auth      ? std::chrono::seconds(3600)
               : network ? queue::backoff_delay(queue::kConnectionLost, route_failures_, ctx_.random_unit())
                         : queue::backoff_delay(route.route_backoff, route_failures_, ctx_.random_unit());
  pause_route(reason, auth, delay);
}

void Deliverer::give_back(std::deque<queue::QueuedMessage>& batch) {
  std::vector<queue::MessageId> ids;
  for (const auto& m : batch) {
    in_flight_.erase(m.id);
    ids.push_back(m.id);
  }
  batch.clear();
  try {
    ctx_.store.queue().release_attempts(ids, Context::now());
  } catch (const std::exception& e) {  // they keep their recorded retry time: later, never lost
    log::warn(route_ + ": " + e.what());
  }
}

bool Deliverer::idle() {
  if (!in_flight_.empty() || !pending_.empty()) return false;
  UnixTime now = Context::now();
  if (paused_until_ > now || rate_limited_until_ > now) return true;
  auto next = ctx_.store.queue().next_due(route_);
  return !next || *next > now;
}

int Deliverer::sent_last_hour() const { return window_ ? window_->sent_last_hour(Context::now()) : 0; }
int Deliverer::sent_last_day() const { return window_ ? window_->sent_last_day(Context::now()) : 0; }

// Sliding send windows (max_per_hour/day). Loaded from the log, so a restart does not reset them.
bool Deliverer::rate_limited(const Route& route) {
  if (route.max_per_hour <= 0 && route.max_per_day <= 0) {
    window_.reset();
    rate_limited_until_ = 0;
    return false;
  }
  UnixTime now = Context::now();
  if (!window_ || window_hour_ != route.max_per_hour || window_day_ != route.max_per_day) {
    window_.emplace(route.max_per_hour, route.max_per_day);
    window_->load(ctx_.store.events().send_times(route_, now - 86400));
    window_hour_ = route.max_per_hour;
    window_day_ = route.max_per_day;
  }
  UnixTime next = window_->next_allowed(now);
  if (next <= now) {
    rate_limited_until_ = 0;
    return false;
  }
  if (rate_limited_until_ != next)
    log::notice(route_ + ": send limit reached (" + std::to_string(route.max_per_hour) + "/hour, " +
                std::to_string(route.max_per_day) + "/day); the next message may go in " +
                format_duration(std::chrono::seconds(next - now)));
  rate_limited_until_ = next;
  return true;
}

void Deliverer::refill() {
  UnixTime now = Context::now();
  if (paused_until_ > now) return;
  auto route = resolve_route(*ctx_.config, route_);
  if (!route) return;
  for (auto& m : ctx_.store.queue().due(route_, now, 100)) {
    if (in_flight_.contains(m.id)) continue;
    if (route->max_queue_time.count() > 0 && now - m.created_at >= route->max_queue_time.count()) {
      expire(*route, m);
      continue;
    }
    if (route->delay_notice_after.count() > 0 && !m.delay_notified && now - m.created_at >= route->delay_notice_after.count())
      notify_delay(*route, m);
    in_flight_.insert(m.id);
    pending_.push_back(std::move(m));
  }
}

void Deliverer::expire(const Route& route, queue::QueuedMessage& msg) {
  std::vector<queue::DeliveryResult> results;
  std::vector<BounceRecipient> bounced;
  std::string why = "could not be delivered within " + format_duration(route.max_queue_time) + " (max_queue_time)" +
                    (msg.last_reply.empty() ? "" : "; last reply: " + msg.last_reply);
  for (const auto& r : msg.recipients) {
    if (r.state != queue::RcptState::pending) continue;
    results.push_back({r.address, queue::RcptState::failed, why});
    bounced.push_back({r.address, r.orcpt, "4.4.7", why});
  }
  auto event = queue::Event::delivery(Context::now(), route.outbound, msg, route_, join_recipients(msg.recipients),
                                      false, queue::EventResult::expired, why);
  ctx_.store.queue().record_results(msg.id, results, why, msg.next_attempt, &event);
  log::warn("message " + std::to_string(msg.id) + " expired: " + why);
  queue_bounce(ctx_, msg, bounced, NoticeKind::failed, route.host,
               "Your message could not be delivered for " + format_duration(route.max_queue_time) +
                   " and postbridge gave up.\nDie Nachricht konnte nicht zugestellt werden; postbridge hat aufgegeben.");
}

void Deliverer::notify_delay(const Route& route, queue::QueuedMessage& msg) {
  std::vector<BounceRecipient> delayed;
  for (const auto& r : msg.recipients)
    if (r.state == queue::RcptState::pending)  // its own last reply: the message's names the others too
      delayed.push_back({r.address, r.orcpt, "4.4.7", r.reply.empty() ? msg.last_reply : r.reply});
  queue_bounce(ctx_, msg, delayed, NoticeKind::delayed, route.host,
               "Your message has not been delivered yet; postbridge keeps trying for " +
                   format_duration(route.max_queue_time) + " in total. You do not need to send it again.\n"
                   "Die Nachricht wurde noch nicht zugestellt; postbridge versucht es weiter. Bitte nicht erneut senden.");
  ctx_.store.queue().mark_delay_notified(msg.id);
  msg.delay_notified = true;
}

asio::awaitable<void> Deliverer::run() {
  while (!ctx_.stopping) {
    auto route = resolve_route(*ctx_.config, route_);
    if (!route) break;  // removed by a reload; its messages wait for a route of that name
    bool limited = rate_limited(*route);
    // Refill only when the sessions are about to run dry: reloading hundreds of due rows on every
    // wake-up (one per accepted message) cost more CPU than delivering them.
    if (!limited && pending_.size() < 20) refill();
    int max = std::max(1, route->max_connections);
    // One session per ~20 waiting messages, up to the limit: a single message needs no second one.
    int wanted = limited ? 0 : std::min<int>(max, static_cast<int>((pending_.size() + 19) / 20));
    // Counted before the first spawn: co_spawn may run a worker inline up to its first suspension,
    // and one that ends there lowers workers_ again, so a loop on workers_ < wanted could never end.
    for (int to_start = std::max(0, wanted - workers_); to_start > 0; --to_start) {
      ++workers_;
      asio::co_spawn(ctx_.executor, worker(), asio::detached);
    }
    UnixTime now = Context::now();
    UnixTime wake_at = now + 60;
    if (paused_until_ > now) wake_at = std::min(wake_at, paused_until_);
    else if (limited) wake_at = std::min(wake_at, rate_limited_until_);
    else if (auto next = ctx_.store.queue().next_due(route_); next && pending_.empty()) wake_at = std::min(wake_at, std::max(*next, now + 1));
    co_await wake_.wait(std::chrono::seconds(std::max<UnixTime>(1, wake_at - now)));
  }
}

void Deliverer::token_failure(const std::optional<Route>& route, const std::string& what, TokenProblem problem) {
  std::string why = "OAuth: " + what;
  last_reply_ = why;
  switch (problem) {
    case TokenProblem::login_needed:  // a file read per minute until a new login: no provider is asked
      pause_route(why + " — postbridge looks again every minute and goes on by itself once the login is done", true,
                  queue::kLoginRecheck);
      login_needed_ = true;
      break;
    case TokenProblem::config:
      if (route) pause_route_backoff(*route, why + " — fix [smarthost.oauth2] in the config and reload", true, false);
      break;
    case TokenProblem::transient:
      if (route) pause_route_backoff(*route, why, false, true);
      break;
  }
}

asio::awaitable<void> Deliverer::pop_before_smtp(const Route& route) {
  // The old "SMTP after POP" providers unlock sending for the IP for a while after a POP3 login.
  const auto* account = ctx_.config->find_account(route.pop_account);
  if (!account) throw std::runtime_error("pop-before-smtp account '" + route.pop_account + "' is not configured");
  net::TlsClientOptions tls{account->tls_verify, account->ca_file, account->host};
  auto transport = co_await ctx_.dialer(account->host, account->port, account->tls == config::TlsMode::implicit, tls,
                                         account->timeout);
  pop3::ClientOptions options = pop3_options(*account);
  if (account->oauth2) {
    OAuthLogin who = oauth_login_of(*ctx_.config, *account);
    options.oauth_mechanism = config::oauth_mechanism(account->auth);
    options.bearer_token =
        co_await oauth_tokens(ctx_).access_token(who, oauth_client_config(*account->oauth2, who.login_name), false);
  }
  pop3::Client pop(*transport, options);
  try {
    co_await pop.open();
  } catch (const pop3::Pop3Error& e) {
    throw smtp::SessionError(smtp::FailureKind::auth, e.kind() == pop3::FailureKind::auth,
                             std::string("pop-before-smtp login failed: ") + e.what());
  }
  co_await pop.quit();
}

asio::awaitable<void> Deliverer::worker() {
  std::deque<queue::QueuedMessage> batch;
  auto route = resolve_route(*ctx_.config, route_);  // this session keeps the settings it started with
  bool in_transaction = false;
  const bool fresh_token = std::exchange(fresh_token_next_, false);
  try {
    if (!route) throw std::runtime_error(route_ + " is no longer configured");
    if (!route->pop_account.empty()) co_await pop_before_smtp(*route);
    smtp::ClientOptions options = route->client;
    if (route->oauth2)
      options.bearer_token = co_await oauth_tokens(ctx_).access_token(
          oauth_login_of(*route), oauth_client_config(*route->oauth2, route->oauth_login_name), fresh_token);
    net::TlsClientOptions tls{route->tls_verify, route->ca_file, route->host};
    auto transport = co_await ctx_.dialer(route->host, route->port, route->implicit_tls, tls, route->client.timeout);
    smtp::Client client(*transport, options);
    co_await client.open();
    note_handshake(ctx_, certificate_object(route_), route->host, *transport);
    route_failures_ = 0;
    auth_failed_ = login_needed_ = false;
    while (!ctx_.stopping && paused_until_ <= Context::now()) {
      if (batch.empty() && !take_batch(*route, batch)) break;
      in_transaction = true;
      co_await deliver_one(client, *route, batch.front());
      in_transaction = false;
      batch.pop_front();
    }
    give_back(batch);  // paused mid-batch: they wait, untouched
    co_await client.quit();
  } catch (const oauth::TokenError& e) {
    give_back(batch);  // none taken yet: the token comes before the connection
    token_failure(route, e.what(), e.kind() == oauth::TokenFailure::login_needed ? TokenProblem::login_needed
                                   : e.transient()                               ? TokenProblem::transient
                                                                                 : TokenProblem::config);
  } catch (const oauth::TokenStoreError& e) {
    give_back(batch);
    token_failure(route, e.what(), TokenProblem::login_needed);
  } catch (const std::exception& e) {
    if (route) note_tls_refusal(ctx_, certificate_object(route_), route->host, e);
    smtp::Stage stage = in_transaction ? smtp::Stage::data : smtp::Stage::connect;
    smtp::Failure failure = failure_of(e, stage);
    std::string why = e.what();
    bool auth = false;
    bool retry_token = false;
    if (auto* se = dynamic_cast<const smtp::SessionError*>(&e); se && se->kind() == smtp::FailureKind::auth) {
      auth = se->permanent();
      // An access token the server refused (expired early, revoked): one more session with a
      // fresh one from the provider before it counts as a failed login.
      retry_token = route && route->oauth2 && se->token_rejected() && !fresh_token && !in_transaction;
      // The server's own words first; then what to do about it: what the provider's reply to a
      // password login means when it is one we know, otherwise the general advice for the login.
      std::optional<words::Explanation> explained;
      if (auth && route && !route->oauth2)
        explained = words::explain_smtp(se->reply().code, se->reply().enhanced, se->reply().text(), route->host);
      if (explained)
        why += " — " + words::one_line(*explained) +
               ". postbridge tries again hourly, or at once after a config reload";
      else if (auth && route && route->oauth2 && route->oauth2->grant != config::OAuthGrant::user)
        why += " — check [smarthost.oauth2] and the app's right to send at the provider (SMTP.SendAsApp and "
               "Add-MailboxPermission, or the domain-wide delegation)";
      else if (auth && route && route->oauth2 && !oauth_tokens(ctx_).signed_in_as_known(route->oauth_key))
        why += " — " + unconfirmed_user_words(route->client.username, oauth_login_of(*route)) +
               "; otherwise check [smarthost.oauth2] and the app's permissions at the provider (SMTP AUTH for the "
               "mailbox, the scopes)";
      else if (auth && route && route->oauth2)
        why += " — check [smarthost.oauth2] and the app's permissions at the provider (SMTP AUTH for the mailbox, "
               "the scopes), then log in again: postbridge oauth login " + route->oauth_login_name;
      else if (auth)
        why += " — was the password changed at the provider? Fix it in the config and reload: postbridge "
               "tries again at once, otherwise hourly so the provider does not lock the account";
    } else if (route) {
      auto v = smtp::classify_failure(stage, failure, route->host, route->port);
      if (!v.advice.empty() && v.scope == smtp::Scope::route) why = std::string(e.what()) + " — " + v.advice;
    }
    // The message in hand keeps its attempt; the rest of the batch goes back as it was. A message
    // whose connection broke mid-transaction is retried on a new connection at once the first
    // time (it is most likely innocent), then with the short network backoff.
    if (!batch.empty()) {
      auto& msg = batch.front();
      UnixTime retry_at = msg.next_attempt;
      if (in_transaction && network_failure(failure) && route)
        retry_at = std::min(retry_at, Context::now() + queue::lost_in_transaction_delay(route->message_backoff, msg.attempts + 1,
                                                                                         ctx_.random_unit()).count());
      try {
        ctx_.store.queue().record_results(msg.id, {}, why, retry_at);
      } catch (const std::exception& inner) {  // e.g. deleted by the admin meanwhile
        log::warn(route_ + ": message " + std::to_string(msg.id) + ": " + inner.what());
      }
      finish(msg.id);
      batch.pop_front();
    }
    give_back(batch);
    last_reply_ = why;
    // A connection that breaks inside a transaction concerns that message only; a server that is
    // really down fails the next connect, which pauses the route.
    bool route_scope = !in_transaction || smtp::classify_failure(stage, failure).scope == smtp::Scope::route;
    if (retry_token) {
      fresh_token_next_ = true;
      log::info(route_ + ": the server refused the access token (" + std::string(e.what()) +
                "); getting a new one and trying once more");
    } else if (route && route_scope) pause_route_backoff(*route, why, auth, network_failure(failure));
    else log::warn(route_ + ": " + why);
  }
  --workers_;
  wake_.notify();
}

// Takes up to 8 messages for this session (1 under a send limit) and records their attempts in one
// transaction before any is sent: a crash now costs each one retry, never a burst (DESIGN: mox).
bool Deliverer::take_batch(const Route& route, std::deque<queue::QueuedMessage>& batch) {
  std::size_t max = 8;
  if (route.max_per_hour > 0 || route.max_per_day > 0) {
    if (rate_limited(route)) return false;
    max = 1;
  }
  std::vector<std::pair<queue::MessageId, UnixTime>> attempts;
  UnixTime now = Context::now();
  while (!pending_.empty() && batch.size() < max) {
    auto m = std::move(pending_.front());
    pending_.pop_front();
    auto delay = queue::backoff_delay(route.message_backoff, m.attempts + 1, ctx_.random_unit());
    m.next_attempt = now + delay.count();
    attempts.emplace_back(m.id, m.next_attempt);
    batch.push_back(std::move(m));
  }
  if (batch.empty()) return false;
  ctx_.store.queue().record_attempts(attempts);
  if (window_) window_->record(now);  // counted when it goes, so two sessions cannot overshoot
  return true;
}

// Multidrop: a recipient the office server refused for itself (at RCPT, or an LMTP
// mailbox problem 5.1.x/5.2.x) goes to the account's default_recipient instead of bouncing; a
// refusal of the message as a whole would only be refused again there, and fails as usual.
bool Deliverer::redirect_refused(const queue::QueuedMessage& msg, const smtp::SendResult& result,
                                 std::vector<queue::DeliveryResult>& results, std::vector<BounceRecipient>& bounced,
                                 std::optional<queue::NewMessage>& copy) {
  const auto* account = ctx_.config->find_account(msg.account);
  if (!account || !account->multidrop || msg.is_bounce) return false;
  const std::string& fallback = account->multidrop->default_recipient;
  std::vector<RefusedRecipient> refused;
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < results.size() && i < result.recipients.size(); ++i) {
    const auto& r = result.recipients[i];
    bool own = r.at_rcpt || r.reply.enhanced.starts_with("5.1.") || r.reply.enhanced.starts_with("5.2.");
    if (results[i].state != queue::RcptState::failed || !own || text::iequals(r.address, fallback)) continue;
    refused.push_back({r.address, r.reply.text()});
    which.push_back(i);
  }
  if (refused.empty()) return false;
  // The default recipient may already be one of this message's recipients: one copy is enough.
  bool has_fallback = std::any_of(msg.recipients.begin(), msg.recipients.end(), [&](const queue::Recipient& r) {
    return text::iequals(r.address, fallback) && r.state != queue::RcptState::failed;
  });
  std::string note = " — redirected to " + fallback + (has_fallback ? ", which receives this message already" : "");
  if (!has_fallback) {
    try {
      copy = redirect_copy(ctx_, msg, refused, fallback);
    } catch (const std::exception& e) {
      log::error("message " + std::to_string(msg.id) + ": could not write the copy for " + fallback + ": " + e.what());
      return false;  // an ordinary failure: the postmaster is told, the spool file is kept
    }
  }
  for (std::size_t i : which) {
    results[i].state = queue::RcptState::redirected;
    results[i].reply += note;
    std::erase_if(bounced, [&](const BounceRecipient& b) { return b.address == results[i].address; });
  }
  return true;
}

void Deliverer::finish(queue::MessageId id) {
  in_flight_.erase(id);
  attempted_.insert(id);
  ++finished_count_;
  progress_.notify();
}

asio::awaitable<void> Deliverer::deliver_one(smtp::Client& client, const Route& route, queue::QueuedMessage& msg) {
  UnixTime now = Context::now();
  // The admin may have held, deleted or bounced it since it was taken from the queue.
  if (auto fresh = ctx_.store.queue().get(msg.id); !fresh || fresh->state != queue::MsgState::queued) {
    log::info("message " + std::to_string(msg.id) + ": not sent, it was " + (fresh ? queue::to_string(fresh->state) : "deleted") +
              " meanwhile");
    finish(msg.id);
    co_return;
  }
  auto delay = std::chrono::seconds(std::max<UnixTime>(0, msg.next_attempt - now));

  smtp::Envelope env = envelope_for(msg, route);
  smtp::SendResult result;
  std::optional<LocalDecision> local;  // set: postbridge decided, no server saw the message
  std::optional<queue::SpoolReader> reader;
  std::string head;  // rewritten header block, sent before the rest of the spool file
  std::size_t head_pos = 0, skip = 0;
  try {
    reader.emplace(ctx_.store.spool_dir(), msg.spool_name);
    if (route.rewrite_from_header && !route.rewrite_sender.empty() && !msg.is_bounce) {
      std::string original = read_header_block(ctx_.store.spool_dir(), msg.spool_name);
      head = mail::rewrite_from_header(original, route.rewrite_sender);
      skip = original.size();
    }
  } catch (const std::exception& e) {
    reader.reset();
    result = refused_here(env, 554, "5.3.0", std::string("spool file unreadable: ") + e.what());
    local = spool_unreadable(e.what());
  }
  std::uint64_t size = msg.size - skip + head.size();
  if (reader && route.max_message_size && size > *route.max_message_size) {
    result = refused_here(env, 552, "5.3.4",
                          "message of " + format_size({size}) + " exceeds max_message_size (" +
                              format_size({*route.max_message_size}) + ") of " + route.description);
    local = too_large_for_route(size, route);
  } else if (reader) {
    result = co_await client.send(env, size, [&](char* buf, std::size_t n) -> std::size_t {
      while (skip > 0) {  // drop the original header block: its rewritten copy goes first
        char junk[8192];
        std::size_t got = reader->read(junk, std::min(skip, sizeof junk));
        if (got == 0) break;
        skip -= got;
      }
      if (head_pos < head.size()) {
        std::size_t k = std::min(n, head.size() - head_pos);
        std::copy_n(head.data() + head_pos, k, buf);
        head_pos += k;
        return k;
      }
      return reader->read(buf, n);
    });
    if (result.refused_here != smtp::LocalRefusal::none) local = decided_by_client(result, route);
    // Once per attempt that sent the body: the admin learns why a signature failed downstream.
    if (result.body_changes.any())
      log::notice("message " + std::to_string(msg.id) + " via " + route_ + ": changed to fit SMTP: " +
                  smtp::describe(result.body_changes) + "; a DKIM signature over the changed lines may no longer verify");
  }

  // Outcome per recipient; a message-level refusal may really be about the whole route (quota).
  std::vector<queue::DeliveryResult> results;
  std::vector<BounceRecipient> bounced;
  bool any_accepted = false;
  std::optional<smtp::Verdict> route_verdict;
  for (const auto& r : result.recipients) {
    auto st = r.outcome == smtp::Outcome::accepted    ? queue::RcptState::delivered
              : r.outcome == smtp::Outcome::permanent ? queue::RcptState::failed
                                                      : queue::RcptState::pending;
    any_accepted |= st == queue::RcptState::delivered;
    std::string reply = local ? local->why : r.reply.text();
    if (r.outcome != smtp::Outcome::accepted && route.outbound && r.reply.code && !local) {
      auto v = smtp::classify(any_accepted ? smtp::Stage::rcpt : smtp::Stage::mail, r.reply, route.host);
      if (v.scope == smtp::Scope::route) {
        route_verdict = v;
        st = queue::RcptState::pending;  // not the message's fault: it waits for the route
      }
      if (st == queue::RcptState::failed && !v.advice.empty()) reply += " — " + v.advice;
    }
    if (st == queue::RcptState::failed)
      bounced.push_back({r.address, "", r.reply.enhanced.empty() ? "5.0.0" : r.reply.enhanced,
                         local ? local->why : r.reply.text()});
    results.push_back({r.address, st, reply});
  }
  std::optional<queue::NewMessage> copy;
  bool redirected = !route.outbound && redirect_refused(msg, result, results, bounced, copy);
  std::string summary = summarize(results, result.reply.text());
  bool all_done = std::all_of(results.begin(), results.end(), [](const auto& r) { return r.state != queue::RcptState::pending; });
  using R = queue::EventResult;
  const R verdict = !all_done ? R::deferred : !bounced.empty() ? R::failed : redirected ? R::redirected : R::ok;
  auto event = queue::Event::delivery(now, route.outbound, msg, route_, join_recipients(msg.recipients), any_accepted,
                                      verdict, summary);
  queue::MessageId copy_id = 0;
  auto state = ctx_.store.queue().record_results(msg.id, results, summary, msg.next_attempt, &event, copy ? &*copy : nullptr,
                                         &copy_id);
  last_reply_ = local ? local->why : result.reply.text();
  if (copy_id) {
    log::notice("message " + std::to_string(msg.id) + ": refused recipient(s) redirected to " + copy->recipients.front() +
                " as message " + std::to_string(copy_id));
    wake_.notify();
  }

  std::string line = "message " + std::to_string(msg.id) + " via " + route_ + ": " + summary;
  if (state == queue::MsgState::delivered) log::info(line);
  else log::warn(line + (state == queue::MsgState::queued && !route_verdict ? "; next try in " + format_duration(delay) : ""));
  if (!bounced.empty() && local)
    queue_bounce(ctx_, msg, bounced, NoticeKind::failed, "", local->explanation);
  else if (!bounced.empty())
    queue_bounce(ctx_, msg, bounced, NoticeKind::failed, route.host,
                 "The receiving server refused your message for the recipients below; its exact words are quoted.\n"
                 "Der empfangende Server hat die Nachricht fuer die folgenden Empfaenger abgelehnt.");
  if (route.outbound && any_accepted && !client.extensions().dsn) notify_relayed(ctx_, msg, result, route);
  // Only now: the notices above quote the message's headers from its spool file.
  if (state == queue::MsgState::delivered) queue::remove_spool_file(ctx_.store.spool_dir(), msg.spool_name);
  if (result.message != smtp::Outcome::accepted) co_await client.reset();
  finish(msg.id);
  if (route_verdict) pause_route_backoff(route, route_verdict->advice.empty() ? result.reply.text() : route_verdict->advice,
                                         route_verdict->problem == smtp::RouteProblem::auth_rejected, false);
}

}  // namespace pb::app
