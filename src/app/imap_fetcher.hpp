// One poll of an IMAP account: each folder in turn is selected, its new UIDs fetched into the
// spool and delivered, and only then are exactly those UIDs expunged or moved at the provider.
#pragma once
#include <boost/asio/awaitable.hpp>

#include "app/context.hpp"
#include "app/deliverer.hpp"
#include "app/fetcher.hpp"

namespace pb::app {

// Fills `out` as it goes (summed over the folders); throws like the POP3 session does.
boost::asio::awaitable<void> poll_imap(Context& ctx, Deliverer& deliverer, const config::Account& a, PollOutcome& out);

}  // namespace pb::app
