// Why switch rather than chown afterwards: every file operation after the switch is made with the
// owner's rights, so a link an owner planted (oauth -> /etc) reaches nothing the owner could not
// already reach, and files are born with the right owner — no chown that could follow a link.
#include "app/state_owner.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/privileges.hpp"

namespace pb::app {

std::optional<StateOwner> state_owner(const std::filesystem::path& state_dir) {
  // The state folder itself may be an admin's link (/var/lib/postbridge -> /srv/pb): stat follows
  // it to the folder that is used.
  for (std::filesystem::path p = std::filesystem::absolute(state_dir).lexically_normal();; p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) return StateOwner{st.st_uid, st.st_gid, p};
    if (p == p.parent_path()) return std::nullopt;
  }
}

std::string become_state_owner(const config::Config& cfg, bool keep_bind_service) {
  if (::geteuid() != 0) return "";
  auto owner = state_owner(cfg.service.state_dir);
  if (!owner || owner->uid == 0) return "";
  priv::become(owner->uid, owner->gid, keep_bind_service);
  const passwd* pw = ::getpwuid(owner->uid);
  const std::string ids = "uid " + std::to_string(owner->uid) + ", gid " + std::to_string(owner->gid);
  const std::string who = pw ? std::string(pw->pw_name) + " (" + ids + ")" : ids;
  const std::filesystem::path state = std::filesystem::absolute(cfg.service.state_dir).lexically_normal();
  return "running as " + who + ", not as root: the owner of " +
         (owner->folder == state ? "the state folder " + state.string()
                                 : owner->folder.string() + ", where the state folder " + state.string() + " goes");
}

}  // namespace pb::app
