// The copy is consistent because the snapshot decides: a spool file is copied only if the
// snapshot's rows still need it. The service deletes a spool file only after the row saying
// "delivered" is committed, so a file missing during the copy means a newer state exists: then
// the snapshot is taken again (bounded), never a backup whose queue names a missing file.
#include "cli/backup.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cerrno>
#include <cstdio>
#include <system_error>
#include <vector>

#include "app/service.hpp"
#include "cli/command.hpp"
#include "queue/spool.hpp"
#include "queue/store.hpp"
#include "util/units.hpp"
#include "util/fs.hpp"

namespace pb::cli {
namespace stdfs = std::filesystem;

namespace {

constexpr int kMaxAttempts = 10;

std::vector<std::string> undelivered_spool_names(const stdfs::path& db_file) {
  SQLite::Database db(db_file.string(), SQLite::OPEN_READONLY);
  std::string check = db.execAndGet("PRAGMA integrity_check").getString();
  if (check != "ok") throw std::runtime_error("the copied database fails its integrity check: " + check);
  std::vector<std::string> names;
  SQLite::Statement q(db, "SELECT spool_name FROM messages WHERE state <> 'delivered'");
  while (q.executeStep()) names.push_back(q.getColumn(0).getString());
  return names;
}

// Copies the named spool files; false when one has gone (delivered since the snapshot).
bool copy_spool(const stdfs::path& from, const stdfs::path& to, const std::vector<std::string>& names,
                BackupResult& res) {
  for (const auto& name : names) {
    queue::check_spool_name(name);  // a database made by someone else must not name files outside
    fs::check_no_link(from / name, "file");  // copy_file would copy whatever a link points at
    std::error_code ec;
    if (!stdfs::copy_file(from / name, to / name, ec)) {
      if (ec == std::errc::no_such_file_or_directory) return false;
      throw std::runtime_error("cannot copy " + (from / name).string() + " to " + to.string() + ": " + ec.message());
    }
    fs::fsync_path(to / name);
    res.bytes += stdfs::file_size(to / name);
    ++res.spool_files;
  }
  fs::fsync_path(to);
  return true;
}

// The small files a restore needs besides the queue: the loop key (without it, a restored
// gateway no longer recognises its own loop marks) and the OAuth sign-ins (without them every
// OAuth mailbox and smarthost waits for a person to sign in again). Copied as regular files only.
void copy_keys(const stdfs::path& state, const stdfs::path& dest, BackupResult& res) {
  auto copy_one = [&](const stdfs::path& from, const stdfs::path& to) {
    fs::check_no_link(from, "file");
    std::error_code ec;
    if (!stdfs::is_regular_file(stdfs::symlink_status(from))) return;
    if (!stdfs::copy_file(from, to, ec))
      throw std::runtime_error("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
    stdfs::permissions(to, stdfs::perms::owner_read | stdfs::perms::owner_write, stdfs::perm_options::replace);
    fs::fsync_path(to);
    res.bytes += stdfs::file_size(to);
    ++res.key_files;
  };
  copy_one(state / "loop.key", dest / "loop.key");
  const stdfs::path tokens = state / "oauth";
  if (!stdfs::exists(stdfs::symlink_status(tokens))) return;
  fs::check_no_link(tokens, "folder");
  fs::ensure_dir(dest / "oauth", 0700);
  for (const auto& entry : stdfs::directory_iterator(tokens))
    if (entry.is_regular_file(/* no link: */) && !entry.is_symlink()) copy_one(entry.path(), dest / "oauth" / entry.path().filename());
  fs::fsync_path(dest / "oauth");
}

std::string user_name(uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw ? std::string(pw->pw_name) : "uid " + std::to_string(uid);
}

// DEST is often in a shared place (/tmp, a mount): a link there, or a folder someone else made
// ready, would hand the copied mail to whoever made it.
void check_dest(const stdfs::path& dest) {
  fs::check_no_link(dest, "folder");
  struct stat st {};
  if (::lstat(dest.c_str(), &st) != 0) return;  // new: created below
  if (!S_ISDIR(st.st_mode) || !stdfs::is_empty(dest))
    throw std::runtime_error(dest.string() + " exists and is not an empty folder: choose a new one");
  if (st.st_uid != ::geteuid())
    throw std::runtime_error(dest.string() + " belongs to " + user_name(st.st_uid) + ", not to " +
                             user_name(::geteuid()) + ", who writes the backup: choose a new folder");
}

void prepare_dest(const stdfs::path& dest) {
  check_dest(dest);
  try {
    fs::ensure_dir(dest, 0700);
  } catch (const std::system_error& e) {
    if (e.code() != std::errc::permission_denied && e.code() != std::errc::operation_not_permitted) throw;
    // As root, the command works as the state folder's owner (cli::with_config): say who needs the right.
    const std::string who = user_name(::geteuid());
    throw std::runtime_error("cannot create the backup folder " + dest.string() + ": " + e.code().message() +
                             "; the backup is written as " + who + ", who needs to be able to create it: choose "
                             "a folder " + who + " may write, e.g. install -d -o " + who + " -m 700 "
                             "/var/backups/postbridge, then back up into a new folder in there");
  }
  // The check above saw a name; the folder now there may have been made meanwhile by someone
  // else (a shared /tmp): the descriptor says whose it is, and gets 0700 (mail is private).
  int fd = fs::open_own(dest, O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open the backup folder " + dest.string());
  struct stat st {};
  const bool ours = ::fstat(fd, &st) == 0 && st.st_uid == ::geteuid();
  const bool private_now = ours && ::fchmod(fd, 0700) == 0;
  const int chmod_err = errno;
  ::close(fd);
  if (!ours)
    throw std::runtime_error(dest.string() + " was made by " + user_name(st.st_uid) + " while the backup started, not by " +
                             user_name(::geteuid()) + ", who writes the backup: choose a new folder");
  if (!private_now) throw std::system_error(chmod_err, std::generic_category(), "chmod 700 " + dest.string());
}

}  // namespace

BackupResult backup_state(const config::Config& cfg, const stdfs::path& dest_in) {
  const stdfs::path dest = stdfs::absolute(dest_in);
  const stdfs::path state = cfg.service.state_dir;
  if (dest == state || dest.string().starts_with(state.string() + "/"))
    throw std::runtime_error("the backup must not go into the state folder " + state.string());
  prepare_dest(dest);
  queue::Store store(state);
  BackupResult res;
  res.dest = dest;
  try {
    for (res.attempts = 1;; ++res.attempts) {
      stdfs::remove_all(dest / "spool");
      stdfs::remove(dest / "postbridge.db");
      res.spool_files = 0;
      store.snapshot_to(dest / "postbridge.db");
      res.bytes = stdfs::file_size(dest / "postbridge.db");
      fs::ensure_dir(dest / "spool", 0700);
      if (copy_spool(store.spool_dir(), dest / "spool", undelivered_spool_names(dest / "postbridge.db"), res)) break;
      if (res.attempts == kMaxAttempts)
        throw std::runtime_error("the queue kept changing during " + std::to_string(kMaxAttempts) +
                                 " snapshots; try again when less mail is moving");
    }
    copy_keys(state, dest, res);
    fs::fsync_path(dest);
  } catch (...) {
    std::error_code ignored;
    stdfs::remove_all(dest / "spool", ignored);
    stdfs::remove_all(dest / "oauth", ignored);
    stdfs::remove(dest / "postbridge.db", ignored);
    stdfs::remove(dest / "loop.key", ignored);
    throw;
  }
  return res;
}

int backup(config::Config& cfg, const Args& args) {
  if (args.operands.size() != 1) return usage_error("backup needs the folder to copy into: backup -c FILE DEST");
  ::umask(077);  // every file of the copy (the database VACUUM INTO makes, too) is the owner's only
  auto res = backup_state(cfg, args.operands[0]);
  std::printf("backup of %s in %s: database, %zu spool file(s) of undelivered mail and %zu key file(s) "
              "(loop key, OAuth sign-ins), %s%s\n",
              cfg.service.state_dir.c_str(), res.dest.c_str(), res.spool_files, res.key_files,
              format_size({res.bytes}).c_str(),
              res.attempts > 1 ? (" (" + std::to_string(res.attempts) + " snapshots: mail was moving)").c_str() : "");
  return app::kExitOk;
}

}  // namespace pb::cli
