// A byte stream that may be plain TCP or TLS, and can be upgraded in place (STLS/STARTTLS).
// Sessions (POP3, SMTP, LMTP clients) are written against this interface so that tests can run
// them on scripted in-memory transports and production runs them on real sockets alike.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace boost::asio::ssl { class context; }

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <stdexcept>
#include <vector>

namespace pb::net {

namespace asio = boost::asio;

// Failures every transport reports, as an exception whose what() is plain words for the admin
// ("timeout after 60s waiting for pop.example.net:995"). Asio's own errors (eof, connection reset)
// arrive as boost::system::system_error.
enum class NetError {
  timeout = 1,           // a step took longer than its timeout
  line_too_long,         // peer sent a line over the limit (RFC 5321 4.5.3.1.4, RFC 2449 4)
  tls_failed,            // handshake or certificate verification failed (detail in message)
  tls_not_offered,       // STARTTLS/STLS required but not advertised: never fall back to plain
  connect_failed,
};
class NetFailure : public std::runtime_error {
 public:
  NetFailure(NetError kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  NetError kind() const { return kind_; }

 private:
  NetError kind_;
};

struct TlsClientOptions {
  bool verify = true;         // chain + host name (RFC 6125); false only when the admin says so
  std::string ca_file;        // empty: system trust store
  std::string server_name;    // SNI and the name the certificate must match (host or IP literal)
  // The doctor's second look after a refused handshake: every TLS version and cipher OpenSSL still
  // has, without verification, to name what the server speaks. Never for a session that logs in.
  bool diagnostic_any_version = false;
};

// Why a client handshake failed, from OpenSSL's reason (net/tls.cpp classify_handshake_error).
enum class TlsFailure {
  none,              // no handshake failed
  certificate,       // the certificate was refused (expired, untrusted, another name)
  old_version,       // the server speaks only TLS versions below postbridge's minimum, 1.2
  no_shared_cipher,  // the server broke off: no cipher (or version) in common
  not_tls,           // the answer was no TLS record (a plain-text port, or a pre-TLS server)
  other,             // anything else (connection lost, timeout, an internal error)
};

// What the doctor (`postbridge test`) shows about a server's TLS: kept by the transport after a
// handshake, also after one that failed on the certificate, so the admin sees why.
struct TlsPeerInfo {
  std::string session;               // "TLSv1.3 TLS_AES_256_GCM_SHA384"; empty if not negotiated
  std::string subject, issuer;       // one-line distinguished names ("CN=mail.example.com")
  std::vector<std::string> names;    // subjectAltName DNS names and IP addresses
  std::int64_t not_before = 0, not_after = 0;  // Unix seconds
  bool chain_trusted = false;        // verifies against the system store or the configured ca_file
  std::string chain_problem;         // why not, in OpenSSL's words ("certificate has expired")
  bool name_matches = false;         // covers the configured host name (RFC 6125)
  bool have_certificate = false;     // false: the server sent none (or the handshake failed before)
  TlsFailure failure = TlsFailure::none;  // why the handshake failed, if it did
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Reads at least one byte. Throws NetFailure (timeout) or boost::system::system_error (eof...).
  virtual asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) = 0;
  // Writes everything. One call per logical write: never a write(2) per line (Nagle, see DESIGN).
  virtual asio::awaitable<void> write_all(asio::const_buffer buf) = 0;
  // Upgrades to TLS in place (client side). Throws on handshake/verification failure.
  virtual asio::awaitable<void> start_tls() = 0;
  virtual bool is_tls() const = 0;
  // TLS details for logs ("TLSv1.3 TLS_AES_256_GCM_SHA384"); empty when plain.
  virtual std::string tls_description() const = 0;
  // The certificate and session of the last TLS handshake, also after a failed one; nullopt when
  // no handshake was attempted.
  virtual std::optional<TlsPeerInfo> tls_peer() const { return std::nullopt; }
  // Deadline for each following operation until changed.
  virtual void set_timeout(std::chrono::milliseconds t) = 0;
  virtual void close() = 0;
  virtual std::string peer() const = 0;  // "host:port" for messages
};

// Connects (with timeout) to host:port; with implicit TLS the handshake is done before return.
// The options are kept for a later start_tls(). Throws NetFailure with plain-words messages.
asio::awaitable<std::unique_ptr<Transport>> connect(std::string host, std::uint16_t port, bool implicit_tls,
                                                    TlsClientOptions tls, std::chrono::milliseconds timeout);

// Wraps a socket accepted by a listener. start_tls() then performs the SERVER handshake with
// `server_tls` (nullptr: STARTTLS not available). peer() is the client's "ip:port".
std::unique_ptr<Transport> adopt_server_socket(asio::ip::tcp::socket socket,
                                               std::shared_ptr<asio::ssl::context> server_tls,
                                               std::chrono::milliseconds timeout);
// The client's IP literal of an accepted transport ("127.0.0.1", "::1"); empty for others.
std::string peer_ip(const Transport& t);

// Buffered line reading over a Transport. Lines end with CRLF; a bare LF is accepted as a line
// end (and counted, so callers can log the peer's sloppiness); a line longer than max_line throws
// NetFailure(line_too_long) after consuming it, so the session can report and stop.
class LineReader {
 public:
  explicit LineReader(Transport& t, std::size_t max_line = 8192);
  // The line without its terminator; valid until the next call.
  asio::awaitable<std::string_view> read_line();
  // Like read_line, but also reports whether the line ended with CRLF (true) or bare LF (false).
  asio::awaitable<std::string_view> read_line(bool& crlf);
  // Discards buffered, unread bytes. Must be called after STARTTLS/STLS: bytes that arrived in
  // plain text before the handshake must never be read as if they came over TLS (CVE-2011-0411).
  void discard_buffer();
  // Raw bytes (BDAT chunks, RFC 3030): buffered bytes first, then one transport read. At most max.
  asio::awaitable<std::size_t> read_raw(char* out, std::size_t max);
  std::size_t buffered() const { return end_ - begin_; }
  void set_max_line(std::size_t n) { max_line_ = n; }

 private:
  Transport& t_;
  std::size_t max_line_;
  std::unique_ptr<char[]> buf_;
  std::size_t cap_;
  std::size_t begin_ = 0, end_ = 0;
  std::string long_line_;  // only used for lines that do not fit the buffer
};

}  // namespace pb::net
