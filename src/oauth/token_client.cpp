// The token endpoint over HTTP/1.1 (one request per connection, "Connection: close"). The whole
// request runs against one timer (awaitable_operators ||), so no step can hang, DNS included.
#include "oauth/token_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <ctime>

#include "net/tls.hpp"
#include "oauth/jwt.hpp"
#include "util/text.hpp"

namespace pb::oauth {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr std::uint64_t kMaxBody = 1024 * 1024;

http::request<http::string_body> make_request(const HttpPost& p) {
  const EndpointUrl& url = p.url;
  http::request<http::string_body> req(http::verb::post, url.target, 11);
  bool v6 = url.host.find(':') != std::string::npos;
  std::string host = v6 ? "[" + url.host + "]" : url.host;
  if (url.port != (url.tls ? 443 : 80)) host += ":" + std::to_string(url.port);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "postbridge/" PB_VERSION);
  req.set(http::field::accept, "application/json");
  req.set(http::field::content_type, p.content_type);
  if (!p.bearer.empty()) req.set(http::field::authorization, "Bearer " + p.bearer);
  req.set(http::field::connection, "close");
  req.body() = p.body;
  req.prepare_payload();
  return req;
}

HttpAnswer answer_of(http::response_parser<http::string_body>& parser) {
  HttpAnswer a;
  a.status = parser.get().result_int();
  a.body = std::move(parser.get().body());
  return a;
}

std::string where(const EndpointUrl& url) { return url.host + ":" + std::to_string(url.port); }

template <class Stream>
asio::awaitable<HttpAnswer> exchange(Stream& stream, const HttpPost& p) {
  auto req = make_request(p);
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  co_await http::async_read(stream, buf, parser, asio::use_awaitable);
  co_return answer_of(parser);
}

net::TlsClientOptions tls_options(const EndpointUrl& url, const std::string& ca_file) {
  net::TlsClientOptions o;
  o.verify = true;  // never off for tokens
  o.ca_file = ca_file;
  o.server_name = url.host;
  return o;
}

asio::awaitable<HttpAnswer> request(const HttpPost& p) {
  const EndpointUrl& url = p.url;
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  beast::tcp_stream tcp_stream(ex);
  try {
    auto found = co_await resolver.async_resolve(url.host, std::to_string(url.port), asio::use_awaitable);
    co_await tcp_stream.async_connect(found, asio::use_awaitable);
  } catch (const boost::system::system_error& e) {
    throw TokenError(TokenFailure::network, "cannot reach " + p.what + " " + where(url) + ": " + e.code().message());
  }
  tcp_stream.socket().set_option(tcp::no_delay(true));
  if (!url.tls) {
    try {
      co_return co_await exchange(tcp_stream, p);
    } catch (const boost::system::system_error& e) {
      throw TokenError(TokenFailure::network, p.what + " " + where(url) + " failed to answer: " + e.code().message());
    }
  }
  net::TlsClientOptions opt = tls_options(url, p.ca_file);
  std::shared_ptr<asio::ssl::context> ctx;
  try {
    ctx = net::client_context(opt);
  } catch (const net::NetFailure& e) {
    throw TokenError(TokenFailure::client, e.what());
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), *ctx);
  net::prepare_client_ssl(stream.native_handle(), opt);
  try {
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  } catch (const boost::system::system_error& e) {
    throw TokenError(TokenFailure::network, net::describe_tls_failure(stream.native_handle(), opt, e.code()));
  }
  try {
    co_return co_await exchange(stream, p);
  } catch (const boost::system::system_error& e) {
    throw TokenError(TokenFailure::network, p.what + " " + where(url) + " failed to answer: " + e.code().message());
  }
}

std::string seconds_text(std::chrono::milliseconds t) {
  auto ms = t.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::vector<std::pair<std::string, std::string>> client_fields(const ClientConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("client_id", cfg.client_id);
  // RFC 6749 2.3.1 allows the secret in the body; Microsoft and Google both accept it there.
  if (!cfg.client_secret.empty()) f.emplace_back("client_secret", cfg.client_secret);
  return f;
}

std::string refresh_body(const ClientConfig& cfg, const std::string& refresh_token) {
  auto f = client_fields(cfg);
  f.emplace_back("grant_type", "refresh_token");
  f.emplace_back("refresh_token", refresh_token);
  // Microsoft wants the scopes again; not the OpenID ones (grant.hpp says why).
  if (auto scopes = refresh_scopes(cfg.scopes); !scopes.empty()) f.emplace_back("scope", scopes);
  return form_body(f);
}

std::string device_start_body(const ClientConfig& cfg) {
  auto f = client_fields(cfg);
  f.emplace_back("scope", cfg.scopes);
  return form_body(f);
}

std::string device_poll_body(const ClientConfig& cfg, const DeviceAuthorization& auth) {
  auto f = client_fields(cfg);
  f.emplace_back("grant_type", "urn:ietf:params:oauth:grant-type:device_code");  // RFC 8628 3.4
  f.emplace_back("device_code", auth.device_code);
  return form_body(f);
}

std::string code_body(const ClientConfig& cfg, const std::string& code, const std::string& verifier,
                      const std::string& redirect_uri) {
  auto f = client_fields(cfg);
  f.emplace_back("grant_type", "authorization_code");
  f.emplace_back("code", code);
  f.emplace_back("code_verifier", verifier);
  f.emplace_back("redirect_uri", redirect_uri);
  return form_body(f);
}

TokenError device_code_expired(const ClientConfig& cfg) {
  return TokenError(TokenFailure::login_needed,
                    "the login code expired before the login was completed; run postbridge oauth login " +
                        (cfg.login_name.empty() ? std::string("NAME") : cfg.login_name) + " again",
                    "expired_token");
}

asio::awaitable<void> timer_sleep(std::chrono::milliseconds t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  co_await timer.async_wait(asio::use_awaitable);
}

// The request with its failure as a value: awaitable_operators' || waits for one *success*
// (Boost 1.81), so a request that throws would otherwise wait out the deadline and be reported
// as a timeout.
struct Attempt {
  std::exception_ptr error;
  HttpAnswer answer;
};

asio::awaitable<Attempt> attempt(const HttpPost& p) {
  Attempt a;
  try {
    a.answer = co_await request(p);
  } catch (...) {
    a.error = std::current_exception();
  }
  co_return a;
}

}  // namespace

asio::awaitable<HttpAnswer> post(HttpPost p) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(co_await asio::this_coro::executor, p.timeout);
  auto result = co_await (attempt(p) || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (result.index() == 1)
    throw TokenError(TokenFailure::network,
                     p.what + " " + where(p.url) + " did not answer within " + seconds_text(p.timeout));
  Attempt done = std::get<0>(std::move(result));
  if (done.error) std::rethrow_exception(done.error);
  co_return std::move(done.answer);
}

asio::awaitable<HttpAnswer> post_form(std::string url, std::string body, std::string ca_file,
                                      std::chrono::milliseconds timeout) {
  HttpPost p{parse_endpoint_url(url), "the token endpoint", "application/x-www-form-urlencoded", std::move(body), {},
             std::move(ca_file), timeout};
  co_return co_await post(std::move(p));
}

asio::awaitable<TokenResponse> refresh_access_token(ClientConfig cfg, std::string refresh_token) {
  HttpAnswer a = co_await post_form(cfg.token_url, refresh_body(cfg, refresh_token), cfg.ca_file, cfg.timeout);
  co_return parse_token_response(a.status, a.body, Grant::refresh_token, cfg.login_name);
}

asio::awaitable<TokenResponse> request_app_token(ClientConfig cfg) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::string body;
  try {
    body = form_body(app_token_fields(cfg.app, cfg.client_id, cfg.client_secret, cfg.token_url, cfg.scopes, now));
  } catch (const jwt::KeyError& e) {  // the config check read the same key: only a changed file gets here
    throw TokenError(TokenFailure::client, std::string("the application's private key ") + e.what());
  }
  HttpAnswer a = co_await post_form(cfg.token_url, std::move(body), cfg.ca_file, cfg.timeout);
  co_return parse_token_response(a.status, a.body, Grant::app_only, cfg.login_name);
}

asio::awaitable<DeviceAuthorization> start_device_authorization(ClientConfig cfg) {
  if (cfg.device_authorization_url.empty())
    throw TokenError(TokenFailure::client, "this provider offers no device login; use the browser login instead");
  HttpAnswer a = co_await post_form(cfg.device_authorization_url, device_start_body(cfg), cfg.ca_file, cfg.timeout);
  co_return parse_device_authorization(a.status, a.body, cfg.login_name);
}

asio::awaitable<TokenResponse> poll_device_token(ClientConfig cfg, DeviceAuthorization auth, Sleeper sleep) {
  if (!sleep) sleep = timer_sleep;
  std::chrono::milliseconds interval = auth.interval;
  std::chrono::milliseconds waited{0};
  for (;;) {
    if (waited >= auth.expires_in) throw device_code_expired(cfg);
    co_await sleep(interval);  // RFC 8628 3.5: wait `interval` before each request
    waited += interval;
    HttpAnswer a = co_await post_form(cfg.token_url, device_poll_body(cfg, auth), cfg.ca_file, cfg.timeout);
    DevicePoll p = parse_device_poll(a.status, a.body, cfg.login_name);
    if (p.state == DevicePoll::State::done) co_return std::move(p.token);
    if (p.state == DevicePoll::State::slow_down) interval += std::chrono::seconds(5);  // RFC 8628 3.5
  }
}

asio::awaitable<TokenResponse> exchange_authorization_code(ClientConfig cfg, std::string code,
                                                           std::string code_verifier, std::string redirect_uri) {
  HttpAnswer a =
      co_await post_form(cfg.token_url, code_body(cfg, code, code_verifier, redirect_uri), cfg.ca_file, cfg.timeout);
  co_return parse_token_response(a.status, a.body, Grant::authorization_code, cfg.login_name);
}

}  // namespace pb::oauth
