// Bounces and delay notices (RFC 3464 DSNs) for messages that cannot be delivered. A DSN goes to
// the envelope sender through route "local"; fetched mail and bounces of bounces go to the
// postmaster; a failed DSN to the postmaster is only logged — so a bounce can never loop.
#pragma once
#include <string>
#include <vector>

#include "app/context.hpp"

namespace pb::app {

struct BounceRecipient {
  std::string address;
  std::string orcpt;
  std::string status;      // RFC 3463, e.g. "5.1.1"
  std::string diagnostic;  // the server's reply, or our own words
};

enum class NoticeKind { failed, delayed };

// Queues the DSN durably. Returns the queue id of the DSN, or 0 if none was due (NOTIFY=NEVER,
// or a bounce of a bounce to the postmaster, which is only logged).
queue::MessageId queue_bounce(Context& ctx, const queue::QueuedMessage& msg, const std::vector<BounceRecipient>& rcpts,
                              NoticeKind kind, const std::string& remote_host, const std::string& explanation);

// `postbridge queue bounce ID`: fails the message's pending recipients ("bounced by the
// administrator") and sends the DSN. Returns false if nothing was pending.
bool bounce_now(const config::Config& cfg, queue::Store& store, const queue::QueuedMessage& msg);

// The header block of a spooled message (up to the empty line, bounded), CRLF lines.
std::string read_header_block(const std::filesystem::path& spool_dir, const std::string& spool_name,
                              std::size_t max_bytes = 256 * 1024);

}  // namespace pb::app
