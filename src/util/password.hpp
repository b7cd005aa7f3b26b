// Password hashes for logins postbridge itself checks (SMTP AUTH users of the relay, later the
// status page): crypt(3) strings from libxcrypt, verified in constant time, never stored plain.
#pragma once
#include <string>
#include <string_view>

namespace pb::password {

// True if `password` matches `hash`, a crypt(3) string accepted by looks_like_hash(). Weak or
// unknown methods (DES, MD5-crypt, ...), malformed hashes and passwords with a NUL byte or
// longer than libxcrypt accepts (511 bytes) are all false. The final comparison is constant-time.
bool verify_password(std::string_view password, const std::string& hash);

// A new hash with a random salt: the library's preferred method (yescrypt, "$y$", on Debian 12)
// or SHA-512-crypt ("$6$") if that is not one looks_like_hash() accepts. Throws
// std::invalid_argument for an empty password, one with a NUL byte or over 511 bytes, and
// std::runtime_error if libxcrypt fails (e.g. no entropy).
std::string hash_password(std::string_view password);

// True for a complete hash of a strong method: yescrypt "$y$", gost-yescrypt "$gy$", scrypt
// "$7$", bcrypt "$2b$"/"$2y$"/"$2a$", SHA-512-crypt "$6$", SHA-256-crypt "$5$", with the hash
// part of the method's exact length (a truncated paste is caught). Used by the configuration
// to refuse plain-text passwords; cheap: no hashing is done.
bool looks_like_hash(std::string_view text);

}  // namespace pb::password
