// Keys and certificates made on the fly for the JWT and config tests (OpenSSL), so that no private
// key lives in the source tree; and an RS256 check that uses only OpenSSL, not the code under test.
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "util/base64.hpp"

namespace pb::test_keys {

using Key = std::shared_ptr<EVP_PKEY>;

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// PEM of the private key; with `passphrase`, encrypted (AES-256-CBC) as a careful admin would keep it.
inline std::string private_pem(EVP_PKEY* k, const char* passphrase = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, passphrase ? EVP_aes_256_cbc() : nullptr, nullptr, 0, nullptr,
                           const_cast<char*>(passphrase));
  return bio_text(bio);
}

inline std::string public_pem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  return bio_text(bio);
}

inline Key rsa_key(unsigned bits = 2048) { return Key(EVP_RSA_gen(bits), &EVP_PKEY_free); }
inline Key ec_key() { return Key(EVP_EC_gen("P-256"), &EVP_PKEY_free); }

// A self-signed certificate for `k`, as `openssl req -x509` makes for an app registration.
inline std::string certificate_pem(EVP_PKEY* k) {
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), &X509_free);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), k);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("postbridge test"), -1,
                             -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_sign(x.get(), k, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x.get());
  return bio_text(bio);
}

// Whether `token` ("h.c.s") carries a valid RS256 signature by `k`'s public half.
inline bool verifies(std::string_view token, EVP_PKEY* k) {
  auto last = token.rfind('.');
  if (last == std::string_view::npos) return false;
  auto sig = base64::decode_url(token.substr(last + 1));
  if (!sig) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::string_view input = token.substr(0, last);
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, k) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

}  // namespace pb::test_keys
