// fsync helpers; errors carry the path so an admin can act on them.
#include "util/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>

namespace pb::fs {

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

void ensure_dir(const std::filesystem::path& p, unsigned mode) {
  std::error_code ec;
  std::filesystem::create_directories(p, ec);
  if (ec) throw std::system_error(ec, "create folder " + p.string());
  ::chmod(p.c_str(), mode);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::system_error(errno, std::generic_category(), "cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace pb::fs
