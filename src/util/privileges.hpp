// Giving up root for good, and keeping secrets out of core dumps: the mechanics only (which user
// to become is the caller's policy). Promise: after become() returns, no call can regain root.
#pragma once
#include <sys/types.h>

namespace pb::priv {

// Drops the supplementary groups (setgroups(0)), then setresgid, then setresuid to uid/gid — real,
// effective and saved alike — and checks each step and the result: getresuid/getresgid read back,
// no groups left, setresuid(0) refused. PR_SET_NO_NEW_PRIVS is set, so no set-user-ID program
// run later gains anything either. keep_bind_service: CAP_NET_BIND_SERVICE stays (permitted and
// effective, nothing else), as the systemd unit's AmbientCapabilities gives it, so a listener
// can still open port 25 and reopen it at a reload. Must be called as root (euid 0).
// Throws std::system_error naming the step that failed; the process must then stop.
void become(uid_t uid, gid_t gid, bool keep_bind_service);

// prctl(PR_SET_DUMPABLE, 0): no core dump, and processes of the same user cannot read this one's
// memory through ptrace or /proc/PID/mem (root with CAP_SYS_PTRACE still can). Throws
// std::system_error when the kernel refuses.
void forbid_core_dumps();

}  // namespace pb::priv
