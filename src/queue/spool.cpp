// Spool files: written in spool/tmp/, made durable (fsync file, rename, fsync folder) by commit().
// Promise: a name returned by commit() names a complete file that survives a crash or power loss.
#include "queue/spool.hpp"

#include "util/fs.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <random>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace pb::queue {

namespace {

constexpr std::size_t kBufferSize = 64 * 1024;
constexpr int kNameAttempts = 8;  // O_EXCL collisions need the same time, pid, counter AND random

[[noreturn]] void throw_errno(int err, const std::string& what, const std::filesystem::path& p) {
  // system_error::what() then reads "write /var/lib/postbridge/spool/tmp/x.tmp: No space left on device".
  throw std::system_error(err, std::generic_category(), what + " " + p.string());
}

// time + pid + per-process counter + random: unique across restarts, processes and threads.
std::string unique_stem() {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};

  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);

  char name[96];
  std::snprintf(name, sizeof name, "%s-%ld-%llu-%08llx", stamp, static_cast<long>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1) + 1),
                static_cast<unsigned long long>(rng() & 0xffffffffULL));
  return name;
}

void write_all(int fd, const char* data, std::size_t n, const std::filesystem::path& p) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "write", p);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

void check_spool_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw std::invalid_argument("invalid spool file name '" + name + "'");
}

// --- SpoolFile -----------------------------------------------------------------------------

SpoolFile::SpoolFile(const std::filesystem::path& spool_dir) : dir_(spool_dir) {
  const auto tmp_dir = dir_ / "tmp";
  fs::ensure_dir(tmp_dir, 0750);
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    std::string stem = unique_stem();
    auto path = tmp_dir / (stem + ".tmp");
    int fd = fs::open_own(path, O_CREAT | O_EXCL | O_WRONLY, 0640);
    if (fd >= 0) {
      fd_ = fd;
      tmp_path_ = std::move(path);
      name_ = stem + ".msg";
      buf_.reserve(kBufferSize);
      return;
    }
    if (errno != EEXIST) throw_errno(errno, "create", path);
  }
  throw_errno(EEXIST, "create a unique spool file in", tmp_dir);
}

SpoolFile::SpoolFile(SpoolFile&& o) noexcept
    : dir_(std::move(o.dir_)),
      tmp_path_(std::exchange(o.tmp_path_, {})),
      name_(std::move(o.name_)),
      fd_(std::exchange(o.fd_, -1)),
      buf_(std::move(o.buf_)),
      size_(o.size_),
      committed_(o.committed_) {}

SpoolFile::~SpoolFile() {
  if (fd_ >= 0) ::close(fd_);
  // Not committed: nobody was promised this message, so removing it loses nothing.
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

void SpoolFile::write(std::string_view data) {
  if (fd_ < 0) throw std::logic_error("write to a closed spool file " + tmp_path_.string());
  if (buf_.size() + data.size() > kBufferSize) flush();
  if (data.size() >= kBufferSize) {
    write_all(fd_, data.data(), data.size(), tmp_path_);  // large block: skip the copy
  } else {
    buf_.append(data);
  }
  size_ += data.size();
}

void SpoolFile::flush() {
  if (buf_.empty()) return;
  write_all(fd_, buf_.data(), buf_.size(), tmp_path_);
  buf_.clear();
}

std::string SpoolFile::commit_deferred() {
  if (fd_ < 0) throw std::logic_error("commit of a closed spool file " + tmp_path_.string());
  flush();
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw_errno(errno, "close", tmp_path_);
  const auto final_path = dir_ / name_;
  if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) throw_errno(errno, "rename to", final_path);
  // Not durable yet, but no longer ours to delete: a file without a row after a crash is swept
  // at start-up as an orphan (nobody was promised it).
  tmp_path_ = final_path;
  committed_ = true;
  return name_;
}

int remove_orphans(const std::filesystem::path& spool_dir, const std::unordered_set<std::string>& referenced) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(spool_dir, ec)) {
    const auto name = entry.path().filename().string();
    if (!entry.is_regular_file() || !name.ends_with(".msg") || referenced.contains(name)) continue;
    if (std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  if (removed > 0) log::info("spool: removed " + std::to_string(removed) + " file(s) left by an interrupted run");
  return removed;
}

void sync_spool(const std::filesystem::path& spool_dir) {
  int fd = ::open(spool_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno(errno, "open", spool_dir);
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw_errno(err, "syncfs", spool_dir);
}

std::string SpoolFile::commit() {
  if (fd_ < 0) throw std::logic_error("commit of a closed spool file " + tmp_path_.string());
  flush();
  if (::fsync(fd_) != 0) throw_errno(errno, "fsync", tmp_path_);
  int fd = std::exchange(fd_, -1);
  // close() can report a deferred write error (NFS, quotas): the data is not safe then.
  if (::close(fd) != 0) throw_errno(errno, "close", tmp_path_);

  const auto final_path = dir_ / name_;
  if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) throw_errno(errno, "rename to", final_path);
  // From here the file to clean up on failure is the renamed one: until the folder is fsync'd
  // the rename may not survive a crash, so the caller must not record it.
  tmp_path_ = final_path;
  fs::fsync_path(dir_);
  committed_ = true;
  return name_;
}

void SpoolFile::abandon() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  tmp_path_.clear();
  buf_.clear();
}

// --- SpoolReader ---------------------------------------------------------------------------

SpoolReader::SpoolReader(const std::filesystem::path& spool_dir, const std::string& name) {
  check_spool_name(name);
  const auto path = spool_dir / name;
  fd_ = fs::open_own(path, O_RDONLY);  // a link in a spool file's place is refused, never followed
  if (fd_ < 0) throw_errno(errno, "open", path);
  struct stat st{};
  if (::fstat(fd_, &st) != 0) {
    int err = errno;
    ::close(std::exchange(fd_, -1));
    throw_errno(err, "stat", path);
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  path_ = path;
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint only: failure changes nothing
}

SpoolReader::~SpoolReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t SpoolReader::read(char* buf, std::size_t n) {
  for (;;) {
    ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno != EINTR) throw_errno(errno, "read", path_);
  }
}

// --- folder maintenance --------------------------------------------------------------------

void remove_spool_file(const std::filesystem::path& spool_dir, const std::string& name) {
  check_spool_name(name);
  const auto path = spool_dir / name;
  // No folder fsync: a file that reappears after a crash is only an orphan, never a lost message.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno(errno, "remove", path);
}

std::optional<std::uint64_t> available_space(const std::filesystem::path& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

void clean_spool_tmp(const std::filesystem::path& spool_dir) {
  const auto tmp_dir = spool_dir / "tmp";
  // Everything in it is removed: through a link that would be another folder's content.
  fs::check_no_link(tmp_dir, "folder");
  std::error_code ec;
  std::filesystem::directory_iterator it(tmp_dir, ec), end;
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return;
    throw std::system_error(ec, "list " + tmp_dir.string());
  }
  int removed = 0;
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::system_error(ec, "list " + tmp_dir.string());
    const auto& p = it->path();
    std::error_code rm;
    std::filesystem::remove_all(p, rm);  // files normally; a stray folder must not block start-up
    if (rm) throw std::system_error(rm, "remove " + p.string());
    ++removed;
  }
  if (ec) throw std::system_error(ec, "list " + tmp_dir.string());
  if (removed > 0)
    log::info("removed " + std::to_string(removed) + " unfinished spool file(s) from " + tmp_dir.string());
}

}  // namespace pb::queue
