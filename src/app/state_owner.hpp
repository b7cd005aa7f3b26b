// Root at the command line: a command that reads or writes the state folder first becomes the
// folder's owner, for good, so nothing it creates belongs to root and no link there leads root on.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace pb::app {

// Who the state folder belongs to: the folder's owner and group, or — while it does not exist
// yet — those of the nearest folder above it, where it will be created. nullopt when not even
// "/" can be looked at.
struct StateOwner {
  uid_t uid = 0;
  gid_t gid = 0;
  std::filesystem::path folder;  // the one whose owner this is
};
std::optional<StateOwner> state_owner(const std::filesystem::path& state_dir);

// As root (euid 0), with a state folder (see state_owner) that belongs to another user: becomes
// that user and group irreversibly (pb::priv::become; keep_bind_service for `run`, which may
// listen on port 25, as the systemd unit allows) and returns a line saying so. Returns "" when
// nothing changes: not root, or the folder belongs to root (a developer's root-owned state
// folder keeps working as before). Call it after the config and its secrets are read (a
// password file may be root's only) and before anything touches the state folder or starts a
// thread. Throws std::system_error when a step of giving up root fails: the command must stop.
std::string become_state_owner(const config::Config& cfg, bool keep_bind_service);

}  // namespace pb::app
