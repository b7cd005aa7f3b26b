// fsync helpers and link-refusing opens; errors carry the path so an admin can act on them.
#include "util/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>

#include "util/text.hpp"

namespace pb::fs {

namespace {

[[noreturn]] void sys_fail(int err, const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(err, std::generic_category(), what + " " + p.string());
}

std::string link_words(const std::filesystem::path& p, std::string_view what) {
  std::error_code ec;
  const auto target = std::filesystem::read_symlink(p, ec);
  const std::string to = ec ? std::string() : " (to " + text::printable(target.string(), 200) + ")";
  return p.string() + " is a symbolic link" + to + " where postbridge keeps a " + std::string(what) +
         " of its own; it does not follow links there, which could point it at any file: remove the link (rm " +
         p.string() + ") and try again";
}

// A trailing '/' ("state/") names the folder itself.
std::filesystem::path without_trailing_slash(const std::filesystem::path& p) {
  return p.has_filename() || !p.has_parent_path() ? p : p.parent_path();
}

}  // namespace

void fsync_path(const std::filesystem::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + p.string());
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::system_error(err, std::generic_category(), "fsync " + p.string());
}

void fsync_parent(const std::filesystem::path& p) {
  auto parent = p.parent_path();
  fsync_path(parent.empty() ? std::filesystem::path(".") : parent);
}

void check_no_link(const std::filesystem::path& p, std::string_view what) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) throw LinkRefused(link_words(p, what));
}

void ensure_dir(const std::filesystem::path& p_in, unsigned mode) {
  const auto p = without_trailing_slash(p_in);
  if (const auto parent = p.parent_path(); !parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw std::system_error(ec, "create folder " + parent.string());
  }
  const bool created = ::mkdir(p.c_str(), mode) == 0;
  if (!created && errno != EEXIST) sys_fail(errno, "create folder", p);
  // mkdir never follows a link in p's place, but EEXIST does not say what exists: O_NOFOLLOW does.
  int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    check_no_link(p, "folder");
    sys_fail(err, "open folder", p);
  }
  // mkdir's mode went through the umask; the descriptor is the folder just checked, not a name
  // that could have been swapped meanwhile.
  const int rc = created ? ::fchmod(fd, mode) : 0;
  const int err = errno;
  ::close(fd);
  if (rc != 0) sys_fail(err, "chmod", p);
}

int open_own(const std::filesystem::path& p, int flags, unsigned mode) {
  int fd = ::open(p.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0 && errno == ELOOP) {  // O_NOFOLLOW's answer for a link (or a loop above p)
    check_no_link(p, "file");
    errno = ELOOP;
  }
  return fd;
}

std::optional<std::string> read_own_file(const std::filesystem::path& p, std::uintmax_t max_size) {
  // O_NONBLOCK: a FIFO planted in the file's place would block open() until a writer came; this
  // way it opens at once and is refused below as not a regular file.
  int fd = open_own(p, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    sys_fail(errno, "cannot read", p);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) sys_fail(errno, "cannot read", p);
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(p.string() + " is not a regular file");
  if (static_cast<std::uintmax_t>(st.st_size) > max_size)
    throw std::length_error(p.string() + " is larger than " + std::to_string(max_size) + " bytes");
  std::string data;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) sys_fail(errno, "cannot read", p);
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > max_size)  // grew while being read
      throw std::length_error(p.string() + " is larger than " + std::to_string(max_size) + " bytes");
  }
  return data;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::system_error(errno, std::generic_category(), "cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void replace_own_file(const std::filesystem::path& target, std::string_view data, unsigned mode) {
  auto tmp = target;
  tmp += ".tmp";
  ::unlink(tmp.c_str());  // a leftover of a crash; O_EXCL below then creates it afresh
  int fd = open_own(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (fd < 0) sys_fail(errno, "cannot create", tmp);
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    sys_fail(err, what, tmp);
  };
  if (::fchmod(fd, mode) != 0) fail("chmod");
  for (std::size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write");
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    sys_fail(err, "cannot write", tmp);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    sys_fail(err, "cannot replace", target);
  }
  fsync_parent(target);
}

}  // namespace pb::fs
