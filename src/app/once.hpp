// `postbridge --once`: deliver what is due, poll every enabled account once, wait until the
// routes are idle, and say what is left. The service stops with the exit code this returns.
#pragma once
#include <boost/asio/awaitable.hpp>

#include "app/context.hpp"
#include "app/deliverers.hpp"
#include "app/scheduler.hpp"

namespace pb::app {

// kExitOk, or kExitPending when a poll failed or mail is still queued (each reason logged).
// When the service is stopped meanwhile, the value does not matter: the stop decided it.
boost::asio::awaitable<int> run_once(Context& ctx, Scheduler& scheduler, Deliverers& deliverers);

}  // namespace pb::app
