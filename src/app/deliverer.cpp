// The local delivery loop: pick due messages, hand them to a few reusable SMTP/LMTP sessions,
// record every attempt before dialing and every outcome after, and back off by scope.
#include "app/deliverer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>

#include "net/transport.hpp"
#include "queue/backoff.hpp"
#include "queue/spool.hpp"
#include "smtp/client.hpp"
#include "util/log.hpp"

namespace pb::app {
namespace asio = boost::asio;
using queue::UnixTime;

namespace {

smtp::ClientOptions client_options(const config::Config& cfg) {
  smtp::ClientOptions o;
  o.helo_name = cfg.service.hostname;
  o.lmtp = cfg.local.protocol == config::LocalProtocol::lmtp;
  o.security = cfg.local.tls == config::TlsMode::starttls ? smtp::Security::starttls
               : cfg.local.tls == config::TlsMode::implicit ? smtp::Security::implicit
                                                            : smtp::Security::none;
  o.username = cfg.local.username;
  o.password = cfg.local.password.value;
  o.allow_plaintext_auth = cfg.local.allow_plaintext;
  o.timeout = cfg.local.timeout;
  o.data_timeout = std::max(cfg.local.timeout, std::chrono::milliseconds(std::chrono::minutes(10)));
  return o;
}

std::string join_recipients(const std::vector<queue::Recipient>& rs) {
  std::string out;
  for (const auto& r : rs) out += (out.empty() ? "" : ", ") + r.address;
  return out;
}

// "delivered to a, b; refused for c (550 5.1.1 unknown user); deferred for d (452 ...)"
std::string summarize(const std::vector<queue::DeliveryResult>& results, const std::string& message_reply) {
  std::string delivered, parts;
  for (const auto& r : results) {
    if (r.state == queue::RcptState::delivered) delivered += (delivered.empty() ? "" : ", ") + r.address;
  }
  if (!delivered.empty()) parts = "delivered to " + delivered;
  for (const auto& r : results) {
    if (r.state == queue::RcptState::delivered) continue;
    parts += std::string(parts.empty() ? "" : "; ") + (r.state == queue::RcptState::failed ? "refused for " : "deferred for ") +
             r.address + " (" + r.reply + ")";
  }
  if (parts.empty()) parts = message_reply;
  return parts;
}

}  // namespace

Deliverer::Deliverer(Context& ctx) : ctx_(ctx), wake_(ctx.executor), progress_(ctx.executor) {}

void Deliverer::resume() {
  paused_until_ = 0;
  route_failures_ = 0;
  pause_reason_.clear();
  wake_.notify();
}

void Deliverer::pause_route(const std::string& reason) {
  ++route_failures_;
  auto delay = queue::backoff_delay(queue::kLocalDelivery, route_failures_, ctx_.random_unit());
  paused_until_ = Context::now() + delay.count();
  pause_reason_ = reason;
  // The taken messages go back to the store untouched: they did not fail, the server did.
  for (const auto& m : pending_) in_flight_.erase(m.id);
  pending_.clear();
  log::warn("delivery to the office server paused for " + format_duration(delay) + ": " + reason);
  ctx_.store.add_event({Context::now(), "error", "", "local", 0, "", "", "", 0, 0, "paused",
                        "office server unavailable, next try in " + format_duration(delay) + ": " + reason});
  progress_.notify();
}

bool Deliverer::idle() {
  if (!in_flight_.empty() || !pending_.empty()) return false;
  if (paused_until_ > Context::now()) return true;
  auto next = ctx_.store.next_due("local");
  return !next || *next > Context::now();
}

void Deliverer::refill() {
  if (paused_until_ > Context::now()) return;
  for (auto& m : ctx_.store.due("local", Context::now(), 500)) {
    if (in_flight_.insert(m.id).second) pending_.push_back(std::move(m));
  }
}

asio::awaitable<void> Deliverer::run() {
  while (!ctx_.stopping) {
    refill();
    int max = std::max(1, ctx_.config->local.max_connections);
    // One session per ~20 waiting messages, up to the limit: a single message needs no second one.
    int wanted = std::min<int>(max, static_cast<int>((pending_.size() + 19) / 20));
    while (workers_ < wanted) {
      ++workers_;
      asio::co_spawn(ctx_.executor, worker(), asio::detached);
    }
    UnixTime now = Context::now();
    UnixTime wake_at = now + 60;
    if (paused_until_ > now) wake_at = std::min(wake_at, paused_until_);
    else if (auto next = ctx_.store.next_due("local"); next && pending_.empty()) wake_at = std::min(wake_at, std::max(*next, now + 1));
    co_await wake_.wait(std::chrono::seconds(std::max<UnixTime>(1, wake_at - now)));
  }
}

asio::awaitable<void> Deliverer::worker() {
  const auto cfg = ctx_.config;  // this session keeps the config it started with
  std::deque<queue::QueuedMessage> batch;
  try {
    bool implicit = cfg->local.tls == config::TlsMode::implicit;
    net::TlsClientOptions tls{cfg->local.tls_verify, cfg->local.ca_file, cfg->local.host};
    auto transport = co_await net::connect(cfg->local.host, cfg->local.port, implicit, tls, cfg->local.timeout);
    smtp::Client client(*transport, client_options(*cfg));
    co_await client.open();
    route_failures_ = 0;
    while (!ctx_.stopping) {
      if (batch.empty() && !take_batch(batch)) break;
      co_await deliver_one(client, batch.front());
      batch.pop_front();
    }
    co_await client.quit();
  } catch (const std::exception& e) {
    // The message in hand (if any) keeps its recorded attempt and backoff; the server is paused.
    std::string why = e.what();
    if (!batch.empty()) ctx_.store.record_results(batch.front().id, {}, why, batch.front().next_attempt);
    for (const auto& m : batch) in_flight_.erase(m.id);
    pause_route(why);
  }
  --workers_;
  wake_.notify();
}

// Takes up to 8 messages for this session and records their attempts in one transaction, before
// any of them is sent: a crash now costs each one retry, never a burst (DESIGN: mox).
bool Deliverer::take_batch(std::deque<queue::QueuedMessage>& batch) {
  std::vector<std::pair<queue::MessageId, UnixTime>> attempts;
  UnixTime now = Context::now();
  while (!pending_.empty() && batch.size() < 8) {
    auto m = std::move(pending_.front());
    pending_.pop_front();
    auto delay = queue::backoff_delay(queue::kLocalDelivery, m.attempts + 1, ctx_.random_unit());
    m.next_attempt = now + delay.count();
    attempts.emplace_back(m.id, m.next_attempt);
    batch.push_back(std::move(m));
  }
  if (batch.empty()) return false;
  ctx_.store.record_attempts(attempts);
  return true;
}

asio::awaitable<void> Deliverer::deliver_one(smtp::Client& client, queue::QueuedMessage& msg) {
  UnixTime now = Context::now();
  auto delay = std::chrono::seconds(std::max<UnixTime>(0, msg.next_attempt - now));

  smtp::Envelope env;
  env.sender = msg.sender;
  for (const auto& r : msg.recipients)
    if (r.state == queue::RcptState::pending) env.recipients.push_back(r.address);
  // Declared whenever offered: RFC 6152 allows BODY=8BITMIME for 7-bit content too, and it spares
  // a scan of every spool file.
  env.eight_bit = true;

  std::optional<queue::SpoolReader> reader;
  try {
    reader.emplace(ctx_.store.spool_dir(), msg.spool_name);
  } catch (const std::exception& e) {
    std::vector<queue::DeliveryResult> failed;
    for (const auto& a : env.recipients) failed.push_back({a, queue::RcptState::failed, "spool file lost"});
    ctx_.store.record_results(msg.id, failed, std::string("spool file unreadable: ") + e.what(), msg.next_attempt);
    log::error("message " + std::to_string(msg.id) + ": spool file unreadable: " + e.what());
    in_flight_.erase(msg.id);
    attempted_.insert(msg.id);
    co_return;
  }
  auto result = co_await client.send(env, msg.size, [&](char* buf, std::size_t n) { return reader->read(buf, n); });

  std::vector<queue::DeliveryResult> results;
  for (const auto& r : result.recipients) {
    auto st = r.outcome == smtp::Outcome::accepted  ? queue::RcptState::delivered
              : r.outcome == smtp::Outcome::permanent ? queue::RcptState::failed
                                                       : queue::RcptState::pending;
    results.push_back({r.address, st, r.reply.text()});
  }
  std::string summary = summarize(results, result.reply.text());
  bool all_done = std::all_of(results.begin(), results.end(), [](const auto& r) { return r.state != queue::RcptState::pending; });
  bool any_failed = std::any_of(results.begin(), results.end(), [](const auto& r) { return r.state == queue::RcptState::failed; });
  const char* verdict = !all_done ? "deferred" : any_failed ? "failed" : "ok";
  queue::Event event{now, "deliver", msg.account, "local", msg.id, msg.sender, join_recipients(msg.recipients),
                     msg.subject, msg.size, 1, verdict, summary};
  auto state = ctx_.store.record_results(msg.id, results, summary, msg.next_attempt, &event);
  if (state == queue::MsgState::delivered) queue::remove_spool_file(ctx_.store.spool_dir(), msg.spool_name);

  std::string line = "message " + std::to_string(msg.id) + " (" + msg.account + "): " + summary;
  if (state == queue::MsgState::delivered) log::info(line);
  else log::warn(line + (state == queue::MsgState::queued ? "; next try in " + format_duration(delay) : ""));
  if (result.message != smtp::Outcome::accepted) co_await client.reset();
  in_flight_.erase(msg.id);
  attempted_.insert(msg.id);
  progress_.notify();
}

}  // namespace pb::app
