// One poll of one provider mailbox: log in, learn UIDLs (IMAP: UIDs) and sizes, stream each new
// message into the spool (fsync + committed row before anything else), let the deliverer hand it to
// the office server, and only then DELE it at the provider (IMAP: expunge or move; or keep it).
#pragma once
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>

#include "app/context.hpp"
#include "app/deliverer.hpp"
#include "pop3/client.hpp"
#include "queue/backoff.hpp"

namespace pb::app {

struct PollOutcome {
  queue::PollEnd end = queue::PollEnd::ok;
  std::string error;  // plain words for the log and the page
  bool explained = false;  // error carries what the provider's refusal means and what to change
  // Counted as the session goes, so a session that breaks still reports what it achieved:
  // fetched = messages committed to the store, deleted = DELEs the provider confirmed (QUIT), or
  // for IMAP messages expunged or moved out of their folder.
  int fetched = 0, deleted = 0, too_large = 0, on_server = 0;
  std::uint64_t bytes = 0;
  int min_interval_s = 0;   // CAPA LOGIN-DELAY n (RFC 2449 6.8): the provider's minimum poll interval

  bool ok() const { return end == queue::PollEnd::ok; }
  bool progress() const { return fetched > 0 || deleted > 0; }
};

boost::asio::awaitable<PollOutcome> poll_account(Context& ctx, Deliverer& deliverer, const config::Account& account);

}  // namespace pb::app
