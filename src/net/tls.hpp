// TLS client contexts and certificate checks: chain verification against the system store or a
// configured CA file, host-name or IP matching (RFC 6125), TLS 1.2 minimum. Contexts are cached
// per (verify, ca_file) so a poll does not reload the trust store.
#pragma once
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <string>

#include "net/transport.hpp"

namespace pb::net {

std::shared_ptr<boost::asio::ssl::context> client_context(const TlsClientOptions& opt);
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
