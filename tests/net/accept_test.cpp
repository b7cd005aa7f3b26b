// The one accept loop of the relay and the status page (net/accept): connections are handed over
// until the acceptor closes, and a process out of file descriptors (EMFILE) logs once, pauses,
// and accepts the waiting client once a descriptor is free again — never a busy loop.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "net/accept.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<tcp::acceptor> loopback_listener(asio::io_context& io) {
  boost::system::error_code ec;
  auto acc = pb::net::listen_on(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ec);
  REQUIRE_FALSE(ec);
  return acc;
}

// fd 2 pointed at a temporary file while the object lives; text() is what was written.
class StderrCapture {
 public:
  StderrCapture() : file_(std::tmpfile()), saved_(dup(2)) { dup2(fileno(file_), 2); }
  ~StderrCapture() {
    dup2(saved_, 2);
    close(saved_);
    std::fclose(file_);
  }
  std::string text() const {
    std::fflush(stderr);
    std::string out;
    std::rewind(file_);
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, file_)) out.append(buf, n);
    return out;
  }

 private:
  std::FILE* file_;
  int saved_;
};

// Runs io until done() holds or 10 s pass: a condition, not a wall-clock guess, so a loaded CI
// machine only makes the test slower, never red.
template <class Done>
void run_until(asio::io_context& io, Done done) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!done() && std::chrono::steady_clock::now() < give_up) io.run_for(10ms);
}

[[maybe_unused]] int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("accept loop: each connection is handed over until the acceptor closes", "[net][accept]") {
  asio::io_context io;
  auto acc = loopback_listener(io);
  int accepted = 0;
  bool ended = false;
  asio::co_spawn(io, pb::net::accept_loop(*acc, "test", "127.0.0.1", [&](tcp::socket) { ++accepted; }),
                 [&](std::exception_ptr) { ended = true; });
  tcp::socket a(io), b(io);
  a.connect(acc->local_endpoint());
  b.connect(acc->local_endpoint());
  run_until(io, [&] { return accepted == 2; });
  CHECK(accepted == 2);
  CHECK_FALSE(ended);
  acc->close();
  run_until(io, [&] { return ended; });
  CHECK(ended);
}

// Not in the sanitizer build: with every descriptor taken, UBSan's own check of a virtual call in
// Asio's scheduler cannot open the pipe it probes memory with and reports a false "invalid vptr".
#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("accept loop: out of file descriptors it logs once, pauses and recovers", "[net][accept]") {
  asio::io_context io;
  auto acc = loopback_listener(io);
  tcp::socket client(io);
  client.connect(acc->local_endpoint());  // waits in the backlog while no descriptor is free
  StderrCapture err;
  int accepted = 0;
  asio::co_spawn(io, pb::net::accept_loop(*acc, "test", "127.0.0.1:1", [&](tcp::socket) { ++accepted; }),
                 asio::detached);

  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  const int highest = dup(0);
  REQUIRE(highest >= 0);
  close(highest);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(highest + 4);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> spare;
  for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;) spare.push_back(fd);
  io.run_for(350ms);  // failed accepts, 100 ms apart (at least the first, however slow the machine)
  const int accepted_while_full = accepted;
  for (int fd : spare) close(fd);
  setrlimit(RLIMIT_NOFILE, &saved);
  run_until(io, [&] { return accepted == 1; });

  CHECK(accepted_while_full == 0);
  CHECK(accepted == 1);
  const std::string log = err.text();
  INFO(log);
  CHECK(count_of(log, "test: cannot accept connections on 127.0.0.1:1: ") == 1);
  CHECK(count_of(log, "(retrying every 100 ms)") == 1);
  CHECK(count_of(log, "test: accepting connections on 127.0.0.1:1 again") == 1);
}
#endif
