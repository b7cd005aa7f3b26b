// setgroups/setresgid/setresuid with every step checked, capset by the raw system call (the kernel's
// documented interface; no libcap for one capability), prctl for dumpable and no_new_privs.
#include "util/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace pb::priv {

namespace {

[[noreturn]] void fail(const std::string& step, int err = errno) {
  throw std::system_error(err, std::generic_category(), "giving up root: " + step);
}

// Capabilities of this thread: permitted = effective = `keep` (a CAP_TO_MASK set of the first 32),
// inheritable none. capabilities(7): a process may only shrink its permitted set.
void set_capabilities(std::uint32_t keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  data[0].permitted = data[0].effective = keep;
  if (::syscall(SYS_capset, &header, data) != 0) fail("capset");
}

void check_identity(uid_t uid, gid_t gid) {
  uid_t ru = 0, eu = 0, su = 0;
  gid_t rg = 0, eg = 0, sg = 0;
  if (::getresuid(&ru, &eu, &su) != 0 || ::getresgid(&rg, &eg, &sg) != 0) fail("reading back the ids");
  if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
    fail("the ids did not change to " + std::to_string(uid) + ":" + std::to_string(gid), EPERM);
  if (::getgroups(0, nullptr) != 0) fail("supplementary groups are left", EPERM);
  // The proof that it cannot be undone: root refuses to come back.
  if (uid != 0 && ::setresuid(0, 0, 0) == 0) fail("setresuid(0) still works", EPERM);
}

}  // namespace

void become(uid_t uid, gid_t gid, bool keep_bind_service) {
  if (::geteuid() != 0) fail("not running as root", EPERM);
  // Keep the permitted set across setresuid (it would be cleared), to shrink it to one below.
  if (keep_bind_service && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail("prctl(PR_SET_KEEPCAPS)");
  // Groups first: after setresuid there is no right left to change them.
  if (::setgroups(0, nullptr) != 0) fail("setgroups(0)");
  if (::setresgid(gid, gid, gid) != 0) fail("setresgid(" + std::to_string(gid) + ")");
  if (::setresuid(uid, uid, uid) != 0) fail("setresuid(" + std::to_string(uid) + ")");
  if (keep_bind_service) {
    set_capabilities(CAP_TO_MASK(CAP_NET_BIND_SERVICE));
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail("prctl(PR_SET_KEEPCAPS, 0)");
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("prctl(PR_SET_NO_NEW_PRIVS)");
  check_identity(uid, gid);
}

void forbid_core_dumps() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    throw std::system_error(errno, std::generic_category(), "prctl(PR_SET_DUMPABLE, 0)");
}

}  // namespace pb::priv
