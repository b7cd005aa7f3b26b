// Durable file-system primitives: the no-loss rule rests on these (fsync file, then its folder).
#pragma once
#include <filesystem>
#include <string>

namespace pb::fs {

// Throws std::system_error with the path in the message.
void fsync_path(const std::filesystem::path& p);       // open O_RDONLY + fsync (works for folders)
void fsync_parent(const std::filesystem::path& p);     // fsync the folder holding p
void ensure_dir(const std::filesystem::path& p, unsigned mode = 0750);  // mkdir -p with mode
std::string read_file(const std::filesystem::path& p); // whole small file (configs, secrets)

}  // namespace pb::fs
