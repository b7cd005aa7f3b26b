// Notices from postbridge to the postmaster (e.g. "a message is too large to fetch"): ordinary
// queued messages on route "local" with the null sender, so they can never bounce back in a loop.
#pragma once
#include <string>

#include "app/context.hpp"

namespace pb::app {

// Builds an RFC 5322 message (Auto-Submitted: auto-generated, RFC 3834 5) and queues it durably.
void queue_notice(Context& ctx, const std::string& subject, const std::string& body);

}  // namespace pb::app
