// Token files: round trip, mode 0600 in a 0700 folder, atomic replacement, safe names, and a
// damaged file that says so instead of being taken for "no tokens".
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "oauth/token_store.hpp"

using namespace pb::oauth;
namespace stdfs = std::filesystem;

namespace {
struct TempDir {
  stdfs::path path;
  TempDir() {
    char tmpl[] = "/tmp/pb-token-store-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { stdfs::remove_all(path); }
};

unsigned mode_of(const stdfs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

StoredTokens sample(const std::string& refresh) {
  StoredTokens t;
  t.refresh_token = refresh;
  t.access_token = "AT-" + refresh;
  t.access_expires_at = 1700000000;
  t.scope = "https://mail.google.com/";
  t.updated_at = 1699990000;
  return t;
}

void write_raw(const stdfs::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary) << data;
}
}  // namespace

TEST_CASE("token store: round trip, modes 0600 and 0700, nothing stored is nullopt", "[oauth][store]") {
  TempDir tmp;
  TokenStore store(tmp.path / "oauth");
  CHECK_FALSE(store.load("account.info"));
  store.save("account.info", sample("RT1"));
  auto t = store.load("account.info");
  REQUIRE(t);
  CHECK(t->refresh_token == "RT1");
  CHECK(t->access_token == "AT-RT1");
  CHECK(t->access_expires_at == 1700000000);
  CHECK(t->scope == "https://mail.google.com/");
  CHECK(t->updated_at == 1699990000);
  CHECK(mode_of(store.path_of("account.info")) == 0600);
  CHECK(mode_of(tmp.path / "oauth") == 0700);
  CHECK_FALSE(store.load("smarthost.info"));  // another key, another file
}

TEST_CASE("token store: a save replaces the file atomically and leaves no temporary file", "[oauth][store]") {
  TempDir tmp;
  TokenStore store(tmp.path);
  mode_t old = ::umask(0);  // even a permissive umask gives 0600
  store.save("k", sample("RT1"));
  ::umask(old);
  auto before = stdfs::status(store.path_of("k"));
  struct stat st1 {};
  ::stat(store.path_of("k").c_str(), &st1);
  write_raw(store.path_of("k").string() + ".tmp", "leftover of a crash");
  store.save("k", sample("RT2"));
  struct stat st2 {};
  ::stat(store.path_of("k").c_str(), &st2);
  CHECK(st1.st_ino != st2.st_ino);  // a new file renamed over the old one, not rewritten in place
  CHECK(store.load("k")->refresh_token == "RT2");
  CHECK(mode_of(store.path_of("k")) == 0600);
  CHECK_FALSE(stdfs::exists(store.path_of("k").string() + ".tmp"));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : stdfs::directory_iterator(tmp.path)) ++files;
  CHECK(files == 1);
  (void)before;
  store.remove("k");
  CHECK_FALSE(store.load("k"));
  store.remove("k");  // twice is fine
}

TEST_CASE("token store: keys become safe file names", "[oauth][store]") {
  TokenStore store("/state/oauth");
  CHECK(store.path_of("account.info") == "/state/oauth/account.info.json");
  CHECK(store.path_of("../etc/passwd") == "/state/oauth/%2E.%2Fetc%2Fpasswd.json");
  CHECK(store.path_of("a b/ä") == "/state/oauth/a%20b%2F%C3%A4.json");
  CHECK(store.path_of("") == "/state/oauth/%.json");
}

TEST_CASE("token store: a damaged file is a clear error naming the file", "[oauth][store]") {
  TempDir tmp;
  TokenStore store(tmp.path);
  for (const char* data : {"{\"version\":1,\"refresh_token\":", "[]", "{\"version\":2,\"refresh_token\":\"x\"}",
                           "{\"version\":1,\"refresh_token\":5}", "{\"version\":1}", ""}) {
    INFO(data);
    write_raw(store.path_of("k"), data);
    try {
      store.load("k");
      FAIL("loaded a damaged file");
    } catch (const TokenStoreError& e) {
      CHECK_THAT(e.what(), Catch::Contains(store.path_of("k").string()));
      CHECK_THAT(e.what(), Catch::Contains("postbridge oauth login"));
    }
  }
}
