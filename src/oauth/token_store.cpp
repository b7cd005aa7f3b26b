// Token files: {"version":1,"refresh_token":...,"access_token":...,"access_expires_at":N,
// "scope":...,"updated_at":N[,"signed_in_as":...]} (older files lack signed_in_as). Written by
// fs::replace_own_file with 0600 (O_EXCL, fchmod, rename), so neither a umask nor an old temporary
// file can make a token readable by others.
#include "oauth/token_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cerrno>
#include <ctime>
#include <system_error>

#include "util/fs.hpp"
#include "util/hex.hpp"
#include "util/text.hpp"

namespace pb::oauth {

namespace json = boost::json;

namespace {

constexpr std::int64_t kVersion = 1;
constexpr std::uintmax_t kMaxFileSize = 1024 * 1024;  // tokens are a few KB; more is not ours

[[noreturn]] void sys_fail(const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(errno, std::generic_category(), what + " " + p.string());
}

}  // namespace

TokenStore::TokenStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::filesystem::path TokenStore::path_of(std::string_view key) const {
  // Letters, digits, '.', '_' and '-' stay; everything else (and a leading '.') becomes %XX.
  std::string name;
  for (std::size_t i = 0; i < key.size(); ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                (c == '.' && i > 0);
    if (keep) {
      name += static_cast<char>(c);
    } else {
      name += '%';
      hex::append(c, name, hex::Case::upper);
    }
  }
  if (name.empty()) name = "%";
  return dir_ / (name + ".json");
}

std::optional<StoredTokens> TokenStore::load(std::string_view key) const {
  auto p = path_of(key);
  std::string again = "; run postbridge oauth login to store new tokens";
  std::string data;
  try {
    // A link in place of the folder or the file is refused, never followed.
    fs::check_no_link(dir_, "folder");
    auto read = fs::read_own_file(p, kMaxFileSize);
    if (!read) return std::nullopt;
    data = std::move(*read);
  } catch (const std::length_error&) {
    throw TokenStoreError("the token file " + p.string() + " is damaged (larger than 1 MB)" + again);
  } catch (const std::system_error& e) {
    throw TokenStoreError("cannot read the token file " + p.string() + ": " + e.code().message());
  } catch (const std::runtime_error& e) {  // fs::LinkRefused, not a regular file
    throw TokenStoreError(e.what());
  }
  json::error_code jec;
  json::value v = json::parse(data, jec);
  if (jec || !v.is_object())
    throw TokenStoreError("the token file " + p.string() + " is damaged (not a JSON object" +
                          (jec ? ": " + jec.message() : std::string()) + ")" + again);
  const json::object& o = v.as_object();
  auto str = [&](const char* k) -> std::string {
    const json::value* f = o.if_contains(k);
    if (!f) return {};
    if (!f->is_string()) throw TokenStoreError("the token file " + p.string() + " is damaged (" + k + " is not text)" + again);
    return std::string(f->as_string());
  };
  auto num = [&](const char* k) -> std::int64_t {
    const json::value* f = o.if_contains(k);
    if (!f) return 0;
    if (!f->is_int64()) throw TokenStoreError("the token file " + p.string() + " is damaged (" + k + " is not a number)" + again);
    return f->as_int64();
  };
  if (num("version") != kVersion)
    throw TokenStoreError("the token file " + p.string() + " has an unknown format version (expected 1)" + again);
  StoredTokens t;
  t.refresh_token = str("refresh_token");
  t.access_token = str("access_token");
  t.access_expires_at = num("access_expires_at");
  t.scope = str("scope");
  t.updated_at = num("updated_at");
  t.signed_in_as = str("signed_in_as");
  if (t.refresh_token.empty() && t.access_token.empty())
    throw TokenStoreError("the token file " + p.string() + " is damaged (it holds no token)" + again);
  return t;
}

void TokenStore::save(std::string_view key, const StoredTokens& tokens) const {
  fs::ensure_dir(dir_, 0700);
  json::object o;
  o["version"] = kVersion;
  o["refresh_token"] = tokens.refresh_token;
  o["access_token"] = tokens.access_token;
  o["access_expires_at"] = tokens.access_expires_at;
  o["scope"] = tokens.scope;
  o["updated_at"] = tokens.updated_at != 0 ? tokens.updated_at : static_cast<std::int64_t>(std::time(nullptr));
  if (!tokens.signed_in_as.empty()) o["signed_in_as"] = tokens.signed_in_as;
  std::string data = json::serialize(o) + "\n";

  fs::replace_own_file(path_of(key), data, 0600);
}

void TokenStore::remove(std::string_view key) const {
  auto p = path_of(key);
  fs::check_no_link(dir_, "folder");  // unlink would follow a link in the folder's place
  if (::unlink(p.c_str()) != 0) {
    if (errno == ENOENT) return;
    sys_fail("cannot remove", p);
  }
  fs::fsync_parent(p);
}

}  // namespace pb::oauth
