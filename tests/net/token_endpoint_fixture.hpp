// The token endpoint simulated inside a test: a Beast server on 127.0.0.1:<ephemeral> in the
// test's own io_context, one canned answer per connection in order; it records every request.
#pragma once
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "oauth/grant.hpp"
#include "run.hpp"

namespace pb::oauth::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct Canned {
  unsigned status = 200;
  std::string body;
  bool hang = false;  // read the request, then never answer
};

inline Canned reply(unsigned status, std::string body) {
  Canned c;
  c.status = status;
  c.body = std::move(body);
  return c;
}

inline Canned silence() {
  Canned c;
  c.hang = true;
  return c;
}

struct Seen {
  std::string target, body, content_type, host;
};

inline Seen seen_of(const http::request<http::string_body>& req) {
  Seen s;
  s.target = std::string(req.target());
  s.body = req.body();
  s.content_type = std::string(req[http::field::content_type]);
  s.host = std::string(req[http::field::host]);
  return s;
}

inline http::response<http::string_body> response_of(const Canned& c) {
  http::response<http::string_body> res(static_cast<http::status>(c.status), 11);
  res.set(http::field::content_type, "application/json; charset=utf-8");
  res.set(http::field::connection, "close");
  res.body() = c.body;
  res.prepare_payload();
  return res;
}

// A token endpoint on 127.0.0.1:<ephemeral> answering one canned reply per connection, in order.
class FakeEndpoint {
 public:
  explicit FakeEndpoint(std::vector<Canned> replies)
      : acceptor_(ctx_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), replies_(std::move(replies)) {}

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }

  template <class T>
  T run(asio::awaitable<T> work) {
    asio::co_spawn(ctx_, serve(), asio::detached);
    return pb::test::run_until_done(ctx_, std::move(work));
  }

  template <class T>
  TokenError error_of(asio::awaitable<T> work) {
    try {
      run(std::move(work));
    } catch (const TokenError& e) {
      return e;
    }
    FAIL("expected a TokenError");
    throw std::logic_error("unreachable");
  }

  std::vector<Seen> seen;

 private:
  asio::awaitable<void> serve() {
    for (const Canned& canned : replies_) {
      tcp::socket socket = co_await acceptor_.async_accept(asio::use_awaitable);
      beast::flat_buffer buf;
      http::request<http::string_body> req;
      co_await http::async_read(socket, buf, req, asio::use_awaitable);
      seen.push_back(seen_of(req));
      if (canned.hang) {
        asio::steady_timer forever(ctx_, std::chrono::hours(1));
        co_await forever.async_wait(asio::use_awaitable);
      }
      auto res = response_of(canned);
      co_await http::async_write(socket, res, asio::use_awaitable);
      boost::system::error_code ec;
      socket.shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  asio::io_context ctx_;
  tcp::acceptor acceptor_;
  std::vector<Canned> replies_;
};

}  // namespace pb::oauth::test
