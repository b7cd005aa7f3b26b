// LoopMarker: marks verify only under their key and host name, the key file is made once (0600)
// and read back, and a link or a short file where the key belongs is never used.
#include "routing/loop_mark.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "../queue/temp_dir.hpp"

using pb::routing::LoopMarker;

TEST_CASE("loop mark: verifies under its key and host name only", "[loop]") {
  const LoopMarker a(LoopMarker::Key{1}), b(LoopMarker::Key{2});
  const std::string m = a.make("gw.firma.local");
  CHECK(m.size() == 39);
  CHECK(m.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos);
  CHECK(a.verify("gw.firma.local", m));
  CHECK(a.verify("GW.Firma.Local", m));  // host names have no case
  CHECK_FALSE(a.verify("gw.other.example", m));
  CHECK_FALSE(b.verify("gw.firma.local", m));
  CHECK(a.make("gw.firma.local") != m);  // a fresh nonce each time
  for (const char* bad : {"", ".", "abc", "abc.", ".abc", "x.y.z", "AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"})
    CHECK_FALSE(a.verify("gw.firma.local", bad));
  CHECK_FALSE(a.verify("gw.firma.local", m + std::string(100, 'A')));
}

TEST_CASE("loop mark: the key file is made once, 0600, and read back", "[loop]") {
  pb::test::TempDir dir;
  CHECK_FALSE(LoopMarker::load(dir.path()));
  const std::string m = LoopMarker::load_or_create(dir.path()).make("gw");
  struct stat st {};
  REQUIRE(::stat((dir.path() / "loop.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);
  CHECK(LoopMarker::load_or_create(dir.path()).verify("gw", m));  // the same key after a restart
  REQUIRE(LoopMarker::load(dir.path()));
  CHECK(LoopMarker::load(dir.path())->verify("gw", m));
}

TEST_CASE("loop mark: a link or a short file is not a key", "[loop]") {
  pb::test::TempDir dir;
  std::ofstream(dir.path() / "elsewhere") << std::string(32, 'k');
  REQUIRE(::symlink((dir.path() / "elsewhere").c_str(), (dir.path() / "loop.key").c_str()) == 0);
  CHECK_FALSE(LoopMarker::load(dir.path()));
  LoopMarker::load_or_create(dir.path());  // replaces the link itself, never what it points at
  CHECK_FALSE(std::filesystem::is_symlink(dir.path() / "loop.key"));
  std::string kept;
  std::ifstream(dir.path() / "elsewhere") >> kept;
  CHECK(kept == std::string(32, 'k'));
  std::filesystem::remove(dir.path() / "loop.key");
  std::ofstream(dir.path() / "loop.key") << "short";
  CHECK_FALSE(LoopMarker::load(dir.path()));
}
