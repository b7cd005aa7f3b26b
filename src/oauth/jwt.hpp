// RS256 JSON Web Tokens (RFC 7515, RFC 7518 3.3, RFC 7519) that postbridge signs itself, and the
// PEM keys and certificates they are signed with; no I/O. A key or certificate that cannot sign
// (not RSA, encrypted, damaged, not the certificate's key) is refused with plain words, never its text.
#pragma once
#include <boost/json/object.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace pb::oauth::jwt {

// Why a key or certificate cannot be used, in words that follow the file's name
// ("is protected by a passphrase, ..."); never a byte of the key.
class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An RSA private key of at least 2048 bits (RFC 7518 3.3), read from PEM text ("BEGIN PRIVATE
// KEY" or "BEGIN RSA PRIVATE KEY"). Throws KeyError.
class PrivateKey {
 public:
  static PrivateKey from_pem(std::string_view pem);
  EVP_PKEY* get() const { return key_.get(); }

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

// A PEM X.509 certificate's thumbprints, as Microsoft identifies an uploaded certificate by them
// (RFC 7515 4.1.7 x5t: base64url SHA-1 of the DER; 4.1.8 x5t#S256: SHA-256). Throws KeyError.
struct Certificate {
  std::string x5t;
  std::string x5t_s256;
  std::shared_ptr<EVP_PKEY> public_key;
  static Certificate from_pem(std::string_view pem);
  // Whether `key` is the private half of this certificate's public key.
  bool matches(const PrivateKey& key) const;
};

// "BASE64URL(header).BASE64URL(claims).BASE64URL(signature)" with alg RS256 and typ JWT added to
// `header` (RFC 7515 7.1 compact serialization). Throws KeyError when OpenSSL cannot sign.
std::string sign_rs256(boost::json::object header, const boost::json::object& claims, const PrivateKey& key);

}  // namespace pb::oauth::jwt
