// Multidrop: a local recipient the office server refuses ("550 unknown user") is not
// bounced but handed to the account's default_recipient as a copy that says why, so a typo in an
// address or a new colleague without a mailbox never costs a message.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "app/context.hpp"

namespace pb::app {

struct RefusedRecipient {
  std::string address;
  std::string reply;  // the office server's words
};

// Writes the copy durably (note header fields + the original spool file, fsync'd) and returns
// the message to enqueue in the same transaction as the original's "redirected" results.
// Throws on spool trouble (the caller then records an ordinary failure).
queue::NewMessage redirect_copy(Context& ctx, const queue::QueuedMessage& msg, const std::vector<RefusedRecipient>& refused,
                                const std::string& default_recipient);

}  // namespace pb::app
