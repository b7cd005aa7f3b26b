// The IMAP poll: per folder SELECT, UID FETCH of what the ledger does not know (streamed into the
// spool and committed as the POP3 poll does), wait for delivery, and only then act on exactly the
// delivered UIDs: UID MOVE to move_to, or \Deleted + UID EXPUNGE, or \Seen where the server can do
// neither safely. Never a plain EXPUNGE, which would also remove what other programs flagged.
#include "app/imap_fetcher.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "app/certificates.hpp"
#include "app/fetch_common.hpp"
#include "endpoint/imap.hpp"
#include "imap/client.hpp"
#include "net/transport.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace pb::app {
namespace asio = boost::asio;
using endpoint::ImapKeys;

namespace {

std::string uid_words(std::uint32_t uid, const std::string& folder) {
  return "UID " + std::to_string(uid) + " in folder " + folder;
}

// FETCH literals arrive as raw octets; the spooling sink takes lines. A bare LF ends a line as
// CRLF, as the POP3 side stores it; a line without any end is passed on in pieces of at most
// kMaxPending octets, so no message is ever held whole in memory.
class FetchToSpool final : public imap::FetchSink {
 public:
  FetchToSpool(SpoolingSink& sink, const std::string& account, const ImapKeys& keys, const std::string& folder)
      : sink_(sink), account_(account), keys_(keys), folder_(folder) {}

  void begin(std::uint32_t uid, std::uint64_t size) override {
    pending_.clear();
    sink_.begin(keys_.key(uid), uid_words(uid, folder_), folder_ + " UID " + std::to_string(uid), size);
  }
  void data(std::string_view bytes) override {
    while (!bytes.empty()) {
      auto lf = bytes.find('\n');
      pending_.append(bytes.substr(0, lf == std::string_view::npos ? bytes.size() : lf + 1));
      if (lf == std::string_view::npos) {
        if (pending_.size() >= kMaxPending) pass_on();
        return;
      }
      bytes.remove_prefix(lf + 1);
      if (pending_.size() < 2 || pending_[pending_.size() - 2] != '\r') pending_.insert(pending_.size() - 1, "\r");
      pass_on();
    }
  }
  void end(std::uint32_t) override {
    if (!pending_.empty()) {  // a last line without a line end gets one: SMTP needs it
      pending_ += "\r\n";
      pass_on();
    }
    sink_.end();
  }
  void missing(std::uint32_t uid, const std::string& why) override {
    log::warn("account " + account_ + ": " + uid_words(uid, folder_) + " was not fetched: " + why);
  }

 private:
  void pass_on() {
    sink_.line(pending_);
    pending_.clear();
  }
  static constexpr std::size_t kMaxPending = 64 * 1024;
  SpoolingSink& sink_;
  const std::string& account_;
  const ImapKeys& keys_;
  const std::string& folder_;
  std::string pending_;
};

bool has_uidplus(const imap::Capabilities& c) { return c.has("UIDPLUS") || c.has("IMAP4REV2"); }
bool has_move(const imap::Capabilities& c) { return c.has("MOVE") || c.has("IMAP4REV2"); }

// What becomes of delivered messages at this server, in words for the log.
struct Disposal {
  enum Kind { move, expunge, mark_seen } kind;
  std::string why;  // mark_seen only: why the account's wish cannot be done here
};

Disposal disposal_for(const config::Account& a, const imap::Capabilities& caps) {
  if (!a.move_to.empty()) {
    if (has_move(caps)) return {Disposal::move, ""};
    return {Disposal::mark_seen, "the server lacks MOVE (RFC 6851), so delivered mail cannot go to " + a.move_to};
  }
  if (has_uidplus(caps)) return {Disposal::expunge, ""};
  return {Disposal::mark_seen,
          "the server lacks UIDPLUS (RFC 4315), so postbridge cannot remove only its own messages (a plain EXPUNGE "
          "would also remove what other mail programs marked deleted); set move_to to a folder to move them there"};
}

// After delivery: the folder's delivered UIDs (per keep / keep_days) leave the folder, or are
// marked \Seen where the server cannot remove exactly them; the ledger learns it afterwards.
asio::awaitable<void> settle_delivered(Context& ctx, const config::Account& a, imap::Client& client,
                                       const ImapKeys& keys, const std::string& folder,
                                       const std::unordered_set<std::string>& on_server, PollOutcome& out) {
  std::vector<std::uint32_t> uids;
  std::vector<std::string> done, gone;
  for (auto& key : ctx.store.ledger().uidls_to_delete(a.name, a.keep, a.keep_days, Context::now())) {
    if (!keys.in_folder(key)) continue;
    // Renumbered (old UIDVALIDITY) or removed by someone else: nothing left to do at the server.
    if (keys.uid_of(key) == 0 || !on_server.contains(key)) gone.push_back(std::move(key));
    else {
      uids.push_back(keys.uid_of(key));
      done.push_back(std::move(key));
    }
  }
  if (!gone.empty()) ctx.store.ledger().mark_deleted(a.name, gone);
  if (uids.empty()) co_return;
  Disposal d = disposal_for(a, client.capabilities());
  switch (d.kind) {
    case Disposal::move:
      co_await client.move(uids, a.move_to);
      out.deleted += static_cast<int>(uids.size());
      break;
    case Disposal::expunge:
      co_await client.add_flag(uids, imap::Flag::deleted);
      co_await client.expunge(uids);
      out.deleted += static_cast<int>(uids.size());
      break;
    case Disposal::mark_seen:
      co_await client.add_flag(uids, imap::Flag::seen);
      log::notice("account " + a.name + ": " + std::to_string(uids.size()) + " delivered message(s) stay in folder " +
                  folder + ", marked as read: " + d.why);
      break;
  }
  ctx.store.ledger().mark_deleted(a.name, done);  // done at the provider: never fetched again
}

// A folder whose UIDVALIDITY changed numbers its messages anew: each is fetched again, and one
// whose Message-ID, size and content hash match an earlier fetch is recognised, not delivered.
std::function<bool(const queue::NewMessage&)> recogniser(Context& ctx, const config::Account& a, const ImapKeys& keys) {
  return [&ctx, &a, &keys](const queue::NewMessage& m) {
    auto earlier = ctx.store.ledger().find_fetched(
        a.name, [&keys](std::string_view k) { return keys.renumbered(k); }, m.message_id, m.provider_size,
        m.content_digest);
    if (!earlier) return false;
    ctx.store.ledger().rekey(a.name, *earlier, m.uidl);
    log::info("account " + a.name + ": " + (m.message_id.empty() ? "a message" : text::printable(m.message_id, 100)) +
              " was fetched before the server renumbered the folder (same Message-ID, size and content): not "
              "delivered again");
    return true;
  };
}

asio::awaitable<void> fetch_folder(Context& ctx, Deliverer& deliverer, const config::Account& a, imap::Client& client,
                                   bool tls, const std::string& folder, PollOutcome& out) {
  imap::MailboxInfo box = co_await client.select(folder);
  const ImapKeys keys(folder, box.uidvalidity);
  auto listed = co_await client.list_uids();
  out.on_server += static_cast<int>(listed.size());
  auto known = ctx.store.ledger().known_uidls(a.name);
  bool renumbered = std::any_of(known.begin(), known.end(), [&](const std::string& k) { return keys.renumbered(k); });
  std::vector<std::uint32_t> to_fetch;
  std::unordered_set<std::string> on_server;
  for (const auto& e : listed) {
    std::string key = keys.key(e.uid);
    on_server.insert(key);
    if (known.contains(key)) continue;
    if (e.size > a.max_message_size.bytes) {
      handle_too_large(ctx, a, key, uid_words(e.uid, folder), e.size);
      ++out.too_large;
      continue;
    }
    to_fetch.push_back(e.uid);
  }
  if (renumbered && !to_fetch.empty())
    log::notice("account " + a.name + ": folder " + folder + " has a new UIDVALIDITY (" +
                std::to_string(box.uidvalidity) + "): the server numbered its messages anew. Each is fetched once "
                "more and compared with what was delivered before (Message-ID, size and content); those are not "
                "delivered twice");

  SpoolingSink sink(ctx, deliverer, a, a.host, tls ? "IMAPS" : "IMAP");
  sink.identify = true;
  if (renumbered) sink.fetched_before = recogniser(ctx, a, keys);
  FetchToSpool to_spool(sink, a.name, keys, folder);
  std::exception_ptr fetch_error = co_await fetch_and_commit(sink, client.fetch(to_fetch, to_spool));
  out.fetched += sink.stored;
  out.bytes += sink.bytes;
  if (fetch_error) std::rethrow_exception(fetch_error);  // nothing is flagged, moved or expunged

  co_await wait_for_delivery(ctx, deliverer, a, sink.ids);
  co_await settle_delivered(ctx, a, client, keys, folder, on_server, out);
  ctx.store.ledger().forget_vanished(a.name, on_server, [&keys](std::string_view k) { return keys.in_folder(k); });
}

asio::awaitable<void> imap_session(Context& ctx, Deliverer& deliverer, const config::Account& a, PollOutcome& out,
                                   bool fresh_token) {
  imap::ClientOptions options = endpoint::imap_options(a);
  if (a.oauth2) options.bearer_token = co_await access_token(ctx, a, fresh_token);
  auto transport = co_await dial_provider(ctx, a);
  imap::Client client(*transport, options);
  co_await client.open();
  note_handshake(ctx, "account " + a.name, a.host, *transport);
  log_logged_in(a, *transport, client.login_method());
  for (const auto& folder : a.folders) co_await fetch_folder(ctx, deliverer, a, client, transport->is_tls(), folder, out);
  co_await client.logout();
  if (a.multidrop) prune_duplicate_checks(ctx);
  transport->close();
}

}  // namespace

asio::awaitable<void> poll_imap(Context& ctx, Deliverer& deliverer, const config::Account& a, PollOutcome& out) {
  co_await with_token_retry(a, [&](bool fresh) { return imap_session(ctx, deliverer, a, out, fresh); });
}

}  // namespace pb::app
