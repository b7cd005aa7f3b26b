// TLS setup on OpenSSL via Asio's ssl::context. Clients: verification is on unless the admin turned
// it off; the name check uses OpenSSL's X509_VERIFY_PARAM. Servers: one hardened context for all.
#include "net/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include <algorithm>
#include <initializer_list>
#include <tuple>
#include <ctime>
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

// The doctor's diagnostic handshake: TLS 1.0 and up and every cipher OpenSSL still has (security
// level 0), also with servers that predate secure renegotiation (RFC 5746). Verification is off:
// the session only shows which version and cipher the server picks, and carries no login.
std::shared_ptr<ssl::context> make_diagnostic_context() {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(native, 0);
  SSL_CTX_set_cipher_list(native, "ALL:@SECLEVEL=0");
  SSL_CTX_set_options(native, SSL_OP_LEGACY_SERVER_CONNECT);
  ctx->set_verify_mode(ssl::verify_none);
  return ctx;
}

std::shared_ptr<ssl::context> make_context(const TlsClientOptions& opt) {
  if (opt.diagnostic_any_version) return make_diagnostic_context();
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

// TLS 1.2 suites our servers offer, best first (RFC 9325 4.1, 4.2: forward secrecy via ECDHE,
// AEAD ciphers only). Static RSA key exchange (AES256-GCM-SHA384: a stolen key decrypts recorded
// sessions) and CBC suites (AES128-SHA: padding-oracle history) are left out. The ECDSA ones
// apply when the certificate has an EC key.
constexpr const char* kServerTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

std::shared_ptr<ssl::context> server_context(const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  // TLS 1.2 minimum (RFC 8996 retires 1.0 and 1.1); no compression (CRIME); a fresh ECDHE key per
  // handshake.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                   ssl::context::single_dh_use);
  // Our order wins, so a client that lists a weaker allowed suite first still gets the best one.
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx->native_handle(), kServerTls12Ciphers) != 1)
    throw boost::system::system_error(boost::asio::error::invalid_argument, "OpenSSL knows none of the TLS 1.2 suites");
  ctx->use_certificate_chain_file(cert_file);
  ctx->use_private_key_file(key_file, ssl::context::pem);
  return ctx;
}

std::shared_ptr<ssl::context> client_context(const TlsClientOptions& opt) {
  static std::mutex mu;
  static std::map<std::tuple<bool, std::string, bool>, std::shared_ptr<ssl::context>> cache;
  std::lock_guard lock(mu);
  auto key = std::make_tuple(opt.verify, opt.ca_file, opt.diagnostic_any_version);
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

namespace {

bool openssl_reason(const boost::system::error_code& ec, std::initializer_list<int> reasons) {
  if (ec.category() != boost::asio::error::get_ssl_category()) return false;
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  return std::find(reasons.begin(), reasons.end(), reason) != reasons.end();
}

// The failures that are not about the certificate, in words for the admin; empty for the rest.
std::string handshake_words(TlsFailure f) {
  switch (f) {
    case TlsFailure::old_version:
      // RFC 8996 retired TLS 1.0 and 1.1; postbridge keeps to that and has no switch to undo it.
      return "the server speaks only TLS versions older than 1.2, and postbridge requires TLS 1.2 or later "
             "(there is no setting to allow older ones): ask the provider to switch on TLS 1.2 or 1.3. "
             "`postbridge test` names the version the server speaks";
    case TlsFailure::no_shared_cipher:
      return "the server found no cipher it shares with postbridge (its TLS settings are outdated): ask the "
             "provider to update them. `postbridge test` names what the server offers";
    case TlsFailure::not_tls:
      return "the server's answer was not TLS: a port that starts in plain text needs tls = \"starttls\" "
             "(or the server is older than TLS 1.0)";
    default: return {};
  }
}

}  // namespace

TlsFailure classify_handshake_error(SSL* ssl, const boost::system::error_code& ec) {
  // A server that knows only older versions either answers with its own (unsupported protocol)
  // or refuses ours with a protocol_version alert (RFC 8446 4.2.1, RFC 5246 E.1).
  if (openssl_reason(ec, {SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_VERSION_TOO_LOW,
                          SSL_R_NO_PROTOCOLS_AVAILABLE}))
    return TlsFailure::old_version;
  // handshake_failure (RFC 5246 7.2.2) and insufficient_security: no acceptable set of parameters.
  if (openssl_reason(ec, {SSL_R_NO_SHARED_CIPHER, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE,
                          SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY, SSL_R_NO_CIPHERS_AVAILABLE}))
    return TlsFailure::no_shared_cipher;
  if (openssl_reason(ec, {SSL_R_WRONG_VERSION_NUMBER, SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_RECORD_LENGTH_MISMATCH}))
    return TlsFailure::not_tls;
  if (openssl_reason(ec, {SSL_R_CERTIFICATE_VERIFY_FAILED}) || SSL_get_verify_result(ssl) != X509_V_OK)
    return TlsFailure::certificate;
  return TlsFailure::other;
}

std::string describe_tls_failure(SSL* ssl, const TlsClientOptions& opt, const boost::system::error_code& ec) {
  long v = SSL_get_verify_result(ssl);
  const std::string& who = opt.server_name;
  const std::string low_level = ec.message();
  if (std::string words = handshake_words(classify_handshake_error(ssl, ec)); !words.empty())
    return "TLS handshake with " + who + " failed: " + words + " (OpenSSL: " + low_level + ")";
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

namespace {

std::string one_line_name(X509_NAME* name) {
  if (!name) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  // RFC 2253 form with control and 8-bit bytes escaped: the text comes from the peer.
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(std::max(0L, n)));
  BIO_free(bio);
  return out;
}

std::int64_t unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::vector<std::string> alt_names(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  constexpr int kMaxShown = 50;  // a CDN certificate can carry hundreds
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && static_cast<int>(out.size()) < kMaxShown; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
      bool printable = std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; });
      out.push_back(printable ? name : std::string("(unprintable name)"));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      const unsigned char* b = ASN1_STRING_get0_data(ip);
      if (ASN1_STRING_length(ip) == 4) {
        boost::asio::ip::address_v4::bytes_type v4;
        std::copy(b, b + 4, v4.begin());
        out.push_back(boost::asio::ip::address_v4(v4).to_string());
      } else if (ASN1_STRING_length(ip) == 16) {
        boost::asio::ip::address_v6::bytes_type v6;
        std::copy(b, b + 16, v6.begin());
        out.push_back(boost::asio::ip::address_v6(v6).to_string());
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

// The chain as the server sent it, verified against the store a verifying client would use.
void check_chain(X509* leaf, STACK_OF(X509)* chain, const TlsClientOptions& opt, TlsPeerInfo& info) {
  std::shared_ptr<ssl::context> trusted;
  try {
    trusted = client_context(TlsClientOptions{true, opt.ca_file, opt.server_name});
  } catch (const std::exception& e) {
    info.chain_problem = e.what();
    return;
  }
  X509_STORE* store = SSL_CTX_get_cert_store(trusted->native_handle());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  if (ctx && X509_STORE_CTX_init(ctx, store, leaf, chain) == 1) {
    X509_STORE_CTX_set_default(ctx, "ssl_server");
    info.chain_trusted = X509_verify_cert(ctx) == 1;
    if (!info.chain_trusted) info.chain_problem = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  } else {
    info.chain_problem = "cannot check the certificate chain (out of memory)";
  }
  X509_STORE_CTX_free(ctx);
}

}  // namespace

TlsPeerInfo inspect_peer(SSL* ssl, const TlsClientOptions& opt) {
  TlsPeerInfo info;
  if (SSL_is_init_finished(ssl)) info.session = describe_session(ssl);
  // After a handshake refused on the certificate the session has no peer yet, but the chain the
  // server sent is kept (on the client side it starts with the server's own certificate).
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (!leaf && chain && sk_X509_num(chain) > 0) leaf = sk_X509_value(chain, 0);
  if (!leaf) return info;
  info.have_certificate = true;
  info.subject = one_line_name(X509_get_subject_name(leaf));
  info.issuer = one_line_name(X509_get_issuer_name(leaf));
  info.names = alt_names(leaf);
  info.not_before = unix_time(X509_get0_notBefore(leaf));
  info.not_after = unix_time(X509_get0_notAfter(leaf));
  const std::string& name = opt.server_name;
  info.name_matches = is_ip_literal(name)
                          ? X509_check_ip_asc(leaf, name.c_str(), 0) == 1
                          : X509_check_host(leaf, name.data(), name.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
  check_chain(leaf, chain, opt, info);
  return info;
}

std::string describe_session(SSL* ssl) {
  const char* version = SSL_get_version(ssl);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  std::string out = version ? version : "TLS";
  if (cipher) out += std::string(" ") + SSL_CIPHER_get_name(cipher);
  return out;
}

}  // namespace pb::net
