// How to reach a provider's POP3 mailbox: the session options of an account, for the fetcher,
// for pop-before-smtp logins and for the connection doctor alike.
#pragma once
#include "config/config.hpp"
#include "pop3/client.hpp"

namespace pb::endpoint {

// POP3 session options for an account (also used for pop-before-smtp logins).
pop3::ClientOptions pop3_options(const config::Account& a);

}  // namespace pb::endpoint
