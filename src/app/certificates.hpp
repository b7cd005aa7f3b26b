// The provider certificates the fetcher and the deliverer meet, noted in Context::certificates
// for the alerter: the expiry date after each handshake, and why one stopped verifying.
#pragma once
#include <exception>
#include <string>

#include "app/context.hpp"

namespace pb::app {

// After a session's greeting (and STARTTLS): keeps the certificate's end, clears a refusal.
void note_handshake(Context& ctx, const std::string& object, const std::string& host, const net::Transport& t);
// After a failed session: a refused certificate is kept with its words; other failures say nothing
// about the certificate and change nothing.
void note_tls_refusal(Context& ctx, const std::string& object, const std::string& host, const std::exception& e);

}  // namespace pb::app
