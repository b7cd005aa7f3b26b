// Bounce policy tests: app::queue_bounce on a real store in a temp folder, with the DSN it queues
// read back from the spool. Checks that the sender's NOTIFY decides which notices go out (RFC 3461
// 4.1) and RET how much of the message comes back (RFC 3461 4.3).
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "../unit/queue/temp_dir.hpp"
#include "app/bounce.hpp"
#include "app/context.hpp"
#include "queue/spool.hpp"

using namespace pb;
using app::NoticeKind;

namespace {

const std::string kHeaders =
    "From: Anna <anna@firma.de>\r\nTo: x@example.net\r\nSubject: offer\r\nMessage-ID: <o1@firma.de>\r\n";
const std::string kBodyMark = "BODY-MARK-7431";

struct Fixture {
  test::TempDir dir;
  queue::Store store{dir.path()};
  boost::asio::io_context io;
  app::Context ctx{io.get_executor(), store, config()};

  static std::shared_ptr<const config::Config> config() {
    auto cfg = std::make_shared<config::Config>();
    cfg->service.hostname = "gw.firma.local";
    cfg->service.postmaster = "admin@firma.de";
    return cfg;
  }

  // A relayed message from anna@firma.de, one recipient per NOTIFY value, body `body`.
  queue::QueuedMessage relayed(const std::vector<std::string>& notify, const std::string& ret,
                               const std::string& body = "Hello,\r\n" + kBodyMark + "\r\n", std::string sender = "anna@firma.de") {
    queue::SpoolFile spool(store.spool_dir());
    spool.write(kHeaders + "\r\n" + body);
    queue::NewMessage m;
    m.route = "smarthost:provider";
    m.sender = std::move(sender);
    for (std::size_t i = 0; i < notify.size(); ++i) m.recipients.push_back("r" + std::to_string(i) + "@example.net");
    m.notify = notify;
    m.envid = "ENV-1";
    m.ret = ret;
    m.size = spool.size();
    m.spool_name = spool.commit();
    return *store.queue().get(store.queue().enqueue(m, 1795525500));
  }

  std::vector<app::BounceRecipient> all(const queue::QueuedMessage& msg, const std::string& status) {
    std::vector<app::BounceRecipient> out;
    for (const auto& r : msg.recipients) out.push_back({r.address, "", status, "550 5.1.1 no such user"});
    return out;
  }

  std::string dsn_text(queue::MessageId id) {
    REQUIRE(id != 0);
    auto dsn = store.queue().get(id);
    REQUIRE(dsn);
    return test::slurp(store.spool_dir() / dsn->spool_name);
  }
};

// The Final-Recipient lines of a DSN, in order.
std::vector<std::string> reported(const std::string& dsn) {
  std::vector<std::string> out;
  for (std::size_t at = dsn.find("Final-Recipient: rfc822; "); at != std::string::npos;
       at = dsn.find("Final-Recipient: rfc822; ", at + 1)) {
    std::size_t start = at + 25;
    out.push_back(dsn.substr(start, dsn.find("\r\n", start) - start));
  }
  return out;
}

}  // namespace

TEST_CASE("notify_requests: RFC 3461 4.1 NOTIFY against the kinds of notice") {
  using app::notify_requests;
  CHECK(notify_requests("", NoticeKind::failed));  // no NOTIFY: the MTA decides, as before
  CHECK(notify_requests("", NoticeKind::delayed));
  CHECK_FALSE(notify_requests("", NoticeKind::relayed));
  CHECK_FALSE(notify_requests("NEVER", NoticeKind::failed));
  CHECK_FALSE(notify_requests("NEVER", NoticeKind::delayed));
  CHECK_FALSE(notify_requests("NEVER", NoticeKind::relayed));
  CHECK(notify_requests("SUCCESS,FAILURE", NoticeKind::failed));
  CHECK(notify_requests("SUCCESS,FAILURE", NoticeKind::relayed));
  CHECK_FALSE(notify_requests("SUCCESS,FAILURE", NoticeKind::delayed));
  CHECK(notify_requests("delay", NoticeKind::delayed));
  CHECK_FALSE(notify_requests("SUCCESS", NoticeKind::failed));
  CHECK_FALSE(notify_requests("FAILURES", NoticeKind::failed));  // words, not substrings
}

TEST_CASE("bounce: only recipients whose NOTIFY asks for it are in a failure report") {
  Fixture f;
  auto msg = f.relayed({"FAILURE", "SUCCESS", "NEVER", "", "DELAY,FAILURE"}, "");
  std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, f.all(msg, "5.1.1"), NoticeKind::failed, "mx.example.net",
                                                 "refused"));
  CHECK(reported(dsn) == std::vector<std::string>{"r0@example.net", "r3@example.net", "r4@example.net"});
  CHECK(dsn.find("Original-Envelope-Id: ENV-1") != std::string::npos);
}

TEST_CASE("bounce: NOTIFY=NEVER for every recipient means no report at all") {
  Fixture f;
  auto msg = f.relayed({"NEVER", "SUCCESS"}, "");
  CHECK(app::queue_bounce(f.ctx, msg, f.all(msg, "5.1.1"), NoticeKind::failed, "mx.example.net", "") == 0);
  CHECK(f.store.queue().count(queue::MsgState::queued) == 1);  // the original only
}

TEST_CASE("bounce: a delay notice only for recipients that asked for DELAY, or gave no NOTIFY") {
  Fixture f;
  auto msg = f.relayed({"DELAY", "FAILURE", "", "NEVER"}, "");
  std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, f.all(msg, "4.4.7"), NoticeKind::delayed, "mx.example.net",
                                                 "still trying"));
  CHECK(reported(dsn) == std::vector<std::string>{"r0@example.net", "r2@example.net"});
  CHECK(dsn.find("Action: delayed") != std::string::npos);
}

TEST_CASE("bounce: a relayed notice only for recipients that asked for SUCCESS") {
  Fixture f;
  auto msg = f.relayed({"SUCCESS,FAILURE", "FAILURE", "", "SUCCESS"}, "FULL");
  std::vector<app::BounceRecipient> accepted;
  for (const auto& r : msg.recipients) accepted.push_back({r.address, "", "2.0.0", "250 2.0.0 Ok: queued as 4B1C2"});
  std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, accepted, NoticeKind::relayed, "mx.example.net", ""));
  CHECK(reported(dsn) == std::vector<std::string>{"r0@example.net", "r3@example.net"});
  CHECK(dsn.find("Subject: Relayed Mail (no further delivery confirmation)") != std::string::npos);
  CHECK(dsn.find("Action: relayed") != std::string::npos);
  CHECK(dsn.find("Status: 2.0.0") != std::string::npos);
  CHECK(dsn.find("To: <anna@firma.de>") != std::string::npos);
  // RET=FULL is about failure reports (RFC 3461 4.3): a success notice carries the headers only.
  CHECK(dsn.find("Content-Type: text/rfc822-headers") != std::string::npos);
  CHECK(dsn.find(kBodyMark) == std::string::npos);
}

TEST_CASE("bounce: no relayed notice for a message without a sender to tell") {
  Fixture f;
  auto msg = f.relayed({"SUCCESS"}, "", "x\r\n", "");
  std::vector<app::BounceRecipient> accepted{{msg.recipients[0].address, "", "2.0.0", "250 ok"}};
  CHECK(app::queue_bounce(f.ctx, msg, accepted, NoticeKind::relayed, "mx.example.net", "") == 0);
}

TEST_CASE("bounce: the postmaster's notices are sent whatever NOTIFY says") {
  Fixture f;
  auto msg = f.relayed({"NEVER"}, "", "x\r\n", "");  // null sender: the report goes to the postmaster
  std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, f.all(msg, "5.1.1"), NoticeKind::failed, "mx", ""));
  CHECK(dsn.find("To: <admin@firma.de>") != std::string::npos);
}

TEST_CASE("bounce: RET decides how much of the message comes back") {
  Fixture f;
  SECTION("RET=HDRS: the header section only (RFC 6522 3 text/rfc822-headers)") {
    auto msg = f.relayed({""}, "HDRS");
    std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, f.all(msg, "5.1.1"), NoticeKind::failed, "mx", ""));
    CHECK(dsn.find("Content-Type: text/rfc822-headers") != std::string::npos);
    CHECK(dsn.find("Message-ID: <o1@firma.de>") != std::string::npos);
    CHECK(dsn.find(kBodyMark) == std::string::npos);
  }
  SECTION("no RET: the header section, as before (RFC 3461 4.3 leaves it to us)") {
    auto msg = f.relayed({""}, "");
    std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, f.all(msg, "5.1.1"), NoticeKind::failed, "mx", ""));
    CHECK(dsn.find("Content-Type: text/rfc822-headers") != std::string::npos);
    CHECK(dsn.find(kBodyMark) == std::string::npos);
  }
  SECTION("RET=FULL: the whole message as message/rfc822") {
    auto msg = f.relayed({""}, "FULL");
    std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, f.all(msg, "5.1.1"), NoticeKind::failed, "mx", ""));
    CHECK(dsn.find("Content-Type: message/rfc822") != std::string::npos);
    CHECK(dsn.find(kHeaders + "\r\nHello,\r\n" + kBodyMark + "\r\n") != std::string::npos);
  }
  SECTION("RET=FULL, but larger than the limit: the header section and a word why") {
    std::string big;
    while (big.size() <= app::kReturnFullLimit) big += "a line of a large message, long enough to count\r\n";
    auto msg = f.relayed({""}, "FULL", big + kBodyMark + "\r\n");
    std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, f.all(msg, "5.1.1"), NoticeKind::failed, "mx", "refused"));
    CHECK(dsn.find("Content-Type: text/rfc822-headers") != std::string::npos);
    CHECK(dsn.find(kBodyMark) == std::string::npos);
    CHECK(dsn.find("Only the header of your message is attached") != std::string::npos);
  }
  SECTION("RET=FULL does not apply to a delay notice") {
    auto msg = f.relayed({""}, "FULL");
    std::string dsn = f.dsn_text(app::queue_bounce(f.ctx, msg, f.all(msg, "4.4.7"), NoticeKind::delayed, "mx", ""));
    CHECK(dsn.find(kBodyMark) == std::string::npos);
  }
}
