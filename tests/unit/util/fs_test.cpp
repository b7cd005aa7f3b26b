// ensure_dir, check_no_link, open_own, read_own_file and replace_own_file on a scratch folder:
// real folders and files work as before; a symbolic link where postbridge's own folder or file
// belongs is refused in plain words, and what it points at is left exactly as it was.
#include "util/fs.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

using Catch::Matchers::Contains;
namespace stdfs = std::filesystem;

namespace {

class Scratch {
 public:
  Scratch() {
    std::string tmpl = (stdfs::temp_directory_path() / "pb-fs-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    stdfs::remove_all(path_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  stdfs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  stdfs::path path_;
};

unsigned mode_of(const stdfs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

void write(const stdfs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

// The umask of the test process, changed for one scope.
struct Umask {
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
  mode_t old;
};

}  // namespace

TEST_CASE("ensure_dir: creates the folder and those above it, with exactly the mode asked", "[fs]") {
  Scratch s;
  Umask strict(077);  // would make 0750 into 0700
  pb::fs::ensure_dir(s / "state/oauth", 0750);
  CHECK(stdfs::is_directory(s / "state/oauth"));
  CHECK(mode_of(s / "state/oauth") == 0750);
  pb::fs::ensure_dir(s / "new/", 0700);  // a trailing '/' names the folder itself
  CHECK(mode_of(s / "new") == 0700);
}

TEST_CASE("ensure_dir: an existing folder keeps its mode, a link to one above it is followed", "[fs]") {
  Scratch s;
  stdfs::create_directory(s / "real");
  ::chmod((s / "real").c_str(), 0755);
  pb::fs::ensure_dir(s / "real", 0700);
  CHECK(mode_of(s / "real") == 0755);
  // The state folder itself may be an admin's link (/var/lib/postbridge -> /srv/pb): only the
  // last part of the path must be a real folder.
  stdfs::create_directory_symlink(s / "real", s / "state");
  pb::fs::ensure_dir(s / "state/spool", 0750);
  CHECK(stdfs::is_directory(s / "real/spool"));
}

TEST_CASE("ensure_dir: a link in the folder's place is refused, its target untouched", "[fs]") {
  Scratch s;
  stdfs::create_directory(s / "etc");
  ::chmod((s / "etc").c_str(), 0755);
  stdfs::create_directory(s / "state");
  stdfs::create_directory_symlink(s / "etc", s / "state/oauth");
  try {
    pb::fs::ensure_dir(s / "state/oauth", 0700);
    FAIL("a link to a folder was accepted");
  } catch (const pb::fs::LinkRefused& e) {
    const std::string link = (s / "state/oauth").string();
    CHECK_THAT(e.what(), Contains(link + " is a symbolic link (to " + (s / "etc").string() + ")"));
    CHECK_THAT(e.what(), Contains("where postbridge keeps a folder of its own"));
    CHECK_THAT(e.what(), Contains("remove the link (rm " + link + ")"));
  }
  CHECK(mode_of(s / "etc") == 0755);
  CHECK(stdfs::is_empty(s / "etc"));

  // A dangling link: mkdir must not create what it names.
  stdfs::create_directory_symlink(s / "nowhere", s / "state/spool");
  CHECK_THROWS_AS(pb::fs::ensure_dir(s / "state/spool", 0750), pb::fs::LinkRefused);
  CHECK_FALSE(stdfs::exists(s / "nowhere"));
}

TEST_CASE("ensure_dir: a file in the folder's place is an error naming the path", "[fs]") {
  Scratch s;
  write(s / "spool", "x");
  try {
    pb::fs::ensure_dir(s / "spool", 0750);
    FAIL("a file was taken for a folder");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::not_a_directory);
    CHECK_THAT(e.what(), Contains((s / "spool").string()));
  }
}

TEST_CASE("check_no_link: only a link is refused", "[fs]") {
  Scratch s;
  CHECK_NOTHROW(pb::fs::check_no_link(s / "missing", "file"));
  write(s / "postbridge.db", "x");
  CHECK_NOTHROW(pb::fs::check_no_link(s / "postbridge.db", "file"));
  stdfs::create_symlink(s / "postbridge.db", s / "postbridge.db-wal");
  try {
    pb::fs::check_no_link(s / "postbridge.db-wal", "file");
    FAIL("a link was accepted");
  } catch (const pb::fs::LinkRefused& e) {
    CHECK_THAT(e.what(), Contains("where postbridge keeps a file of its own"));
  }
}

TEST_CASE("open_own: opens files, a link is refused, other failures keep errno", "[fs]") {
  Scratch s;
  write(s / "a.msg", "mail");
  int fd = pb::fs::open_own(s / "a.msg", O_RDONLY);
  REQUIRE(fd >= 0);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  ::close(fd);

  stdfs::create_symlink(s / "a.msg", s / "b.msg");
  CHECK_THROWS_AS(pb::fs::open_own(s / "b.msg", O_RDONLY), pb::fs::LinkRefused);
  // O_CREAT | O_EXCL never writes through a link either: the name exists.
  errno = 0;
  CHECK(pb::fs::open_own(s / "b.msg", O_WRONLY | O_CREAT | O_EXCL, 0600) == -1);
  CHECK(errno == EEXIST);

  errno = 0;
  CHECK(pb::fs::open_own(s / "missing.msg", O_RDONLY) == -1);
  CHECK(errno == ENOENT);
}

TEST_CASE("read_own_file: the whole file, nothing when missing, refusals in words", "[fs]") {
  Scratch s;
  write(s / "t.json", "{\"version\":1}\n");
  CHECK(pb::fs::read_own_file(s / "t.json", 1024) == std::optional<std::string>("{\"version\":1}\n"));
  CHECK_FALSE(pb::fs::read_own_file(s / "none.json", 1024).has_value());
  CHECK_THROWS_AS(pb::fs::read_own_file(s / "t.json", 4), std::length_error);

  write(s / "shadow", "root:secret\n");
  stdfs::create_symlink(s / "shadow", s / "u.json");
  CHECK_THROWS_AS(pb::fs::read_own_file(s / "u.json", 1024), pb::fs::LinkRefused);

  stdfs::create_directory(s / "dir.json");
  try {
    (void)pb::fs::read_own_file(s / "dir.json", 1024);
    FAIL("a folder was read");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Contains((s / "dir.json").string()));
  }
}

TEST_CASE("read_own_file: a FIFO in the file's place is refused at once, not waited on", "[fs]") {
  Scratch s;
  REQUIRE(::mkfifo((s / "running").c_str(), 0600) == 0);
  try {
    (void)pb::fs::read_own_file(s / "running", 64);  // would block in open() without O_NONBLOCK
    FAIL("a FIFO was read");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Contains("not a regular file"));
  }
}

TEST_CASE("replace_own_file: whole new content with exactly the mode, whatever the umask", "[fs]") {
  Scratch s;
  Umask open_umask(0);
  pb::fs::replace_own_file(s / "loop.key", "first", 0600);
  CHECK(pb::fs::read_own_file(s / "loop.key", 64) == std::optional<std::string>("first"));
  CHECK(mode_of(s / "loop.key") == 0600);
  write(s / "loop.key.tmp", "a leftover of a crash");
  pb::fs::replace_own_file(s / "loop.key", "second", 0640);
  CHECK(pb::fs::read_own_file(s / "loop.key", 64) == std::optional<std::string>("second"));
  CHECK(mode_of(s / "loop.key") == 0640);
  CHECK_FALSE(stdfs::exists(s / "loop.key.tmp"));
}

TEST_CASE("replace_own_file: a hard link at the name is replaced, its other name untouched", "[fs]") {
  Scratch s;
  write(s / "passwd", "root:x:0:0\n");
  REQUIRE(::link((s / "passwd").c_str(), (s / "running").c_str()) == 0);
  pb::fs::replace_own_file(s / "running", "1700000000\n", 0640);
  CHECK(pb::fs::read_own_file(s / "passwd", 64) == std::optional<std::string>("root:x:0:0\n"));
  CHECK(pb::fs::read_own_file(s / "running", 64) == std::optional<std::string>("1700000000\n"));
}

TEST_CASE("replace_own_file: a link at the temporary name is not followed", "[fs]") {
  Scratch s;
  write(s / "shadow", "root:secret\n");
  stdfs::create_symlink(s / "shadow", s / "token.json.tmp");
  pb::fs::replace_own_file(s / "token.json", "{}", 0600);  // the leftover name is removed first
  CHECK(pb::fs::read_own_file(s / "shadow", 64) == std::optional<std::string>("root:secret\n"));
  CHECK(pb::fs::read_own_file(s / "token.json", 64) == std::optional<std::string>("{}"));
}
