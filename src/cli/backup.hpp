// `postbridge backup -c FILE DEST`: a consistent copy of the state folder while the service runs —
// the database as one snapshot (SQLite VACUUM INTO), the spool file of every message that
// snapshot still has to deliver, the loop key and the OAuth sign-ins. Restore: stop the service,
// put DEST's contents in state_dir.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "config/config.hpp"

namespace pb::cli {

struct BackupResult {
  std::filesystem::path dest;
  std::size_t spool_files = 0;  // one per undelivered message
  std::size_t key_files = 0;    // loop.key and the OAuth token files
  std::uint64_t bytes = 0;      // database + spool files
  int attempts = 1;             // snapshots taken (a message delivered mid-copy forces another)
};

// DEST is a new folder (or an empty one of the user running this), mode 0700; a symbolic link
// there is refused. The copy belongs to whoever runs this — as root, the state folder's owner
// (cli::with_config switches to it), so a restore gives the service back files it can use.
// Throws std::runtime_error in plain words (DEST not empty, not creatable by that user, disk
// full, ...); leaves no partial backup behind.
BackupResult backup_state(const config::Config& cfg, const std::filesystem::path& dest);

}  // namespace pb::cli
