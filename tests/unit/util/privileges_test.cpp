// become() and forbid_core_dumps() in forked children (giving up root cannot be undone, so the
// test process itself keeps it): ids, groups and capabilities read back from the kernel. As root
// only, the way the tests run; elsewhere each case says it did not run.
#include "util/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <functional>

namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

// Runs `child` in a forked process; its return value (0 = every check held, else the number of
// the check that failed) becomes the exit code returned here.
int in_child(const std::function<int()>& child) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 99;
    try {
      rc = child();
    } catch (...) {
      rc = 98;
    }
    ::_exit(rc);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

// Ports below this need CAP_NET_BIND_SERVICE (the sysctl net.ipv4.ip_unprivileged_port_start;
// a container may set it to 0, and then a refused bind proves nothing).
int unprivileged_port_start() {
  FILE* f = std::fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
  int start = 1024;
  if (f) {
    if (std::fscanf(f, "%d", &start) != 1) start = 1024;
    std::fclose(f);
  }
  return start;
}

bool root() {
  if (::geteuid() == 0) return true;
  WARN("not run: giving up root needs root (the test suite runs as root)");
  return false;
}

std::uint32_t capabilities(bool effective) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return 0xffffffff;
  return effective ? data[0].effective : data[0].permitted;
}

// Some port below 1024 on 127.0.0.1 binds (EADDRINUSE: another one is tried); errno otherwise.
int bind_low_port() {
  for (int port = 1023; port > 600; --port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int err = errno;
    ::close(fd);
    if (rc == 0) return 0;
    if (err != EADDRINUSE) return err;
  }
  return EADDRINUSE;
}

}  // namespace

TEST_CASE("become: user, group and no supplementary groups, for good", "[privileges]") {
  if (!root()) return;
  CHECK(in_child([] {
          gid_t extra = 4;  // a supplementary group the drop must remove
          if (::setgroups(1, &extra) != 0) return 1;
          pb::priv::become(kNobody, kNogroup, false);
          uid_t r, e, s;
          gid_t rg, eg, sg;
          ::getresuid(&r, &e, &s);
          ::getresgid(&rg, &eg, &sg);
          if (r != kNobody || e != kNobody || s != kNobody) return 2;
          if (rg != kNogroup || eg != kNogroup || sg != kNogroup) return 3;
          if (::getgroups(0, nullptr) != 0) return 4;
          if (::setresuid(0, 0, 0) == 0 || ::setuid(0) == 0 || ::setgid(0) == 0) return 5;
          if (capabilities(false) != 0 || capabilities(true) != 0) return 6;
          if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 7;
          if (unprivileged_port_start() > 1023 && bind_low_port() != EACCES) return 8;  // no port 25
          return 0;
        }) == 0);
}

TEST_CASE("become: keep_bind_service keeps exactly CAP_NET_BIND_SERVICE", "[privileges]") {
  if (!root()) return;
  CHECK(in_child([] {
          pb::priv::become(kNobody, kNogroup, true);
          const std::uint32_t bind = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
          if (capabilities(false) != bind || capabilities(true) != bind) return 1;
          if (::setresuid(0, 0, 0) == 0) return 2;
          if (::prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0) return 3;
          if (bind_low_port() != 0) return 4;
          return 0;
        }) == 0);
}

TEST_CASE("become: refused when not root", "[privileges]") {
  if (!root()) return;
  CHECK(in_child([] {
          pb::priv::become(kNobody, kNogroup, false);
          try {
            pb::priv::become(kNobody, kNogroup, false);
          } catch (const std::system_error& e) {
            return std::string(e.what()).find("giving up root") != std::string::npos ? 0 : 2;
          }
          return 1;
        }) == 0);
}

TEST_CASE("forbid_core_dumps: the process is no longer dumpable", "[privileges]") {
  CHECK(in_child([] {
          if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) return 1;  // the default, for the proof
          pb::priv::forbid_core_dumps();
          return ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : 2;
        }) == 0);
}
