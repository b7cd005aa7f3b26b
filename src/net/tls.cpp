// TLS client setup on OpenSSL via Asio's ssl::context. Verification is on unless the admin turned
// it off; the name check uses OpenSSL's X509_VERIFY_PARAM (host names and IP literals alike).
#include "net/tls.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <map>
#include <mutex>

namespace pb::net {
namespace ssl = boost::asio::ssl;

namespace {

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

std::shared_ptr<ssl::context> make_context(const TlsClientOptions& opt) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
  if (opt.verify) {
    if (opt.ca_file.empty()) {
      ctx->set_default_verify_paths();
    } else {
      boost::system::error_code ec;
      ctx->load_verify_file(opt.ca_file, ec);
      if (ec) throw NetFailure(NetError::tls_failed, "cannot load CA file " + opt.ca_file + ": " + ec.message());
    }
    ctx->set_verify_mode(ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

}  // namespace

std::shared_ptr<ssl::context> client_context(const TlsClientOptions& opt) {
  static std::mutex mu;
  static std::map<std::pair<bool, std::string>, std::shared_ptr<ssl::context>> cache;
  std::lock_guard lock(mu);
  auto key = std::make_pair(opt.verify, opt.ca_file);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto ctx = make_context(opt);
  cache.emplace(key, ctx);
  return ctx;
}

void prepare_client_ssl(SSL* ssl, const TlsClientOptions& opt) {
  const std::string& name = opt.server_name;
  bool ip = is_ip_literal(name);
  // RFC 6066 3: SNI carries host names only, never IP literals.
  if (!ip && !name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (!opt.verify) return;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  else X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
}

std::string describe_tls_failure(SSL* ssl, const TlsClientOptions& opt, const std::string& low_level) {
  long v = SSL_get_verify_result(ssl);
  const std::string& who = opt.server_name;
  switch (v) {
    case X509_V_OK:
      return "TLS handshake with " + who + " failed: " + low_level;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "the TLS certificate of " + who + " is issued for another name, so the server cannot be trusted "
             "(check the host name in the config; tls_verify = false turns the check off)";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "the TLS certificate of " + who + " is not signed by a trusted authority (" +
             X509_verify_cert_error_string(v) + "); set ca_file to the issuing CA";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "the TLS certificate of " + who + " has expired";
    default:
      return "the TLS certificate of " + who + " was refused: " + X509_verify_cert_error_string(v);
  }
}

std::string describe_session(SSL* ssl) {
  const char* version = SSL_get_version(ssl);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  std::string out = version ? version : "TLS";
  if (cipher) out += std::string(" ") + SSL_CIPHER_get_name(cipher);
  return out;
}

}  // namespace pb::net
