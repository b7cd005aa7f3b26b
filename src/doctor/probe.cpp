// The doctor's probes: one test of an account, a smarthost or [local] put together from the
// steps of doctor/session.hpp. The session steps run the production clients over a Tap transport
// that only notes when each protocol phase began (never what was sent), so timings and the failing
// step come from the real dialogue, secrets included in nothing.
#include "doctor/probe.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>

#include "doctor/session.hpp"
#include "endpoint/imap.hpp"
#include "endpoint/oauth_tokens.hpp"
#include "endpoint/pop3.hpp"
#include "endpoint/route.hpp"
#include "oauth/grant.hpp"
#include "util/text.hpp"

namespace pb::doctor {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// --- OAuth: the access token comes before any connection --------------------------------------

std::string host_of_url(const std::string& url) {
  try {
    return oauth::parse_endpoint_url(url).host;
  } catch (const std::exception&) {
    return url;
  }
}

// Without a token the session still shows DNS, TCP, TLS and the capabilities, and logs in to nothing.
void drop_login(Target& t) {
  t.pop3.login = false;
  t.imap.login = false;
  t.smtp.username.clear();
  t.smtp.oauth_mechanism.clear();
  t.has_login = false;
}

asio::awaitable<void> oauth_step(Target& t, const Options& opt, Report& r) {
  Step s = make_step("oauth", "OAuth access token from " + host_of_url(t.oauth2->token_url));
  auto t0 = Clock::now();
  try {
    auto tokens = opt.oauth_tokens ? opt.oauth_tokens : std::make_shared<endpoint::OAuthTokens>(t.token_dir);
    std::string token = co_await tokens->access_token(t.oauth_who, endpoint::oauth_client_config(*t.oauth2, t.oauth_who.login_name), false);
    t.pop3.bearer_token = token;
    t.imap.bearer_token = token;
    t.smtp.bearer_token = token;
    s.details.push_back("a token for " + t.username + " (" + text::to_upper(t.pop3.oauth_mechanism.empty() ? t.smtp.oauth_mechanism : t.pop3.oauth_mechanism) + ")");
  } catch (const std::exception& e) {
    s.verdict = Verdict::failed;
    s.problem = e.what();
    drop_login(t);
    r.advise("the login needs a working OAuth token: postbridge oauth login " + t.oauth_who.login_name);
  }
  s.took = since(t0);
  r.add(std::move(s));
}

// --- the whole test ---------------------------------------------------------------------------

asio::awaitable<Report> run(Target t, Options opt) {
  Report r;
  r.kind = t.kind;
  r.name = t.name;
  r.endpoint = endpoint_of(t);
  auto endpoints = co_await resolve(t, r);
  if (!endpoints.empty()) {
    if (t.oauth2) co_await oauth_step(t, opt, r);
    if (t.pop_before) co_await pop_before_smtp(t, r);
    auto ep = co_await connect_each(t, endpoints, r);
    if (ep) {
      try {
        if (t.protocol == Protocol::pop3) co_await pop3_session(t, *ep, r);
        else if (t.protocol == Protocol::imap) co_await imap_session(t, *ep, r);
        else co_await smtp_session(t, *ep, opt, r);
      } catch (const std::exception& e) {
        // A connection that broke between the TCP step and the protocol (rare: the server closed).
        Step s = make_step("session", "session", Verdict::failed);
        s.problem = e.what();
        r.add(std::move(s));
      }
    }
  }
  if (opt.ports && t.protocol != Protocol::lmtp && t.kind != "local") co_await scan_ports(t, r);
  co_return r;
}

milliseconds capped(Duration d, const Options& opt) {
  return std::min<milliseconds>(std::chrono::duration_cast<milliseconds>(d), opt.max_step);
}

}  // namespace

std::string test_sender(const config::Config& cfg, const config::Smarthost& s) {
  if (!s.rewrite_sender.empty()) return s.rewrite_sender;
  for (const auto& p : s.senders)
    if (!p.any_local()) return p.str();
  for (const auto& p : s.senders) return "postmaster@" + p.domain;
  if (s.username.find('@') != std::string::npos) return s.username;
  return cfg.service.postmaster;
}

asio::awaitable<Report> test_account(const config::Config& cfg, const config::Account& a, Options opt) {
  Target t;
  t.kind = "account";
  t.name = a.name;
  t.protocol = a.protocol == config::FetchProtocol::imap ? Protocol::imap : Protocol::pop3;
  t.host = a.host;
  t.port = a.port;
  t.tls = a.tls;
  t.verify = a.tls_verify;
  t.ca_file = a.ca_file;
  t.timeout = capped(a.timeout, opt);
  t.pop3 = endpoint::pop3_options(a);
  t.pop3.timeout = t.timeout;
  t.imap = endpoint::imap_options(a);
  t.imap.timeout = t.timeout;
  t.has_login = true;
  t.username = a.username;
  t.account = &a;
  if (a.oauth2) {
    t.oauth2 = a.oauth2;
    t.oauth_who = endpoint::oauth_login_of(cfg, a);
    t.token_dir = endpoint::oauth_token_dir(cfg);
    t.pop3.oauth_mechanism = config::oauth_mechanism(a.auth);
  }
  co_return co_await run(std::move(t), std::move(opt));
}

namespace {

Target smtp_target(const endpoint::Route& route, const Options& opt) {
  Target t;
  t.protocol = route.client.lmtp ? Protocol::lmtp : Protocol::smtp;
  t.host = route.host;
  t.port = route.port;
  t.tls = route.implicit_tls ? config::TlsMode::implicit
          : route.client.security == smtp::Security::starttls ? config::TlsMode::starttls : config::TlsMode::none;
  t.verify = route.tls_verify;
  t.ca_file = route.ca_file;
  t.smtp = route.client;
  t.timeout = capped(route.client.timeout, opt);
  t.smtp.timeout = t.timeout;
  t.smtp.data_timeout = std::max(t.timeout, milliseconds(std::chrono::seconds(60)));
  t.has_login = !route.client.username.empty();
  t.username = route.client.username;
  return t;
}

}  // namespace

asio::awaitable<Report> test_smarthost(const config::Config& cfg, const config::Smarthost& s, Options opt) {
  auto route = endpoint::resolve_route(cfg, endpoint::smarthost_route_name(s.name));
  Target t = smtp_target(*route, opt);
  t.kind = "smarthost";
  t.name = s.name;
  t.pop_before = s.pop_account.empty() ? nullptr : cfg.find_account(s.pop_account);
  t.max_message_size = s.max_message_size;
  t.sender = test_sender(cfg, s);
  if (s.oauth2) {
    t.oauth2 = s.oauth2;
    t.oauth_who = endpoint::oauth_login_of(cfg, s);
    t.token_dir = endpoint::oauth_token_dir(cfg);
  }
  co_return co_await run(std::move(t), std::move(opt));
}

asio::awaitable<Report> test_local(const config::Config& cfg, Options opt) {
  auto route = endpoint::resolve_route(cfg, endpoint::kLocalRoute);
  Target t = smtp_target(*route, opt);
  t.kind = "local";
  t.name = "local";
  t.sender = cfg.service.postmaster;
  co_return co_await run(std::move(t), std::move(opt));
}

}  // namespace pb::doctor
