// The commit discipline both fetch protocols share (see fetch_common.hpp).
#include "app/fetch_common.hpp"

#include <boost/system/system_error.hpp>
#include <openssl/evp.h>

#include <algorithm>

#include "app/notice.hpp"
#include "app/storage.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "imap/client.hpp"
#include "mail/address.hpp"
#include "net/transport.hpp"
#include "pop3/client.hpp"
#include "routing/multidrop.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "words/provider_replies.hpp"

namespace pb::app {
namespace asio = boost::asio;

const char* const kFetchPaused =
    ": fetching is paused (nothing is deleted at the provider) and resumes by itself once space is freed";

namespace {

// Envelope sender for the office server: the provider's Return-Path, else the From address,
// else the null sender (RFC 5321 4.5.5: always accepted, never bounced to).
std::string envelope_sender(const mail::HeaderCollector& h) {
  auto addr_in = [](std::string v) -> std::optional<std::string> {
    auto lt = v.rfind('<');
    auto gt = v.rfind('>');
    if (lt != std::string::npos && gt != std::string::npos && gt > lt) v = v.substr(lt + 1, gt - lt - 1);
    auto a = mail::Address::parse(text::trim(v));
    if (!a) return std::nullopt;
    return a->str();
  };
  if (auto rp = h.get("Return-Path")) {
    if (text::trim(*rp) == "<>") return "";
    if (auto a = addr_in(*rp)) return *a;
  }
  if (auto from = h.get("From"))
    if (auto a = addr_in(*from)) return *a;
  return "";
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

// SHA-256 of a message body, for the multidrop duplicate check: two copies of one message the
// provider kept per recipient share Message-ID and body; two different messages that reuse a
// Message-ID (broken generators do) do not share the body, so neither is lost.
struct Digest::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
};
void Digest::Free::operator()(State* s) const {
  EVP_MD_CTX_free(s->ctx);
  delete s;
}
Digest::Digest() : state_(new State) {
  if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 unavailable");
}
void Digest::update(std::string_view s) { EVP_DigestUpdate(state_->ctx, s.data(), s.size()); }
std::string Digest::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(state_->ctx, md, &n);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 15]);
  }
  return out;
}

SpoolingSink::SpoolingSink(Context& ctx, Deliverer& deliverer, const config::Account& account, std::string peer,
                           std::string protocol)
    : ctx_(ctx), deliverer_(deliverer), account_(account), peer_(std::move(peer)), protocol_(std::move(protocol)) {}

void SpoolingSink::begin(const std::string& key, const std::string& label, const std::string& tag,
                         std::uint64_t announced) {
  if (ctx_.stopping) throw ServiceStopping();
  // Room for this message (its listed size) and the reserve? Otherwise stop before its first byte.
  if (auto storage = check_storage(ctx_, announced); !storage.ok) throw StorageFull(storage.words);
  key_ = key;
  label_ = label;
  tag_ = tag;
  spool_.emplace(ctx_.store.spool_dir());
  received_ = 0;
  headers_ = mail::HeaderCollector();
  mail::ReceivedInfo info;
  info.from_host = peer_;
  info.by_host = ctx_.config->service.hostname;
  info.protocol = protocol_;
  info.extra = "account " + account_.name + ", " + label;
  if (account_.deliver_to.size() == 1) info.for_addr = account_.deliver_to.front();
  if (ctx_.loop_marker) info.mark = ctx_.loop_marker->make(info.by_host);
  spool_->write(mail::build_received(info, Context::now()));
  if (account_.multidrop) {
    if (ctx_.loop_marker)
      spool_->write(routing::loop_header_line(ctx_.config->service.hostname, ctx_.loop_marker->make(info.by_host)));
    digest_.emplace();
  }
  if (identify) content_.emplace();
}

void SpoolingSink::drop_spool() {
  if (!spool_) return;
  spool_->abandon();
  spool_.reset();
}

void SpoolingSink::line(std::string_view line) {
  // The listing promised a size within max_message_size; a server that sends more is not
  // believed: the rest is read and dropped (the session stays in step) and the message left there.
  received_ += line.size();
  if (received_ > account_.max_message_size.bytes) {
    drop_spool();
    return;
  }
  if (content_) content_->update(line);
  if (!headers_.done()) {
    headers_.feed_line(line.substr(0, line.size() >= 2 ? line.size() - 2 : 0));
    // Multidrop: the provider's Delivered-To names the catch-all address; an office Postfix that
    // delivers to that same address takes it for a forwarding loop and bounces the message.
    if (account_.multidrop && text::istarts_with(line, "Delivered-To:")) {
      spool_->write("X-Original-Delivered-To:");
      spool_->write(line.substr(13));
      return;
    }
  } else if (digest_) {
    digest_->update(line);
  }
  spool_->write(line);
}

void SpoolingSink::end() {
  if (!spool_) {
    handle_too_large(ctx_, account_, key_, label_, received_, false);
    return;
  }
  queue::NewMessage m;
  m.account = account_.name;
  m.uidl = key_;
  m.sender = envelope_sender(headers_);
  m.size = spool_->size();
  m.subject = mail::decode_rfc2047(headers_.get("Subject").value_or(""));
  m.message_id = headers_.get("Message-ID").value_or("");
  if (content_) {
    m.provider_size = received_;
    m.content_digest = content_->hex();
    content_.reset();
    if (fetched_before && fetched_before(m)) {
      drop_spool();
      ++recognised;
      return;
    }
  }
  std::string text;
  queue::EventResult result = queue::EventResult::ok;
  if (account_.multidrop) {
    text = route(m, result);
  } else {
    m.recipients = account_.deliver_to;
  }
  m.spool_name = spool_->commit_deferred();  // durable only after flush()
  spool_.reset();
  std::vector<std::string> shown = m.recipients;  // duplicates too: the log says where it would have gone
  for (const auto& r : m.done_recipients) shown.push_back(r.address);
  auto e = queue::Event::fetched(account_.name, m, join(shown), result, text);
  if (batch_.empty()) batch_started_ = std::chrono::steady_clock::now();
  batch_.emplace_back(std::move(m), std::move(e));
  if (batch_.size() >= kBatchMessages || std::chrono::steady_clock::now() - batch_started_ > kBatchAge) flush();
  if (ctx_.stopping) throw ServiceStopping();
}

// Only after this are the messages ours: delivered onward, and eventually deleted at the provider.
void SpoolingSink::flush() {
  if (batch_.empty()) return;
  queue::sync_spool(ctx_.store.spool_dir());
  auto now = Context::now();
  for (auto& [m, e] : batch_) e.time = now;
  auto new_ids = ctx_.store.queue().enqueue_batch(batch_, now);
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    const queue::NewMessage& m = batch_[i].first;
    keys.push_back(m.uidl);
    bytes += m.size;
    ++stored;
    // Every recipient had it already: done on arrival, nothing to deliver or wait for.
    if (m.recipients.empty() && m.hold_reason.empty()) queue::remove_spool_file(ctx_.store.spool_dir(), m.spool_name);
    else if (m.hold_reason.empty()) ids.push_back(new_ids[i]);
  }
  batch_.clear();
  batch_keys_.clear();
  deliverer_.kick();
}

// Multidrop: the local recipients of the message just read, each decision logged with its reason;
// recipients that already got this message become "duplicate". Returns the event text.
std::string SpoolingSink::route(queue::NewMessage& m, queue::EventResult& result) {
  const config::Multidrop& md = *account_.multidrop;
  auto decision = routing::route_multidrop(md, headers_.fields(), ctx_.config->service.hostname,
                                           ctx_.loop_marker ? &*ctx_.loop_marker : nullptr, headers_.truncated());
  m.hold_reason = decision.held;
  std::string digest = digest_->hex();
  digest_.reset();
  bool dedupe = md.duplicate_window.count() > 0 && !m.message_id.empty() && decision.held.empty();
  if (dedupe) {
    m.body_digest = digest;
    // A copy of the same message earlier in this batch is not in the store yet: commit it first.
    if (batch_keys_.contains(m.message_id + " " + digest)) flush();
    batch_keys_.insert(m.message_id + " " + digest);
  }
  auto since = Context::now() - std::chrono::duration_cast<std::chrono::seconds>(md.duplicate_window).count();
  std::string dups;
  for (const auto& r : decision.recipients) {
    auto earlier = dedupe ? ctx_.store.ledger().find_duplicate(m.message_id, digest, r.address, since) : std::nullopt;
    if (!earlier) {
      m.recipients.push_back(r.address);
      continue;
    }
    std::string why = "duplicate: message " + std::to_string(*earlier) +
                      " with the same Message-ID and body went to this recipient already";
    m.done_recipients.push_back({r.address, queue::RcptState::duplicate, why, "", ""});
    dups += (dups.empty() ? "" : ", ") + r.address;
  }
  std::string text = decision.summary();
  if (!dups.empty()) text += " | not delivered again to " + dups + " (duplicate of an earlier copy)";
  // A duplicate is not a problem (the error tab lists results other than ok): the text says it.
  result = !m.hold_reason.empty() ? queue::EventResult::held : queue::EventResult::ok;
  std::string line = "account " + account_.name + ": " +
                     (m.message_id.empty() ? "" : text::printable(m.message_id, 100) + " ") + "(" + tag_ +
                     ") -> " + text;
  if (result == queue::EventResult::held) log::warn(line);
  else log::info(line);
  return text;
}

asio::awaitable<std::exception_ptr> fetch_and_commit(SpoolingSink& sink, asio::awaitable<void> fetch) {
  std::exception_ptr error;
  try {
    co_await std::move(fetch);
  } catch (...) {
    error = std::current_exception();
  }
  sink.flush();
  co_return error;
}

void handle_too_large(Context& ctx, const config::Account& a, const std::string& key, const std::string& which,
                      std::uint64_t size, bool announced) {
  std::string what = which + " in account " + a.name + " (" +
                     (announced ? format_size({size}) : "over " + format_size({size}) + ", more than the server listed") +
                     ") is larger than max_message_size (" + format_size(a.max_message_size) + ")";
  if (key.rfind("nouidl:", 0) == 0) {
    log::warn(what + ": left on the server; without UIDL it is downloaded again at every poll");
    return;
  }
  if (!ctx.store.ledger().record_too_large(a.name, key, size, Context::now())) return;
  log::warn(what + ": left on the server");
  ctx.store.events().add(queue::Event::fetch_skipped(Context::now(), a.name, size, what));
  queue_notice(ctx, "postbridge: a message in account " + a.name + " is too large to fetch",
               "To the postmaster:\n\npostbridge did not fetch a message: " + what + ".\n\nIt stays in " +
                   mailbox_words(*ctx.config, a.name) + ". Read it there with webmail or a mail program (and delete it "
                   "there when done), or raise max_message_size for this account in " + ctx.config->file.string() +
                   " and reload postbridge to fetch it.\n\nYou get this notice once per message.\n");
}

// Also waits for this mailbox's earlier messages that are due now (e.g. interrupted by a crash
// and retried at start-up): delivered in this session, they are deleted now, not one poll later.
// The wait ends when the deliverer tried every one, the route paused, the route did not move at
// all for a whole step timeout, or the wait nears the server's autologout (POP3: at least 10
// minutes idle, RFC 1939 3; IMAP: 30, RFC 9051 5.4). The route moving for other mailboxes counts:
// with many mailboxes polled at once, this poll's mail queues behind theirs, and giving up early
// would leave it at the provider until the next poll although it was delivered seconds after.
asio::awaitable<void> wait_for_delivery(Context& ctx, Deliverer& d, const config::Account& a,
                                        const std::vector<queue::MessageId>& fetched) {
  constexpr auto kBeforeAutologout = std::chrono::minutes(9);
  std::vector<queue::MessageId> ids = fetched;
  for (auto id : ctx.store.queue().due_fetched(a.name, Context::now()))
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  const auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  std::uint64_t last_finished = d.finished_count();
  while (!ctx.stopping) {
    std::size_t done = 0;
    for (auto id : ids) done += d.attempted(id) ? 1 : 0;
    if (done == ids.size() || d.paused_until() > Context::now()) break;
    const auto now = std::chrono::steady_clock::now();
    if (d.finished_count() != last_finished) {
      last_finished = d.finished_count();
      last_progress = now;
    } else if (now - last_progress > a.timeout) {
      break;
    }
    if (now - started > kBeforeAutologout) break;
    co_await d.progress().wait(std::chrono::seconds(1));
  }
  for (auto id : ids) d.forget(id);
}

// The duplicate check is shared by all multidrop accounts (one person may be reached through two
// domains): entries go when the longest window of any account has passed.
void prune_duplicate_checks(Context& ctx) {
  Duration longest{};
  for (const auto& acc : ctx.config->accounts)
    if (acc.multidrop) longest = std::max(longest, acc.multidrop->duplicate_window);
  ctx.store.ledger().prune_duplicates(Context::now() - std::chrono::duration_cast<std::chrono::seconds>(longest).count());
}

asio::awaitable<std::unique_ptr<net::Transport>> dial_provider(Context& ctx, const config::Account& a) {
  net::TlsClientOptions tls{a.tls_verify, a.ca_file, a.host};
  co_return co_await ctx.dialer(a.host, a.port, a.tls == config::TlsMode::implicit, tls, a.timeout);
}

void log_logged_in(const config::Account& a, const net::Transport& t, const std::string& method) {
  log::debug("account " + a.name + ": logged in to " + t.peer() + " (" + method +
             (t.is_tls() ? ", " + t.tls_description() : ", no TLS") + ")");
}

asio::awaitable<std::string> access_token(Context& ctx, const config::Account& a, bool fresh) {
  if (!a.oauth2) co_return std::string();
  endpoint::OAuthLogin who = endpoint::oauth_login_of(*ctx.config, a);
  co_return co_await oauth_tokens(ctx).access_token(
      who, endpoint::oauth_client_config(*a.oauth2, who.login_name), fresh);
}

namespace {
// The server's refusal of an OAuth access token, whichever protocol said it.
bool token_rejected(const std::exception& e) {
  if (auto* p = dynamic_cast<const pop3::Pop3Error*>(&e)) return p->token_rejected();
  if (auto* i = dynamic_cast<const imap::ImapError*>(&e)) return i->token_rejected();
  return false;
}
}  // namespace

asio::awaitable<void> with_token_retry(const config::Account& a, const std::function<asio::awaitable<void>(bool)>& session) {
  bool retry = false;
  try {
    co_await session(false);
  } catch (const std::exception& e) {
    if (!a.oauth2 || !token_rejected(e)) throw;
    log::info("account " + a.name + ": the server refused the access token (" + e.what() +
              "); getting a new one and trying once more");
    retry = true;
  }
  if (retry) co_await session(true);
}

namespace {

queue::PollEnd end_of(pop3::FailureKind k) {
  switch (k) {
    case pop3::FailureKind::connection: return queue::PollEnd::connection_lost;
    case pop3::FailureKind::auth: return queue::PollEnd::auth_failed;
    case pop3::FailureKind::in_use: return queue::PollEnd::retry_soon;
    case pop3::FailureKind::login_delay: return queue::PollEnd::login_delay;
    default: return queue::PollEnd::error;
  }
}

queue::PollEnd end_of(imap::FailureKind k) {
  switch (k) {
    case imap::FailureKind::connection: return queue::PollEnd::connection_lost;
    case imap::FailureKind::auth: return queue::PollEnd::auth_failed;
    case imap::FailureKind::temporary: return queue::PollEnd::retry_soon;
    default: return queue::PollEnd::error;
  }
}

// A refused login, in the server's words and then, when the reply is one we know, in plain ones.
PollFailure pop3_failure(const pop3::Pop3Error& e, const std::string& host) {
  std::optional<words::Explanation> explained;
  if (e.kind() == pop3::FailureKind::auth) explained = words::explain_pop3(e.what(), host);
  if (!explained) return {end_of(e.kind()), e.what()};
  return {end_of(e.kind()), std::string(e.what()) + " — " + words::one_line(*explained), true};
}

}  // namespace

PollFailure classify_poll_failure(const std::exception& e, const std::string& host) {
  if (dynamic_cast<const StorageFull*>(&e)) return {queue::PollEnd::disk_full, e.what() + std::string(kFetchPaused)};
  if (dynamic_cast<const ServiceStopping*>(&e)) return {queue::PollEnd::connection_lost, e.what()};
  if (auto* pe = dynamic_cast<const pop3::Pop3Error*>(&e)) return pop3_failure(*pe, host);
  if (auto* ie = dynamic_cast<const imap::ImapError*>(&e)) return {end_of(ie->kind()), e.what()};
  if (auto* te = dynamic_cast<const oauth::TokenError*>(&e)) {
    // No login was tried: the token endpoint answered (or not) before the mail server was asked.
    auto end = te->kind() == oauth::TokenFailure::login_needed ? queue::PollEnd::login_needed
               : te->transient()                               ? queue::PollEnd::connection_lost
                                                               : queue::PollEnd::auth_failed;
    return {end, "OAuth: " + std::string(e.what())};
  }
  if (dynamic_cast<const oauth::TokenStoreError*>(&e)) return {queue::PollEnd::login_needed, "OAuth: " + std::string(e.what())};
  if (auto* nf = dynamic_cast<const net::NetFailure*>(&e)) {
    bool network = nf->kind() == net::NetError::timeout || nf->kind() == net::NetError::connect_failed;
    return {network ? queue::PollEnd::connection_lost : queue::PollEnd::error, e.what()};
  }
  // e.g. "connection to HOST:PORT lost during the TLS handshake: stream truncated"
  if (dynamic_cast<const boost::system::system_error*>(&e)) return {queue::PollEnd::connection_lost, e.what()};
  // Store or spool trouble: the message in hand was not committed, nothing deleted.
  if (queue::is_storage_full(e)) return {queue::PollEnd::disk_full, e.what() + std::string(kFetchPaused)};
  return {queue::PollEnd::error, e.what()};
}

}  // namespace pb::app
