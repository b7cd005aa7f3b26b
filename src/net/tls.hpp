// TLS client contexts and certificate checks: chain verification against the system store or a
// configured CA file, host-name or IP matching (RFC 6125), TLS 1.2 minimum. Contexts are cached
// per (verify, ca_file) so a poll does not reload the trust store. And the one server context
// that the relay's STARTTLS and the status page's HTTPS share: forward-secret AEAD suites only.
#pragma once
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <string>

#include "net/transport.hpp"

namespace pb::net {

std::shared_ptr<boost::asio::ssl::context> client_context(const TlsClientOptions& opt);
// A server context with the certificate chain and key of these PEM files: TLS 1.2 or 1.3; for
// TLS 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305 (no static RSA key exchange, no CBC), in
// the server's order whatever the client prefers; TLS 1.3 keeps OpenSSL's suites (all of them
// AEAD and forward-secret). Throws boost::system::system_error when a file cannot be used.
std::shared_ptr<boost::asio::ssl::context> server_context(const std::string& cert_file, const std::string& key_file);
// Applies SNI and the name check to a fresh SSL object before the handshake.
void prepare_client_ssl(SSL* ssl, const TlsClientOptions& opt);
// Plain-words reason for a failed handshake ("the certificate of 127.0.0.1 is for another name"),
// for logs, the status page and the doctor alike; OpenSSL's own words follow in parentheses.
std::string describe_tls_failure(SSL* ssl, const TlsClientOptions& opt, const boost::system::error_code& ec);
// Why a handshake failed, from the certificate check of `ssl` and OpenSSL's reason code in `ec`.
TlsFailure classify_handshake_error(SSL* ssl, const boost::system::error_code& ec);
// The peer's certificate checked against the trust store of `opt` (its ca_file, or the system
// store) and its server_name, whatever `opt.verify` says: for reports, not for deciding.
TlsPeerInfo inspect_peer(SSL* ssl, const TlsClientOptions& opt);
// "TLSv1.3 TLS_AES_256_GCM_SHA384"
std::string describe_session(SSL* ssl);

}  // namespace pb::net
