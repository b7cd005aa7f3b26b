// Route resolution: one place that turns [local] and [[smarthost]] into connection settings and
// retry policies (local: 1 min doubling to 1 h; smarthost messages: 5 min doubling to 4 h).
#include "endpoint/route.hpp"

#include "endpoint/oauth_tokens.hpp"

namespace pb::endpoint {
namespace {

smtp::Security security_of(config::TlsMode m) {
  switch (m) {
    case config::TlsMode::starttls: return smtp::Security::starttls;
    case config::TlsMode::implicit: return smtp::Security::implicit;
    case config::TlsMode::none: return smtp::Security::none;
  }
  return smtp::Security::none;
}

std::string mechanism_of(config::SmarthostAuth a) {
  switch (a) {
    case config::SmarthostAuth::plain: return "PLAIN";
    case config::SmarthostAuth::login: return "LOGIN";
    case config::SmarthostAuth::cram_md5: return "CRAM-MD5";
    default: return "";
  }
}

Route local_route(const config::Config& cfg) {
  const auto& l = cfg.local;
  Route r;
  r.name = kLocalRoute;
  r.description = "the office server " + l.host + ":" + std::to_string(l.port);
  r.host = l.host;
  r.port = l.port;
  r.implicit_tls = l.tls == config::TlsMode::implicit;
  r.tls_verify = l.tls_verify;
  r.ca_file = l.ca_file;
  r.client.helo_name = cfg.service.hostname;
  r.client.lmtp = l.protocol == config::LocalProtocol::lmtp;
  r.client.security = security_of(l.tls);
  r.client.username = l.username;
  r.client.password = l.password.value;
  r.client.allow_plaintext_auth = l.allow_plaintext;
  r.client.timeout = l.timeout;
  r.client.data_timeout = std::max(l.timeout, std::chrono::milliseconds(std::chrono::minutes(10)));
  r.max_connections = l.max_connections;
  r.message_backoff = queue::kLocalDelivery;
  r.route_backoff = queue::kLocalDelivery;
  r.fingerprint = l.host + "|" + std::to_string(l.port) + "|" + l.username + "|" + l.password.value;
  return r;
}

Route smarthost_route(const config::Config& cfg, const config::Smarthost& s) {
  Route r;
  r.name = smarthost_route_name(s.name);
  r.description = "smarthost " + s.name + " (" + s.host + ":" + std::to_string(s.port) + ")";
  r.host = s.host;
  r.port = s.port;
  r.implicit_tls = s.tls == config::TlsMode::implicit;
  r.tls_verify = s.tls_verify;
  r.ca_file = s.ca_file;
  r.client.helo_name = cfg.service.hostname;
  r.client.security = security_of(s.tls);
  bool smtp_auth = s.auth != config::SmarthostAuth::none && s.auth != config::SmarthostAuth::pop_before_smtp;
  r.client.username = smtp_auth ? s.username : "";
  r.client.password = smtp_auth ? s.password.value : "";
  r.client.mechanism = mechanism_of(s.auth);
  r.client.allow_plaintext_auth = s.allow_plaintext;
  r.client.timeout = s.timeout;
  r.client.data_timeout = std::max(s.timeout, std::chrono::milliseconds(std::chrono::minutes(10)));
  r.max_connections = s.max_connections;
  r.message_backoff = {std::chrono::seconds(300), std::chrono::seconds(4 * 3600), 0.2};
  r.route_backoff = {std::chrono::seconds(60), std::chrono::seconds(3600), 0.1};
  if (s.max_message_size) r.max_message_size = s.max_message_size->bytes;
  r.max_queue_time = std::chrono::duration_cast<std::chrono::seconds>(cfg.relay.max_queue_time);
  r.delay_notice_after = std::chrono::duration_cast<std::chrono::seconds>(cfg.relay.delay_notice_after);
  r.rewrite_sender = s.rewrite_sender;
  r.rewrite_from_header = s.rewrite_from_header;
  r.max_per_hour = s.max_per_hour;
  r.max_per_day = s.max_per_day;
  if (s.auth == config::SmarthostAuth::pop_before_smtp) r.pop_account = s.pop_account;
  if (s.oauth2) {
    OAuthLogin who = oauth_login_of(cfg, s);
    r.oauth2 = s.oauth2;
    r.oauth_key = who.key;
    r.oauth_login_name = who.login_name;
    r.client.oauth_mechanism = config::oauth_mechanism(s.auth);
  }
  r.outbound = true;
  r.fingerprint = s.host + "|" + std::to_string(s.port) + "|" + config::to_string(s.tls) + "|" + s.username + "|" +
                  s.password.value + "|" + config::to_string(s.auth) + "|" + s.pop_account + "|" + oauth_fingerprint(s.oauth2);
  return r;
}

}  // namespace

std::optional<Route> resolve_route(const config::Config& cfg, const std::string& name) {
  const auto id = queue::RouteId::parse(name);
  if (!id) return std::nullopt;
  if (id->is_local()) return local_route(cfg);
  const auto* s = cfg.find_smarthost(id->name());
  if (!s) return std::nullopt;
  return smarthost_route(cfg, *s);
}

}  // namespace pb::endpoint
