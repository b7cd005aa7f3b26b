// Delivery routes: "local" (the office server) and "smarthost:NAME" (a provider's relay). A Route
// is resolved from the current config whenever a session starts, so a reload takes effect at the
// next connection; everything route-specific (TLS, AUTH, backoff, limits, rewriting) lives here.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "queue/backoff.hpp"
#include "queue/route_id.hpp"
#include "smtp/client.hpp"

namespace pb::endpoint {

struct Route {
  std::string name;          // "local", "smarthost:strato"
  std::string description;   // "the office server 127.0.0.1:25", "smarthost strato (smtp.example.net:465)"
  std::string host;
  std::uint16_t port = 25;
  bool implicit_tls = false;
  bool tls_verify = true;
  std::string ca_file;
  smtp::ClientOptions client;
  int max_connections = 2;
  queue::BackoffPolicy message_backoff;  // one message's retries
  queue::BackoffPolicy route_backoff;    // the whole route paused (server down, login rejected)
  std::optional<std::uint64_t> max_message_size;  // configured limit (the server's SIZE applies too)
  std::chrono::seconds max_queue_time{0};         // 0: never expires (local)
  std::chrono::seconds delay_notice_after{0};     // 0: no delay DSN
  std::string rewrite_sender;
  bool rewrite_from_header = false;
  int max_per_hour = 0, max_per_day = 0;
  std::string pop_account;   // pop-before-smtp: log in here first
  // OAuth (auth = "xoauth2"/"oauthbearer"): where the access token comes from; client.bearer_token
  // is filled per session (endpoint/oauth_tokens).
  std::optional<config::OAuth2> oauth2;
  std::string oauth_key, oauth_login_name;
  bool outbound = false;     // smarthost: events are "send", failures bounce to the sender
  std::string fingerprint;   // credentials + endpoint; a change resumes a paused route
};

inline constexpr const char* kLocalRoute = "local";
inline std::string smarthost_route_name(const std::string& name) { return queue::RouteId::smarthost(name).to_string(); }

// nullopt when the route no longer exists in cfg (a smarthost removed by a reload).
std::optional<Route> resolve_route(const config::Config& cfg, const std::string& name);

}  // namespace pb::endpoint
