// Spool files: one file per message in STATE_DIR/spool. A message is written to spool/tmp/, then
// commit() fsyncs it, renames it into spool/ and fsyncs the folder: only then may a row point at it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace pb::queue {

// A spool name comes from the database: std::invalid_argument for anything but a plain file name
// (empty, ".", "..", a '/', a NUL), which could point outside the spool.
void check_spool_name(const std::string& name);

class SpoolFile {
 public:
  // Creates spool/tmp/<unique>.tmp (O_EXCL, mode 0640). Throws std::system_error, or
  // fs::LinkRefused when spool/tmp is a symbolic link.
  explicit SpoolFile(const std::filesystem::path& spool_dir);
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;
  SpoolFile(SpoolFile&&) noexcept;
  ~SpoolFile();  // removes the temp file unless committed

  // Buffered append (64 KiB buffer; large writes go straight through). Throws on I/O error.
  void write(std::string_view data);
  std::uint64_t size() const { return size_; }
  // Flush, fsync, rename to spool/<name>, fsync spool/. Returns the final name (not a path).
  std::string commit();
  // Group commit, first half: flush, close and rename without any fsync. The file is NOT durable
  // until sync_spool() returns; only then may a row point at it. Many messages then share one
  // sync instead of paying two fsyncs each (6.5 ms apiece on the test machine's disk).
  std::string commit_deferred();
  void abandon();  // remove now (e.g. message over the size limit, session failed)

 private:
  void flush();
  std::filesystem::path dir_, tmp_path_;
  std::string name_;
  int fd_ = -1;
  std::string buf_;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

// Reads a committed spool file in chunks (used by the SMTP/LMTP client to stream it).
class SpoolReader {
 public:
  // Throws std::system_error; fs::LinkRefused when the file is a symbolic link (never followed).
  SpoolReader(const std::filesystem::path& spool_dir, const std::string& name);
  ~SpoolReader();
  SpoolReader(const SpoolReader&) = delete;
  SpoolReader& operator=(const SpoolReader&) = delete;
  // Fills up to buf.size() bytes; returns 0 at end of file.
  std::size_t read(char* buf, std::size_t n);
  std::uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::filesystem::path path_;  // for error messages
};

// Group commit, second half: makes every file written so far on the spool's file system durable,
// renames included (syncfs(2)). Throws std::system_error.
void sync_spool(const std::filesystem::path& spool_dir);
// Removes spool/<name> (after delivery). Missing files are not an error.
void remove_spool_file(const std::filesystem::path& spool_dir, const std::string& name);
// Start-up clean-up: removes spool/*.msg files that no queue row names (written, but the process
// died before the row was committed: nobody was promised them). Returns how many were removed.
int remove_orphans(const std::filesystem::path& spool_dir, const std::unordered_set<std::string>& referenced);
// Start-up clean-up: removes spool/tmp/* (never acknowledged, so never promised to anyone);
// fs::LinkRefused when spool/tmp is a symbolic link.
void clean_spool_tmp(const std::filesystem::path& spool_dir);
// Bytes an unprivileged writer may still use on the file system of `dir` (statvfs f_bavail);
// nullopt when it cannot be asked (then writes fail on their own, with their own words).
std::optional<std::uint64_t> available_space(const std::filesystem::path& dir);

}  // namespace pb::queue
