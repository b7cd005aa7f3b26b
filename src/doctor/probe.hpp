// The connection doctor's probes: DNS, TCP to every address, TLS, greeting and capabilities,
// login — each timed, with the production POP3/SMTP clients, so what works here works in the
// service. Nothing is fetched or deleted; a message is sent only with Options::send_to.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "doctor/report.hpp"

namespace pb::endpoint {
class OAuthTokens;
}

namespace pb::doctor {

struct Options {
  bool ports = false;       // also try the usual ports (465/587/25, 995/110) without logging in
  std::string send_to;      // smarthost or local: send one test message to this address
  std::string from;         // its envelope sender; empty: one the smarthost's senders allow
  std::chrono::milliseconds max_step{std::chrono::seconds(20)};  // per connect and per protocol step
  // The running service's access tokens (a test from the status page): a refresh under way for a
  // session is awaited, not repeated. Null: the test reads the token files on its own.
  std::shared_ptr<endpoint::OAuthTokens> oauth_tokens;
};

// Network trouble never throws: it is what the report is about.
boost::asio::awaitable<Report> test_account(const config::Config& cfg, const config::Account& a, Options opt);
boost::asio::awaitable<Report> test_smarthost(const config::Config& cfg, const config::Smarthost& s, Options opt);
boost::asio::awaitable<Report> test_local(const config::Config& cfg, Options opt);

// The envelope sender of a --send-to test through smarthost s: rewrite_sender, an exact sender
// pattern, postmaster@ a pattern's domain, the login if it is an address, [service] postmaster.
std::string test_sender(const config::Config& cfg, const config::Smarthost& s);

}  // namespace pb::doctor
