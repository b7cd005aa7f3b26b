// The POP3 poll: a linear sequence of steps over pop3::Client, with the no-loss rule enforced at
// two points: a message is committed to the store before the next one is read, and only UIDLs
// the store reports as done are ever given to DELE.
#include "app/fetcher.hpp"

#include <boost/system/system_error.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "app/certificates.hpp"
#include "app/notice.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "endpoint/pop3.hpp"
#include "app/storage.hpp"
#include "mail/address.hpp"
#include "mail/headers.hpp"
#include "net/transport.hpp"
#include "pop3/client.hpp"
#include "queue/spool.hpp"
#include "routing/multidrop.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "words/provider_replies.hpp"

namespace pb::app {
namespace asio = boost::asio;
using endpoint::OAuthLogin;
using endpoint::oauth_client_config;
using endpoint::oauth_login_of;
using endpoint::pop3_options;

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

// SHA-256 of a message body, for the multidrop duplicate check: two copies of one message the
// provider kept per recipient share Message-ID and body; two different messages that reuse a
// Message-ID (broken generators do) do not share the body, so neither is lost.
class BodyDigest {
 public:
  BodyDigest() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 unavailable");
  }
  void update(std::string_view s) { EVP_DigestUpdate(ctx_.get(), s.data(), s.size()); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
      out.push_back(digits[md[i] >> 4]);
      out.push_back(digits[md[i] & 15]);
    }
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void handle_too_large(Context& ctx, const config::Account& a, const std::string& uid, std::uint32_t n,
                      std::uint64_t size, bool announced = true);

// The octets of a session that were not plain CRLF text, and what became of each kind; empty when
// there were none. Only kinds that occurred are named.
std::string describe_odd_bytes(const pop3::SessionStats& st) {
  auto count = [](std::uint64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  std::vector<std::string> parts;
  if (st.bare_lf_lines)
    parts.push_back(count(st.bare_lf_lines, "line", "lines") + " ending in a bare LF (stored ending in CRLF)");
  if (st.dropped_crs)
    parts.push_back(count(st.dropped_crs, "CR", "CRs") + " right before a line end (dropped, as Postfix does)");
  if (st.inner_crs)
    parts.push_back(count(st.inner_crs, "CR", "CRs") +
                    " inside lines (stored as sent; sent on as a space each, RFC 5321 2.3.8)");
  if (st.nul_bytes) parts.push_back(count(st.nul_bytes, "NUL byte", "NUL bytes") + " (stored and sent on as they are)");
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i)
    out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return out;
}

// Streams RETR replies into spool files and commits each complete message.
class SpoolingSink final : public pop3::RetrSink {
 public:
  SpoolingSink(Context& ctx, Deliverer& deliverer, const config::Account& account, std::string peer, bool tls,
               std::map<std::uint32_t, std::string> uid_of, std::map<std::uint32_t, std::uint64_t> size_of)
      : ctx_(ctx), deliverer_(deliverer), account_(account), peer_(std::move(peer)), tls_(tls),
        uid_of_(std::move(uid_of)), size_of_(std::move(size_of)) {}

  void begin(std::uint32_t number) override {
    if (ctx_.stopping) throw pop3::Pop3Error(pop3::FailureKind::connection, "service is stopping");
    // Room for this message (its LIST size) and the reserve? Otherwise stop before its first byte.
    if (auto storage = check_storage(ctx_, size_of_[number]); !storage.ok) throw StorageFull(storage.words);
    spool_.emplace(ctx_.store.spool_dir());
    received_ = 0;
    headers_ = mail::HeaderCollector();
    mail::ReceivedInfo info;
    info.from_host = peer_;
    info.by_host = ctx_.config->service.hostname;
    info.protocol = tls_ ? "POP3S" : "POP3";
    info.extra = "account " + account_.name + ", message " + std::to_string(number);
    if (account_.deliver_to.size() == 1) info.for_addr = account_.deliver_to.front();
    if (ctx_.loop_marker) info.mark = ctx_.loop_marker->make(info.by_host);
    spool_->write(mail::build_received(info, Context::now()));
    if (account_.multidrop) {
      if (ctx_.loop_marker)
        spool_->write(routing::loop_header_line(ctx_.config->service.hostname, ctx_.loop_marker->make(info.by_host)));
      digest_.emplace();
    }
  }

  void data(std::string_view line) override {
    // LIST promised a size within max_message_size; a server that sends more is not believed:
    // the rest is read and dropped (the session stays in step) and the message left on the server.
    received_ += line.size();
    if (received_ > account_.max_message_size.bytes) {
      if (spool_) {
        spool_->abandon();
        spool_.reset();
      }
      return;
    }
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

  void end(std::uint32_t number) override {
    if (!spool_) {
      const std::string& uid = uid_of_.at(number);
      handle_too_large(ctx_, account_, uid, number, received_, false);
      return;
    }
    queue::NewMessage m;
    m.account = account_.name;
    m.uidl = uid_of_.at(number);
    m.sender = envelope_sender(headers_);
    m.size = spool_->size();
    m.subject = mail::decode_rfc2047(headers_.get("Subject").value_or(""));
    m.message_id = headers_.get("Message-ID").value_or("");
    std::string text;
    queue::EventResult result = queue::EventResult::ok;
    if (account_.multidrop) {
      text = route(number, m, result);
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
    if (ctx_.stopping) throw pop3::Pop3Error(pop3::FailureKind::connection, "service is stopping");
  }

  // Group commit: one syncfs for the batch's spool files, then one transaction for their rows.
  // Only after this are the messages ours: delivered onward, and eventually deleted at the provider.
  void flush() {
    if (batch_.empty()) return;
    queue::sync_spool(ctx_.store.spool_dir());
    auto now = Context::now();
    for (auto& [m, e] : batch_) e.time = now;
    auto new_ids = ctx_.store.queue().enqueue_batch(batch_, now);
    for (std::size_t i = 0; i < batch_.size(); ++i) {
      const queue::NewMessage& m = batch_[i].first;
      uids.push_back(m.uidl);
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

  void refused(std::uint32_t number, const std::string& reply) override {
    log::warn("account " + account_.name + ": server refused to hand out message " + std::to_string(number) + ": " + reply);
  }

  int stored = 0;                     // messages committed (including held loops and duplicates)
  std::vector<queue::MessageId> ids;  // queued for delivery: the poll waits for these
  std::vector<std::string> uids;
  std::uint64_t bytes = 0;

 private:
  // Multidrop: the local recipients of the message just read, each decision logged with its reason;
  // recipients that already got this message become "duplicate". Returns the event text.
  std::string route(std::uint32_t number, queue::NewMessage& m, queue::EventResult& result) {
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
                       (m.message_id.empty() ? "" : text::printable(m.message_id, 100) + " ") + "(POP3 #" +
                       std::to_string(number) + ") -> " + text;
    if (result == queue::EventResult::held) log::warn(line);
    else log::info(line);
    return text;
  }

  Context& ctx_;
  Deliverer& deliverer_;
  const config::Account& account_;
  std::string peer_;
  bool tls_;
  std::map<std::uint32_t, std::string> uid_of_;
  std::map<std::uint32_t, std::uint64_t> size_of_;
  std::uint64_t received_ = 0;  // octets of the current message so far
  std::optional<queue::SpoolFile> spool_;
  mail::HeaderCollector headers_;
  // A batch is committed at 16 messages or 200 ms, whichever comes first: big enough to share
  // the fsync cost, small enough that delivery starts at once.
  static constexpr std::size_t kBatchMessages = 16;
  static constexpr auto kBatchAge = std::chrono::milliseconds(200);
  std::vector<std::pair<queue::NewMessage, queue::Event>> batch_;
  std::unordered_set<std::string> batch_keys_;  // Message-ID + digest of the multidrop messages in batch_
  std::chrono::steady_clock::time_point batch_started_;
  std::optional<BodyDigest> digest_;  // multidrop accounts only
};

// Waits until the deliverer tried every message of this poll, the route paused, the route did not
// move at all for a whole step timeout, or the wait nears the POP3 server's autologout (RFC 1939 3:
// at least 10 minutes idle). The route moving for other mailboxes counts: with many mailboxes
// polled at once, this poll's mail queues behind theirs, and giving up early would leave it at the
// provider until the next poll (an hour later, say) although it was delivered seconds after.
asio::awaitable<void> wait_for_delivery(Context& ctx, Deliverer& d, const std::vector<queue::MessageId>& ids,
                                        std::chrono::milliseconds idle_limit) {
  constexpr auto kBeforeAutologout = std::chrono::minutes(9);
  const auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  std::uint64_t last_finished = d.finished_count();
  while (!ctx.stopping) {
    std::size_t done = 0;
    for (auto id : ids) done += d.attempted(id) ? 1 : 0;
    if (done == ids.size() || d.paused_until() > Context::now()) co_return;
    const auto now = std::chrono::steady_clock::now();
    if (d.finished_count() != last_finished) {
      last_finished = d.finished_count();
      last_progress = now;
    } else if (now - last_progress > idle_limit) {
      co_return;
    }
    if (now - started > kBeforeAutologout) co_return;
    co_await d.progress().wait(std::chrono::seconds(1));
  }
}

struct Listing {
  std::map<std::string, std::uint32_t> number_of;  // uid -> message number
  std::unordered_set<std::string> uids;
};

// `announced`: the size is the server's LIST answer; else the server listed less and sent this
// much before postbridge stopped keeping it. Without UIDL there is no ledger to remember it in.
void handle_too_large(Context& ctx, const config::Account& a, const std::string& uid, std::uint32_t n,
                      std::uint64_t size, bool announced) {
  std::string what = "message " + std::to_string(n) + " in account " + a.name + " (" +
                     (announced ? format_size({size}) : "over " + format_size({size}) + ", more than the server listed") +
                     ") is larger than max_message_size (" + format_size(a.max_message_size) + ")";
  if (uid.rfind("nouidl:", 0) == 0) {
    log::warn(what + ": left on the server; without UIDL it is downloaded again at every poll");
    return;
  }
  if (!ctx.store.ledger().record_too_large(a.name, uid, size, Context::now())) return;
  log::warn(what + ": left on the server");
  ctx.store.events().add(queue::Event::fetch_skipped(Context::now(), a.name, size, what));
  queue_notice(ctx, "postbridge: a message in account " + a.name + " is too large to fetch",
               "To the postmaster:\n\npostbridge did not fetch a message: " + what + ".\n\nIt stays in " +
                   mailbox_words(*ctx.config, a.name) + ". Read it there with webmail or a mail program (and delete it "
                   "there when done), or raise max_message_size for this account in " + ctx.config->file.string() +
                   " and reload postbridge to fetch it.\n\nYou get this notice once per message.\n");
}

// The duplicate check is shared by all multidrop accounts (one person may be reached through two
// domains): entries go when the longest window of any account has passed.
void prune_duplicate_checks(Context& ctx) {
  Duration longest{};
  for (const auto& acc : ctx.config->accounts)
    if (acc.multidrop) longest = std::max(longest, acc.multidrop->duplicate_window);
  ctx.store.ledger().prune_duplicates(Context::now() - std::chrono::duration_cast<std::chrono::seconds>(longest).count());
}

// Fills `out` as it goes: when the session throws, the caller still knows what it achieved.
// fresh_token: an OAuth account asks the provider for a new access token first.
asio::awaitable<void> run_session(Context& ctx, Deliverer& deliverer, const config::Account& a, PollOutcome& out,
                                  bool fresh_token) {
  pop3::ClientOptions options = pop3_options(a);
  if (a.oauth2) {
    options.oauth_mechanism = config::oauth_mechanism(a.auth);
    OAuthLogin who = oauth_login_of(*ctx.config, a);
    options.bearer_token =
        co_await oauth_tokens(ctx).access_token(who, oauth_client_config(*a.oauth2, who.login_name), fresh_token);
  }
  net::TlsClientOptions tls{a.tls_verify, a.ca_file, a.host};
  auto transport = co_await ctx.dialer(a.host, a.port, a.tls == config::TlsMode::implicit, tls, a.timeout);
  pop3::Client client(*transport, options);
  co_await client.open();
  note_handshake(ctx, "account " + a.name, a.host, *transport);
  log::debug("account " + a.name + ": logged in to " + transport->peer() + " (" + client.login_method() +
            (transport->is_tls() ? ", " + transport->tls_description() : ", no TLS") + ")");

  out.min_interval_s = client.capabilities().login_delay_s.value_or(0);
  auto uidls = co_await client.uidl();
  auto sizes = co_await client.list();
  if (!uidls && a.keep)
    throw pop3::Pop3Error(pop3::FailureKind::unsupported,
                          transport->peer() + " does not support UIDL, so postbridge cannot tell which messages it already "
                                              "fetched: keep = true is impossible with this server. Set keep = false");
  Listing listing;
  std::map<std::uint32_t, std::string> uid_by_listed_number;
  if (uidls) {
    for (const auto& e : *uidls) {
      if (listing.number_of.emplace(e.uid, e.number).second) listing.uids.insert(e.uid);
      uid_by_listed_number.emplace(e.number, e.uid);
    }
  }
  out.on_server = static_cast<int>(sizes.size());

  // Which messages are new? Without UIDL every listed message is new (see below).
  auto known = ctx.store.ledger().known_uidls(a.name);
  std::vector<std::uint32_t> to_fetch;
  std::map<std::uint32_t, std::string> uid_of;
  std::map<std::uint32_t, std::uint64_t> size_of;
  for (const auto& e : sizes) {
    std::string uid;
    if (uidls) {
      auto it = uid_by_listed_number.find(e.number);
      if (it == uid_by_listed_number.end()) continue;  // listed without a UIDL: cannot track it safely
      uid = it->second;
      if (listing.number_of[uid] != e.number) continue;  // duplicate UIDL from a broken server
    } else {
      uid = "nouidl:" + std::to_string(Context::now()) + ":" + std::to_string(e.number) + ":" + std::to_string(ctx.rng());
    }
    if (known.contains(uid)) continue;
    if (e.size > a.max_message_size.bytes) {
      if (uidls) handle_too_large(ctx, a, uid, e.number, e.size);
      ++out.too_large;
      continue;
    }
    to_fetch.push_back(e.number);
    uid_of[e.number] = uid;
    size_of[e.number] = e.size;
  }

  SpoolingSink sink(ctx, deliverer, a, a.host, transport->is_tls(), uid_of, std::move(size_of));
  std::exception_ptr fetch_error;
  try {
    co_await client.retrieve(to_fetch, sink);
  } catch (...) {
    fetch_error = std::current_exception();
  }
  // Messages received completely before a failure are committed too: they are whole.
  sink.flush();
  out.fetched = sink.stored;
  out.bytes = sink.bytes;
  if (std::string odd = describe_odd_bytes(client.stats()); !odd.empty())
    log::notice("account " + a.name + ": the server sent " + odd);
  if (fetch_error) std::rethrow_exception(fetch_error);  // no QUIT: nothing is deleted

  // Also wait for this mailbox's earlier messages that are due now (e.g. interrupted by a crash and
  // retried at start-up): delivered in this session, they are deleted now, not one poll later.
  std::vector<queue::MessageId> waiting = sink.ids;
  for (auto id : ctx.store.queue().due_fetched(a.name, Context::now()))
    if (std::find(waiting.begin(), waiting.end(), id) == waiting.end()) waiting.push_back(id);
  co_await wait_for_delivery(ctx, deliverer, waiting, a.timeout);
  for (auto id : waiting) deliverer.forget(id);

  // DELE only what the store says is done. Without UIDL, a stored message is durably ours, which
  // the no-loss rule accepts; deleting it now is the only way to never fetch it twice.
  std::vector<std::string> done_uids = uidls ? ctx.store.ledger().uidls_to_delete(a.name, a.keep, a.keep_days, Context::now()) : sink.uids;
  std::vector<std::uint32_t> numbers;
  std::vector<std::string> gone;
  std::map<std::uint32_t, std::string> uid_by_number;
  for (const auto& uid : done_uids) {
    if (!uidls) {
      for (auto& [n, u] : uid_of)
        if (u == uid) { numbers.push_back(n); uid_by_number[n] = uid; }
      continue;
    }
    auto it = listing.number_of.find(uid);
    if (it == listing.number_of.end()) gone.push_back(uid);  // already removed by someone else
    else { numbers.push_back(it->second); uid_by_number[it->second] = uid; }
  }
  if (!gone.empty()) ctx.store.ledger().mark_deleted(a.name, gone);
  auto accepted = co_await client.dele(numbers);
  if (co_await client.quit()) {
    std::vector<std::string> deleted;
    for (auto n : accepted) deleted.push_back(uid_by_number[n]);
    ctx.store.ledger().mark_deleted(a.name, deleted);
    out.deleted = static_cast<int>(deleted.size());
  }
  if (uidls) ctx.store.ledger().forget_vanished(a.name, listing.uids);
  if (a.multidrop) prune_duplicate_checks(ctx);
  transport->close();
}

// An OAuth login whose access token the server refused (expired early, revoked) gets one more
// session with a token fresh from the provider; a second refusal is a real login failure.
asio::awaitable<void> run_sessions(Context& ctx, Deliverer& deliverer, const config::Account& a, PollOutcome& out) {
  bool retry = false;
  try {
    co_await run_session(ctx, deliverer, a, out, false);
  } catch (const pop3::Pop3Error& e) {
    if (!a.oauth2 || !e.token_rejected()) throw;
    log::info("account " + a.name + ": the server refused the access token (" + e.what() +
              "); getting a new one and trying once more");
    retry = true;
  }
  if (retry) co_await run_session(ctx, deliverer, a, out, true);
}

queue::PollEnd end_of(pop3::FailureKind k) {
  switch (k) {
    case pop3::FailureKind::connection: return queue::PollEnd::connection_lost;
    case pop3::FailureKind::auth: return queue::PollEnd::auth_failed;
    case pop3::FailureKind::in_use: return queue::PollEnd::retry_soon;
    case pop3::FailureKind::login_delay: return queue::PollEnd::login_delay;
    default: return queue::PollEnd::error;
  }
}

constexpr const char* kFetchPaused =
    ": fetching is paused (nothing is deleted at the provider) and resumes by itself once space is freed";

// How a poll that threw ended, and the words for the log and the page: the one place that maps
// what the session, the token source, the network or the store threw onto a PollEnd.
struct PollFailure {
  queue::PollEnd end;
  std::string error;
  bool explained = false;
};

// A refused login, in the server's words and then, when the reply is one we know, in plain ones.
PollFailure pop3_failure(const pop3::Pop3Error& e, const std::string& host) {
  std::optional<words::Explanation> explained;
  if (e.kind() == pop3::FailureKind::auth) explained = words::explain_pop3(e.what(), host);
  if (!explained) return {end_of(e.kind()), e.what()};
  return {end_of(e.kind()), std::string(e.what()) + " — " + words::one_line(*explained), true};
}

PollFailure classify_poll_failure(const std::exception& e, const std::string& host) {
  if (dynamic_cast<const StorageFull*>(&e)) return {queue::PollEnd::disk_full, e.what() + std::string(kFetchPaused)};
  if (auto* pe = dynamic_cast<const pop3::Pop3Error*>(&e)) return pop3_failure(*pe, host);
  if (auto* te = dynamic_cast<const oauth::TokenError*>(&e)) {
    // No login was tried: the token endpoint answered (or not) before the POP3 server was asked.
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

}  // namespace

asio::awaitable<PollOutcome> poll_account(Context& ctx, Deliverer& deliverer, const config::Account& a) {
  PollOutcome out;
  // A full disk: not even a login, so the provider sees no session that fetches nothing.
  if (auto storage = check_storage(ctx); !storage.ok) {
    log_storage_problem(storage, "mailboxes are not fetched");
    out.end = queue::PollEnd::disk_full;
    out.error = storage.words + kFetchPaused;
    co_return out;
  }
  try {
    co_await run_sessions(ctx, deliverer, a, out);
  } catch (const std::exception& e) {
    note_tls_refusal(ctx, "account " + a.name, a.host, e);
    auto failure = classify_poll_failure(e, a.host);
    out.end = failure.end;
    out.error = std::move(failure.error);
    out.explained = failure.explained;
  }
  co_return out;
}

}  // namespace pb::app
