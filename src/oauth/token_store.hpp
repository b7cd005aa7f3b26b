// OAuth tokens of each account and smarthost, one JSON file per key in a folder of the state
// directory (mode 0700), each file mode 0600 and replaced atomically (temporary file, fsync,
// rename, fsync of the folder): a crash leaves the old tokens or the new ones, never a mix.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pb::oauth {

struct StoredTokens {
  std::string refresh_token;          // the long-lived grant; never logged
  std::string access_token;           // the last access token; never logged
  std::int64_t access_expires_at = 0; // Unix seconds; 0 = unknown
  std::string scope;                  // as granted
  std::int64_t updated_at = 0;        // Unix seconds of the last save
  // Who the provider said signed in (its id_token), checked against the login name when the
  // sign-in was stored; "" when it did not say: then the mail server's first login is the check.
  std::string signed_in_as;
};

// A token file that exists but cannot be used: what() names the file and says what to do.
class TokenStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class TokenStore {
 public:
  // `dir` is created (mode 0700) on the first save, not here.
  explicit TokenStore(std::filesystem::path dir);
  // `key` names whose tokens these are (the caller's choice, e.g. "account.info" or
  // "smarthost.gmail"); any text is allowed, it is encoded into a safe file name.
  // nullopt when nothing was stored yet; TokenStoreError when the file is damaged or unreadable,
  // or when the folder or the file is a symbolic link (never followed).
  std::optional<StoredTokens> load(std::string_view key) const;
  // Throws std::system_error (with the path) when the file cannot be written, fs::LinkRefused
  // when the folder is a symbolic link.
  void save(std::string_view key, const StoredTokens& tokens) const;
  // Forgets the tokens (nothing happens when there were none); fs::LinkRefused as save().
  void remove(std::string_view key) const;
  std::filesystem::path path_of(std::string_view key) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace pb::oauth
