// The POP3 poll (IMAP accounts go to imap_fetcher.cpp): a linear sequence of steps over pop3::Client, with the no-loss rule enforced at
// two points: a message is committed to the store before the next one is read, and only UIDLs
// the store reports as done are ever given to DELE.
#include "app/fetcher.hpp"

#include <map>
#include <unordered_set>

#include "app/certificates.hpp"
#include "app/fetch_common.hpp"
#include "app/imap_fetcher.hpp"
#include "app/storage.hpp"
#include "endpoint/pop3.hpp"
#include "net/transport.hpp"
#include "pop3/client.hpp"
#include "util/log.hpp"

namespace pb::app {
namespace asio = boost::asio;
using endpoint::pop3_options;

namespace {

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

// Hands RETR replies, line by line, to the spooling sink under their UIDLs.
class RetrToSpool final : public pop3::RetrSink {
 public:
  RetrToSpool(SpoolingSink& sink, std::string account, std::map<std::uint32_t, std::string> uid_of,
              std::map<std::uint32_t, std::uint64_t> size_of)
      : sink_(sink), account_(std::move(account)), uid_of_(std::move(uid_of)), size_of_(std::move(size_of)) {}
  void begin(std::uint32_t number) override {
    sink_.begin(uid_of_.at(number), "message " + std::to_string(number), "POP3 #" + std::to_string(number),
                size_of_[number]);
  }
  void data(std::string_view line) override { sink_.line(line); }
  void end(std::uint32_t) override { sink_.end(); }
  void refused(std::uint32_t number, const std::string& reply) override {
    log::warn("account " + account_ + ": server refused to hand out message " + std::to_string(number) + ": " + reply);
  }

 private:
  SpoolingSink& sink_;
  std::string account_;
  std::map<std::uint32_t, std::string> uid_of_;
  std::map<std::uint32_t, std::uint64_t> size_of_;
};

struct Listing {
  std::map<std::string, std::uint32_t> number_of;  // uid -> message number
  std::unordered_set<std::string> uids;
};

// Fills `out` as it goes: when the session throws, the caller still knows what it achieved.
// fresh_token: an OAuth account asks the provider for a new access token first.
asio::awaitable<void> run_session(Context& ctx, Deliverer& deliverer, const config::Account& a, PollOutcome& out,
                                  bool fresh_token) {
  pop3::ClientOptions options = pop3_options(a);
  if (a.oauth2) {
    options.oauth_mechanism = config::oauth_mechanism(a.auth);
    options.bearer_token = co_await access_token(ctx, a, fresh_token);
  }
  auto transport = co_await dial_provider(ctx, a);
  pop3::Client client(*transport, options);
  co_await client.open();
  note_handshake(ctx, "account " + a.name, a.host, *transport);
  log_logged_in(a, *transport, client.login_method());

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
      if (uidls) handle_too_large(ctx, a, uid, "message " + std::to_string(e.number), e.size);
      ++out.too_large;
      continue;
    }
    to_fetch.push_back(e.number);
    uid_of[e.number] = uid;
    size_of[e.number] = e.size;
  }

  SpoolingSink sink(ctx, deliverer, a, a.host, transport->is_tls() ? "POP3S" : "POP3");
  RetrToSpool retr(sink, a.name, uid_of, std::move(size_of));
  std::exception_ptr fetch_error = co_await fetch_and_commit(sink, client.retrieve(to_fetch, retr));
  out.fetched = sink.stored;
  out.bytes = sink.bytes;
  if (std::string odd = describe_odd_bytes(client.stats()); !odd.empty())
    log::notice("account " + a.name + ": the server sent " + odd);
  if (fetch_error) std::rethrow_exception(fetch_error);  // no QUIT: nothing is deleted

  co_await wait_for_delivery(ctx, deliverer, a, sink.ids);

  // DELE only what the store says is done. Without UIDL, a stored message is durably ours, which
  // the no-loss rule accepts; deleting it now is the only way to never fetch it twice.
  std::vector<std::string> done_uids = uidls ? ctx.store.ledger().uidls_to_delete(a.name, a.keep, a.keep_days, Context::now()) : sink.keys;
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
    if (a.protocol == config::FetchProtocol::imap)
      co_await poll_imap(ctx, deliverer, a, out);
    else
      co_await with_token_retry(a, [&](bool fresh) { return run_session(ctx, deliverer, a, out, fresh); });
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
