// RS256 signing with OpenSSL's EVP_DigestSign (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 3.3) and
// the PEM parsing around it. OpenSSL's error queue is cleared after every failure so that no
// later, unrelated TLS error is blamed on a key.
#include "oauth/jwt.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json/serialize.hpp>

#include "util/base64.hpp"

namespace pb::oauth::jwt {

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

Bio memory_bio(std::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

// A passphrase callback that gives none: an encrypted key fails instead of prompting on a tty.
int no_passphrase(char*, int, int, void*) { return -1; }

std::string bytes(const unsigned char* p, std::size_t n) { return std::string(reinterpret_cast<const char*>(p), n); }

std::string digest_of(const std::string& der, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), out, &len, md, nullptr);
  return base64::encode_url(bytes(out, len));
}

[[noreturn]] void fail(const std::string& why) {
  ERR_clear_error();
  throw KeyError(why);
}

}  // namespace

PrivateKey PrivateKey::from_pem(std::string_view pem) {
  if (pem.find("ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
      pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos)
    fail("is protected by a passphrase, which postbridge cannot ask for; write an unprotected copy with: "
         "openssl pkey -in FILE -out NEW.key (then chmod 600 NEW.key)");
  if (pem.find("PRIVATE KEY-----") == std::string_view::npos)
    fail("holds no PEM private key (\"-----BEGIN PRIVATE KEY-----\")");
  Bio bio = memory_bio(pem);
  EVP_PKEY* raw = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, &no_passphrase, nullptr) : nullptr;
  if (!raw) fail("holds a PEM private key that OpenSSL cannot read (damaged or cut short?)");
  PrivateKey k;
  k.key_.reset(raw, &EVP_PKEY_free);
  // RFC 7518 3.3: RS256 keys are RSA keys of 2048 bits or more; Microsoft and Google want RSA.
  if (EVP_PKEY_get_base_id(raw) != EVP_PKEY_RSA)
    fail(std::string("holds a ") + (EVP_PKEY_get0_type_name(raw) ? EVP_PKEY_get0_type_name(raw) : "non-RSA") +
         " key, not an RSA key; RS256 needs an RSA key (openssl req -x509 -newkey rsa:2048 ...)");
  if (EVP_PKEY_get_bits(raw) < 2048)
    fail("holds an RSA key of " + std::to_string(EVP_PKEY_get_bits(raw)) + " bits; RS256 needs at least 2048");
  return k;
}

Certificate Certificate::from_pem(std::string_view pem) {
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos)
    fail("holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")");
  Bio bio = memory_bio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, &no_passphrase, nullptr) : nullptr, &X509_free);
  if (!cert) fail("holds a PEM certificate that OpenSSL cannot read (damaged or cut short?)");
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  if (len <= 0) fail("holds a certificate that OpenSSL cannot encode");
  std::string der_bytes = bytes(der, static_cast<std::size_t>(len));
  OPENSSL_free(der);
  Certificate c;
  c.x5t = digest_of(der_bytes, EVP_sha1());  // what Microsoft's client assertions name (x5t)
  c.x5t_s256 = digest_of(der_bytes, EVP_sha256());
  EVP_PKEY* pub = X509_get_pubkey(cert.get());
  if (!pub) fail("holds a certificate without a usable public key");
  c.public_key.reset(pub, &EVP_PKEY_free);
  return c;
}

bool Certificate::matches(const PrivateKey& key) const {
  bool same = public_key && key.get() && EVP_PKEY_eq(public_key.get(), key.get()) == 1;
  ERR_clear_error();
  return same;
}

std::string sign_rs256(boost::json::object header, const boost::json::object& claims, const PrivateKey& key) {
  header["alg"] = "RS256";
  header["typ"] = "JWT";
  const std::string input =
      base64::encode_url(boost::json::serialize(header)) + "." + base64::encode_url(boost::json::serialize(claims));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    fail("cannot sign with this key (OpenSSL EVP_DigestSign)");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    fail("cannot sign with this key (OpenSSL EVP_DigestSign)");
  sig.resize(len);
  return input + "." + base64::encode_url(sig);
}

}  // namespace pb::oauth::jwt
