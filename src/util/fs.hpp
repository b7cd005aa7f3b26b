// Durable file-system primitives (the no-loss rule rests on these: fsync file, then its folder),
// and the rule that a symbolic link is never followed where postbridge keeps a folder or file of its own.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pb::fs {

// A symbolic link where postbridge keeps a folder or file of its own (state_dir/oauth, spool,
// postbridge.db, a token file, a backup folder). Whoever can write the state folder could point
// such a link anywhere — at /etc, when root runs a command — so it is refused, never followed.
// what() names the path, the link's target and the fix.
class LinkRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws std::system_error with the path in the message.
void fsync_path(const std::filesystem::path& p);       // open O_RDONLY + fsync (works for folders)
void fsync_parent(const std::filesystem::path& p);     // fsync the folder holding p
// mkdir -p. The folders above p are taken as named (/var/lib/postbridge may be an admin's link);
// p itself must be a real folder: a link there is LinkRefused. A folder it creates gets exactly
// `mode` (whatever the umask); an existing one keeps its own. std::system_error otherwise.
void ensure_dir(const std::filesystem::path& p, unsigned mode = 0750);
// LinkRefused when p is a symbolic link; nothing when it is anything else or does not exist.
// `what` says what belongs there: "folder" or "file".
void check_no_link(const std::filesystem::path& p, std::string_view what);
// open(2) with O_NOFOLLOW | O_CLOEXEC added: a link is LinkRefused; any other failure returns -1
// with errno set, for the caller's own words.
int open_own(const std::filesystem::path& p, int flags, unsigned mode = 0);
// A small file of postbridge's own, whole, opened as open_own does: nullopt when it does not
// exist; std::length_error when larger than max_size; std::runtime_error when it is not a regular
// file; std::system_error (with the path) when the system refuses.
std::optional<std::string> read_own_file(const std::filesystem::path& p, std::uintmax_t max_size);
// Replaces `target` with `data` whole, or leaves it as it was: a temporary file beside it made
// with O_EXCL | O_NOFOLLOW (never through a link, never over a file someone else just made),
// given exactly `mode` by fchmod (whatever the umask), written and fsync'd, renamed over the
// target (a hard link in target's place is replaced, not written through), then the folder
// fsync'd. std::system_error with the path otherwise.
void replace_own_file(const std::filesystem::path& target, std::string_view data, unsigned mode);
std::string read_file(const std::filesystem::path& p); // whole small file (configs, secrets)

}  // namespace pb::fs
