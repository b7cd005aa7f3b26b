// Spool file tests: commit makes exactly the written bytes appear in spool/, and nothing that was
// not committed is ever left behind (destructor, abandon, start-up clean-up).
#include "queue/spool.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <stdexcept>
#include <system_error>

using pb::queue::SpoolFile;
using pb::queue::SpoolReader;
using pb::test::entries;
using pb::test::slurp;
using pb::test::TempDir;

namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

TEST_CASE("spool commit moves the complete file into spool/", "[spool]") {
  TempDir t;
  const auto spool = t.path() / "spool";
  const std::string head = "Subject: hi\r\n\r\n";
  const std::string big = pattern(200 * 1024);  // larger than the buffer: written straight through
  const std::string tail = "bye\r\n";

  SpoolFile f(spool);
  CHECK(entries(spool / "tmp") == 1);
  f.write(head);
  f.write(big);
  f.write(tail);
  for (int i = 0; i < 5000; ++i) f.write("x");  // many small writes fill and flush the buffer
  CHECK(f.size() == head.size() + big.size() + tail.size() + 5000);

  const std::string name = f.commit();
  CHECK(name.size() > 4);
  CHECK(name.substr(name.size() - 4) == ".msg");
  CHECK(name.find('/') == std::string::npos);
  CHECK(entries(spool / "tmp") == 0);
  CHECK(slurp(spool / name) == head + big + tail + std::string(5000, 'x'));

  struct stat st{};
  REQUIRE(::stat((spool / name).c_str(), &st) == 0);
  CHECK((st.st_mode & 0007) == 0);  // never world-readable: mail is private
}

TEST_CASE("spool names are unique", "[spool]") {
  TempDir t;
  SpoolFile a(t.path()), b(t.path());
  a.write("a");
  b.write("b");
  const auto na = a.commit();
  const auto nb = b.commit();
  CHECK(na != nb);
  CHECK(slurp(t.path() / na) == "a");
  CHECK(slurp(t.path() / nb) == "b");
}

TEST_CASE("an uncommitted spool file disappears", "[spool]") {
  TempDir t;
  SECTION("destructor") {
    {
      SpoolFile f(t.path());
      f.write("half a message");
      CHECK(entries(t.path() / "tmp") == 1);
    }
    CHECK(entries(t.path() / "tmp") == 0);
  }
  SECTION("abandon, then no more writes") {
    SpoolFile f(t.path());
    f.write(pattern(100 * 1024));
    f.abandon();
    CHECK(entries(t.path() / "tmp") == 0);
    CHECK_THROWS_AS(f.write("more"), std::logic_error);
    CHECK_THROWS_AS(f.commit(), std::logic_error);
    f.abandon();  // twice is harmless
  }
  SECTION("moved-from object does not remove the file twice") {
    SpoolFile f(t.path());
    f.write("moved");
    SpoolFile g(std::move(f));
    const auto name = g.commit();
    CHECK(slurp(t.path() / name) == "moved");
    CHECK(entries(t.path() / "tmp") == 0);
  }
}

TEST_CASE("a committed file survives its SpoolFile", "[spool]") {
  TempDir t;
  std::string name;
  {
    SpoolFile f(t.path());
    f.write("kept");
    name = f.commit();
  }
  CHECK(slurp(t.path() / name) == "kept");
}

TEST_CASE("clean_spool_tmp removes unfinished files only", "[spool]") {
  TempDir t;
  pb::queue::clean_spool_tmp(t.path());  // no tmp/ yet: nothing to do
  SpoolFile done(t.path());
  done.write("done");
  const auto name = done.commit();
  std::ofstream(t.path() / "tmp" / "crashed-1.tmp") << "partial";
  std::ofstream(t.path() / "tmp" / "crashed-2.tmp") << "partial";
  REQUIRE(entries(t.path() / "tmp") == 2);

  pb::queue::clean_spool_tmp(t.path());
  CHECK(entries(t.path() / "tmp") == 0);
  CHECK(slurp(t.path() / name) == "done");
}

TEST_CASE("SpoolReader streams a committed file", "[spool]") {
  TempDir t;
  const std::string body = pattern(150 * 1024 + 7);
  SpoolFile f(t.path());
  f.write(body);
  const auto name = f.commit();

  SpoolReader r(t.path(), name);
  CHECK(r.size() == body.size());
  std::string got;
  char buf[10000];
  while (std::size_t n = r.read(buf, sizeof buf)) got.append(buf, n);
  CHECK(got == body);
  CHECK(r.read(buf, sizeof buf) == 0);
}

TEST_CASE("spool errors name the path and the cause", "[spool]") {
  TempDir t;
  SECTION("missing file") {
    try {
      SpoolReader r(t.path(), "nope.msg");
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::no_such_file_or_directory);
      CHECK_THAT(e.what(), Catch::Contains("nope.msg") && Catch::Contains("No such file"));
    }
  }
  SECTION("names from the database cannot escape the spool") {
    CHECK_THROWS_AS(SpoolReader(t.path(), "../etc/passwd"), std::invalid_argument);
    CHECK_THROWS_AS(SpoolReader(t.path(), ""), std::invalid_argument);
    CHECK_THROWS_AS(pb::queue::remove_spool_file(t.path(), ".."), std::invalid_argument);
  }
  SECTION("spool folder is a file") {
    std::ofstream(t.path() / "notadir") << "x";
    try {
      SpoolFile f(t.path() / "notadir");
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK_THAT(e.what(), Catch::Contains("notadir"));
    }
  }
}

TEST_CASE("remove_spool_file deletes, and a missing file is fine", "[spool]") {
  TempDir t;
  SpoolFile f(t.path());
  f.write("x");
  const auto name = f.commit();
  pb::queue::remove_spool_file(t.path(), name);
  CHECK_FALSE(std::filesystem::exists(t.path() / name));
  pb::queue::remove_spool_file(t.path(), name);  // again: not an error
}
