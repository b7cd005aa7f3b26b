// Bounces, delay notices and "relayed" notices (RFC 3464 DSNs), each only when the sender's NOTIFY
// asks for it (RFC 3461 4.1). A DSN goes to the envelope sender through route "local"; fetched mail
// and bounces of bounces go to the postmaster; a failed DSN to the postmaster is only logged — so a
// bounce can never loop.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "app/context.hpp"

namespace pb::app {

// Postfix's bounce_size_limit default: a larger message is returned as its headers only, so the
// report stays small enough for every mailbox it may pass.
constexpr std::uint64_t kReturnFullLimit = 50'000;

struct BounceRecipient {
  std::string address;
  std::string orcpt;
  std::string status;      // RFC 3463, e.g. "5.1.1"
  std::string diagnostic;  // the server's reply, or our own words (no reply code: shown as a reason)
};

// relayed: handed on to a next hop that does not offer DSN, for a recipient whose NOTIFY named
// SUCCESS (RFC 3461 5.2.2): the sender learns that no delivery confirmation will follow.
enum class NoticeKind { failed, delayed, relayed };

// RFC 3461 4.1: whether a recipient's NOTIFY (as the listener stored it) asks for this kind of
// notice. NEVER asks for none, a list for the kinds it names; without NOTIFY the MTA decides:
// failures and delays, as always, but no success notice.
bool notify_requests(std::string_view notify, NoticeKind kind);

// Queues the DSN durably, for those of `rcpts` whose NOTIFY asks for this kind (the postmaster's
// notices are always sent). A failure DSN returns the whole message if the sender asked with
// RET=FULL and it is at most kReturnFullLimit bytes, otherwise its header section (RFC 3461 4.3).
// Returns the queue id of the DSN, or 0 if none was due (NOTIFY, a success notice for a message
// without sender, or a bounce of a bounce to the postmaster, which is only logged). remote_host
// names the server whose replies the diagnostics quote (Remote-MTA); empty when postbridge decided
// by itself and no server said anything.
queue::MessageId queue_bounce(Context& ctx, const queue::QueuedMessage& msg, const std::vector<BounceRecipient>& rcpts,
                              NoticeKind kind, const std::string& remote_host, const std::string& explanation);

// `postbridge queue bounce ID`: fails the message's pending recipients ("bounced by the
// administrator") and sends the DSN. Returns false if nothing was pending.
bool bounce_now(const config::Config& cfg, queue::Store& store, const queue::QueuedMessage& msg);

// The header block of a spooled message (up to the empty line, bounded), CRLF lines.
std::string read_header_block(const std::filesystem::path& spool_dir, const std::string& spool_name,
                              std::size_t max_bytes = 256 * 1024);

}  // namespace pb::app
