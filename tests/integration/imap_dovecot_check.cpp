// Test helper for test_imap_dovecot.sh: drives imap::Client against the harness's real Dovecot.
// Promises: one line per step on stdout ("selected ...", "fetched ..."), exit 1 with the error's words otherwise.
//
// Usage: imap_dovecot_check HOST PORT starttls|implicit CA_FILE USER PASSWORD_FILE OUT_DIR EXPUNGE_COUNT IDLE_MS
// Logs in, selects INBOX, lists UIDs and sizes, fetches every message into OUT_DIR/<uid>.eml
// (checking each size against the listing), marks the first EXPUNGE_COUNT UIDs \Deleted and UID
// EXPUNGEs them, lists again, idles IDLE_MS milliseconds (0: not at all; negative: prints
// "idling" first, for a test that delivers new mail meanwhile) and logs out.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "imap/client.hpp"
#include "net/transport.hpp"

namespace asio = boost::asio;
using namespace pb;

namespace {

struct Args {
  std::string host, mode, ca, user, password, out;
  std::uint16_t port = 0;
  std::size_t expunge = 0;
  long idle_ms = 0;
};

// Writes each message to OUT_DIR/<uid>.eml as it streams in; remembers the sizes.
class FileSink final : public imap::FetchSink {
 public:
  explicit FileSink(std::string dir) : dir_(std::move(dir)) {}
  void begin(std::uint32_t uid, std::uint64_t size) override {
    file_.open(dir_ + "/" + std::to_string(uid) + ".eml", std::ios::binary | std::ios::trunc);
    if (!file_) throw std::runtime_error("cannot write into " + dir_);
    announced[uid] = size;
    written[uid] = 0;
    current_ = uid;
  }
  void data(std::string_view bytes) override {
    file_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    written[current_] += bytes.size();
  }
  void end(std::uint32_t) override { file_.close(); }
  void missing(std::uint32_t uid, const std::string& why) override {
    throw std::runtime_error("UID " + std::to_string(uid) + " was not fetched: " + why);
  }
  std::map<std::uint32_t, std::uint64_t> announced, written;

 private:
  std::string dir_;
  std::ofstream file_;
  std::uint32_t current_ = 0;
};

asio::awaitable<void> check(Args a) {
  net::TlsClientOptions tls;
  tls.ca_file = a.ca;
  tls.server_name = a.host;
  bool implicit = a.mode == "implicit";
  auto transport = co_await net::connect(a.host, a.port, implicit, tls, std::chrono::seconds(10));
  imap::ClientOptions o;
  o.security = implicit ? imap::Security::implicit : imap::Security::starttls;
  o.username = a.user;
  o.password = a.password;
  o.timeout = std::chrono::seconds(10);
  o.fetch_batch = 4;  // several pipelined batches even for a small mailbox
  imap::Client c(*transport, o);
  co_await c.open();
  std::cout << "login " << c.login_method() << " over " << transport->tls_description() << "\n";
  auto box = co_await c.select("INBOX");
  std::cout << "selected INBOX uidvalidity " << box.uidvalidity << " exists " << box.exists << "\n";
  auto listing = co_await c.list_uids();
  std::cout << "listed " << listing.size() << "\n";
  std::vector<std::uint32_t> uids;
  for (const auto& e : listing) uids.push_back(e.uid);
  FileSink sink(a.out);
  co_await c.fetch(uids, sink);
  std::uint64_t total = 0;
  for (const auto& e : listing) {
    if (sink.written[e.uid] != e.size || sink.announced[e.uid] != e.size)
      throw std::runtime_error("UID " + std::to_string(e.uid) + ": listed " + std::to_string(e.size) + " bytes, got " +
                               std::to_string(sink.written[e.uid]));
    total += e.size;
  }
  std::cout << "fetched " << sink.written.size() << " bytes " << total << "\n";
  std::vector<std::uint32_t> gone(uids.begin(), uids.begin() + static_cast<std::ptrdiff_t>(std::min(a.expunge, uids.size())));
  if (!gone.empty()) {
    co_await c.add_flag(gone, imap::Flag::deleted);
    co_await c.expunge(gone);
  }
  auto after = co_await c.list_uids();
  std::cout << "expunged " << gone.size() << " left " << after.size() << " exists " << c.exists() << "\n";
  if (a.idle_ms != 0) {
    // Negative: the test delivers mail meanwhile; "idling" tells it when (flushed before IDLE).
    if (a.idle_ms < 0) std::cout << "idling" << std::endl;
    auto r = co_await c.idle(std::chrono::milliseconds(a.idle_ms < 0 ? -a.idle_ms : a.idle_ms));
    std::cout << "idle new_mail " << r.new_mail << " exists " << r.exists << "\n";
  }
  bool logged_out = co_await c.logout();
  std::cout << "logout " << (logged_out ? "ok" : "failed") << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 10) {
    std::cerr << "usage: imap_dovecot_check HOST PORT starttls|implicit CA USER PASSWORD_FILE OUT_DIR EXPUNGE IDLE_MS\n";
    return 2;
  }
  Args a;
  a.host = argv[1];
  a.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  a.mode = argv[3];
  a.ca = argv[4];
  a.user = argv[5];
  std::ifstream pw(argv[6]);
  std::getline(pw, a.password);
  a.out = argv[7];
  a.expunge = static_cast<std::size_t>(std::atol(argv[8]));
  a.idle_ms = std::atol(argv[9]);
  asio::io_context ctx;
  int rc = 0;
  asio::co_spawn(ctx, check(a), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::cout << "error: " << x.what() << "\n";
      rc = 1;
    }
  });
  ctx.run();
  return rc;
}
