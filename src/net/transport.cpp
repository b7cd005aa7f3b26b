// TCP and TLS transports on beast::tcp_stream (its expires_after gives every read, write, connect
// and handshake a deadline without signals), plus the buffered CRLF line reader.
#include "net/transport.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <cstring>
#include <optional>

#include "net/tls.hpp"
#include "util/units.hpp"

namespace pb::net {
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using asio::use_awaitable;

namespace {

// The peer went away (closed, reset, cut in the middle of a TLS record): network weather that
// callers retry soon, unlike a refused certificate or handshake.
bool connection_lost(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

class SocketTransport final : public Transport {
 public:
  SocketTransport(beast::tcp_stream stream, TlsClientOptions tls, std::string peer, std::chrono::milliseconds timeout)
      : tcp_(std::move(stream)), tls_opt_(std::move(tls)), peer_(std::move(peer)), timeout_(timeout) {}
  // Server side: start_tls() answers a client's handshake with this context.
  SocketTransport(beast::tcp_stream stream, std::shared_ptr<ssl::context> server_ctx, std::string peer,
                  std::string ip, std::chrono::milliseconds timeout)
      : tcp_(std::move(stream)), ctx_(std::move(server_ctx)), peer_(std::move(peer)), ip_(std::move(ip)),
        timeout_(timeout), server_(true) {}

  const std::string& ip() const { return ip_; }

  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    tcp_.expires_after(timeout_);
    try {
      std::size_t n = tls_ ? co_await tls_->async_read_some(buf, use_awaitable)
                           : co_await tcp_.async_read_some(buf, use_awaitable);
      co_return n;
    } catch (const boost::system::system_error& e) {
      rethrow(e, "waiting for");
    }
  }

  asio::awaitable<void> write_all(asio::const_buffer buf) override {
    tcp_.expires_after(timeout_);
    try {
      if (tls_) co_await asio::async_write(*tls_, buf, use_awaitable);
      else co_await asio::async_write(tcp_, buf, use_awaitable);
    } catch (const boost::system::system_error& e) {
      rethrow(e, "sending to");
    }
  }

  asio::awaitable<void> start_tls() override {
    if (tls_) co_return;
    if (server_) {
      co_await server_handshake();
      co_return;
    }
    auto ctx = client_context(tls_opt_);
    ctx_ = ctx;
    tls_.emplace(tcp_, *ctx);
    prepare_client_ssl(tls_->native_handle(), tls_opt_);
    tcp_.expires_after(timeout_);
    try {
      co_await tls_->async_handshake(ssl::stream_base::client, use_awaitable);
    } catch (const boost::system::system_error& e) {
      failed_peer_ = inspect_peer(tls_->native_handle(), tls_opt_);  // tls_ is gone below
      failed_peer_->failure = classify_handshake_error(tls_->native_handle(), e.code());
      if (e.code() == beast::error::timeout)
        throw NetFailure(NetError::timeout, "timeout during the TLS handshake with " + peer_);
      bool lost = connection_lost(e.code()) && SSL_get_verify_result(tls_->native_handle()) == X509_V_OK;
      std::string why = describe_tls_failure(tls_->native_handle(), tls_opt_, e.code());
      tls_.reset();
      if (lost) throw boost::system::system_error(e.code(), "connection to " + peer_ + " lost during the TLS handshake");
      throw NetFailure(NetError::tls_failed, why);
    }
  }

  bool is_tls() const override { return tls_.has_value(); }
  // Computed on demand: the chain check costs a verification, which only the doctor wants.
  std::optional<TlsPeerInfo> tls_peer() const override {
    if (!tls_ || server_) return failed_peer_;
    return inspect_peer(const_cast<ssl::stream<beast::tcp_stream&>&>(*tls_).native_handle(), tls_opt_);
  }
  std::string tls_description() const override {
    return tls_ ? describe_session(const_cast<ssl::stream<beast::tcp_stream&>&>(*tls_).native_handle()) : std::string();
  }
  void set_timeout(std::chrono::milliseconds t) override { timeout_ = t; }
  void close() override {
    boost::system::error_code ec;
    tcp_.socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_.close();
  }
  std::string peer() const override { return peer_; }

 private:
  asio::awaitable<void> server_handshake() {
    if (!ctx_) throw NetFailure(NetError::tls_failed, "TLS is not configured for this listener");
    tls_.emplace(tcp_, *ctx_);
    tcp_.expires_after(timeout_);
    try {
      co_await tls_->async_handshake(ssl::stream_base::server, use_awaitable);
    } catch (const boost::system::system_error& e) {
      tls_.reset();
      if (e.code() == beast::error::timeout)
        throw NetFailure(NetError::timeout, "timeout during the TLS handshake with " + peer_);
      // A client that hangs up (a port probe, a monitor) is no failed handshake worth a notice.
      if (connection_lost(e.code()))
        throw boost::system::system_error(e.code(), "connection from " + peer_ + " lost during the TLS handshake");
      throw NetFailure(NetError::tls_failed, "TLS handshake with " + peer_ + " failed: " + e.code().message());
    }
  }

  [[noreturn]] void rethrow(const boost::system::system_error& e, const char* doing) {
    if (e.code() == beast::error::timeout)
      throw NetFailure(NetError::timeout, "no answer within " + format_duration(timeout_) + " " + doing + " " + peer_);
    throw boost::system::system_error(e.code(), std::string(doing) + " " + peer_);
  }

  beast::tcp_stream tcp_;
  TlsClientOptions tls_opt_;
  std::shared_ptr<ssl::context> ctx_;
  std::optional<ssl::stream<beast::tcp_stream&>> tls_;
  std::optional<TlsPeerInfo> failed_peer_;  // the certificate of a handshake that failed
  std::string peer_;
  std::string ip_;
  std::chrono::milliseconds timeout_;
  bool server_ = false;
};

}  // namespace

std::unique_ptr<Transport> adopt_server_socket(tcp::socket socket, std::shared_ptr<ssl::context> server_tls,
                                               std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  std::string ip = ec ? std::string() : ep.address().to_string();
  std::string peer = ec ? std::string("unknown peer")
                        : (ep.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(ep.port());
  socket.set_option(tcp::no_delay(true), ec);
  return std::make_unique<SocketTransport>(beast::tcp_stream(std::move(socket)), std::move(server_tls), peer, ip,
                                           timeout);
}

std::string peer_ip(const Transport& t) {
  auto* s = dynamic_cast<const SocketTransport*>(&t);
  return s ? s->ip() : std::string();
}

asio::awaitable<std::unique_ptr<Transport>> connect(std::string host, std::uint16_t port, bool implicit_tls,
                                                    TlsClientOptions tls, std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  std::string peer = host + ":" + std::to_string(port);
  if (tls.server_name.empty()) tls.server_name = host;
  tcp::resolver resolver(ex);
  tcp::resolver::results_type endpoints;
  try {
    endpoints = co_await resolver.async_resolve(host, std::to_string(port), use_awaitable);
  } catch (const boost::system::system_error& e) {
    throw NetFailure(NetError::connect_failed, "cannot resolve " + host + ": " + e.code().message());
  }
  beast::tcp_stream stream(ex);
  stream.expires_after(timeout);
  try {
    co_await stream.async_connect(endpoints, use_awaitable);
  } catch (const boost::system::system_error& e) {
    if (e.code() == beast::error::timeout)
      throw NetFailure(NetError::timeout, "cannot connect to " + peer + ": no answer within " + format_duration(timeout));
    throw NetFailure(NetError::connect_failed, "cannot connect to " + peer + ": " + e.code().message());
  }
  // Whole-buffer writes plus NODELAY: no 40 ms Nagle/delayed-ACK stall per message (DESIGN.md).
  stream.socket().set_option(tcp::no_delay(true));
  auto t = std::make_unique<SocketTransport>(std::move(stream), std::move(tls), peer, timeout);
  if (implicit_tls) co_await t->start_tls();
  co_return t;
}

// --- LineReader --------------------------------------------------------------------------------

namespace {
constexpr std::size_t kReadBuffer = 64 * 1024;
}

LineReader::LineReader(Transport& t, std::size_t max_line)
    : t_(t), max_line_(max_line), buf_(new char[kReadBuffer]), cap_(kReadBuffer) {}

void LineReader::discard_buffer() { begin_ = end_ = 0; }

asio::awaitable<std::size_t> LineReader::read_raw(char* out, std::size_t max) {
  if (end_ > begin_) {
    std::size_t n = std::min(max, end_ - begin_);
    std::memcpy(out, buf_.get() + begin_, n);
    begin_ += n;
    co_return n;
  }
  co_return co_await t_.read_some(asio::buffer(out, max));
}

asio::awaitable<std::string_view> LineReader::read_line() {
  bool crlf = true;
  co_return co_await read_line(crlf);
}

asio::awaitable<std::string_view> LineReader::read_line(bool& crlf) {
  long_line_.clear();
  bool too_long = false;
  for (;;) {
    char* start = buf_.get() + begin_;
    void* nl = std::memchr(start, '\n', end_ - begin_);
    if (nl) {
      std::size_t len = static_cast<char*>(nl) - start;
      begin_ += len + 1;
      std::string_view piece(start, len);
      if (too_long || long_line_.size() + len > max_line_ + 1) {
        long_line_.clear();
        throw NetFailure(NetError::line_too_long,
                         t_.peer() + " sent a line longer than " + std::to_string(max_line_) + " bytes");
      }
      std::string_view line = piece;
      if (!long_line_.empty()) {
        long_line_.append(piece);
        line = long_line_;
      }
      crlf = !line.empty() && line.back() == '\r';
      if (crlf) line.remove_suffix(1);
      co_return line;
    }
    // No line end buffered: keep the partial line and read more.
    std::size_t partial = end_ - begin_;
    if (begin_ > 0 && partial < cap_ / 2) {
      std::memmove(buf_.get(), start, partial);
      begin_ = 0;
      end_ = partial;
    } else if (end_ == cap_) {
      // A line longer than the buffer: move it aside (bounded by max_line, then only counted).
      if (!too_long) long_line_.append(start, partial);
      if (long_line_.size() > max_line_ + 1) {
        too_long = true;
        long_line_.clear();
      }
      begin_ = end_ = 0;
    }
    std::size_t n = co_await t_.read_some(asio::buffer(buf_.get() + end_, cap_ - end_));
    end_ += n;
  }
}

}  // namespace pb::net
