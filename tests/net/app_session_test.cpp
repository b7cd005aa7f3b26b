// The service roles on scripted connections: the real fetcher and deliverer, a real store in a
// temp folder, and a Context whose dialer hands out ScriptTransports (transcripts in
// tests/transcripts/app/). Checks what the no-loss rule and the failure scopes promise: what is
// kept, retried, bounced or paused, and which commands the server heard.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../unit/queue/temp_dir.hpp"
#include "app/context.hpp"
#include "app/deliverer.hpp"
#include "app/fetcher.hpp"
#include "endpoint/route.hpp"
#include "queue/spool.hpp"
#include "script_transport.hpp"

namespace asio = boost::asio;
using namespace pb;
using namespace std::chrono_literals;

namespace {

std::string transcript(const std::string& name) {
  return test::read_transcript(PB_TEST_DATA "/transcripts/app/" + name);
}

// Hands the session a ScriptTransport the test keeps: after the session is gone, the test still
// asks the script what was played.
class Borrowed final : public net::Transport {
 public:
  explicit Borrowed(net::Transport& t) : t_(t) {}
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override { return t_.read_some(buf); }
  asio::awaitable<void> write_all(asio::const_buffer buf) override { return t_.write_all(buf); }
  asio::awaitable<void> start_tls() override { return t_.start_tls(); }
  bool is_tls() const override { return t_.is_tls(); }
  std::string tls_description() const override { return t_.tls_description(); }
  void set_timeout(std::chrono::milliseconds t) override { t_.set_timeout(t); }
  void close() override { t_.close(); }
  std::string peer() const override { return t_.peer(); }

 private:
  net::Transport& t_;
};

struct Fixture {
  test::TempDir dir;
  queue::Store store{dir.path()};
  asio::io_context io;
  std::shared_ptr<config::Config> cfg = base_config(dir.path());
  app::Context ctx{io.get_executor(), store, cfg};
  std::deque<test::ScriptTransport*> scripts;  // one per expected connection, in order
  std::vector<std::string> dialed;             // "host:port" of every dial

  Fixture() {
    ctx.dialer = [this](std::string host, std::uint16_t port, bool implicit_tls, net::TlsClientOptions,
                        std::chrono::milliseconds) -> asio::awaitable<std::unique_ptr<net::Transport>> {
      dialed.push_back(host + ":" + std::to_string(port));
      if (scripts.empty()) throw net::NetFailure(net::NetError::connect_failed, "no connection scripted for " + host);
      test::ScriptTransport* t = scripts.front();
      scripts.pop_front();
      t->set_initial_tls(implicit_tls);
      co_return std::make_unique<Borrowed>(*t);
    };
  }

  static std::shared_ptr<config::Config> base_config(const std::filesystem::path& state) {
    auto c = std::make_shared<config::Config>();
    c->service.state_dir = state;
    c->service.hostname = "gw.firma.local";
    c->service.postmaster = "postmaster@firma.local";
    return c;
  }

  config::Account& add_account() {
    config::Account a;
    a.name = "mailbox";
    a.host = "pop.provider.test";
    a.username = "alice";
    a.password.value = "s3cret";
    a.deliver_to = {"info@firma.local"};
    a.timeout = 100ms;  // how long a poll waits for a delivery that does not come
    cfg->accounts.push_back(a);
    return cfg->accounts.back();
  }

  queue::MessageId enqueue(const std::string& route, const std::string& account, const std::string& sender,
                           const std::vector<std::string>& recipients, const std::string& text) {
    queue::SpoolFile spool(store.spool_dir());
    spool.write(text);
    queue::NewMessage m;
    m.route = route;
    m.account = account;
    m.sender = sender;
    m.recipients = recipients;
    m.size = spool.size();
    m.spool_name = spool.commit();
    return store.queue().enqueue(m, app::Context::now());
  }

  template <class T>
  T run(asio::awaitable<T> work) {
    std::optional<T> result;
    std::exception_ptr error;
    asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T value) {
      error = e;
      if (!e) result = std::move(value);
    });
    io.run();
    io.restart();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }

  // Runs the deliverer until `done` holds (looked at every 10 ms, for at most 5 s), then stops it.
  template <class Done>
  void deliver(app::Deliverer& d, Done done) {
    asio::steady_timer timer(io);
    int checks = 0;
    std::function<void()> check = [&] {
      if (done() || ++checks > 500) {
        ctx.stopping = true;
        d.stop();
        return;
      }
      timer.expires_after(10ms);
      timer.async_wait([&](boost::system::error_code) { check(); });
    };
    check();
    asio::co_spawn(io, d.run(), asio::detached);
    io.run();
    io.restart();
  }

  std::vector<queue::Event> events_of(const std::string& route) {
    queue::EventFilter filter;
    filter.route = route;
    std::vector<queue::Event> out;
    for (const auto& e : store.events().find(filter)) out.push_back(e.event);
    return out;
  }
};

const queue::Recipient& recipient(const queue::QueuedMessage& m, const std::string& address) {
  for (const auto& r : m.recipients)
    if (r.address == address) return r;
  FAIL("no recipient " << address);
  throw std::logic_error("unreachable");
}

// A smarthost NAME at HOST logging in as USER with the password the transcripts expect ("s3cret",
// port 465 by default); returns its route.
std::string add_password_smarthost(Fixture& f, const std::string& name, const std::string& host,
                                   const std::string& user) {
  config::Smarthost s;
  s.name = name;
  s.host = host;
  s.username = user;
  s.password.value = "s3cret";
  f.cfg->smarthosts.push_back(s);
  return endpoint::smarthost_route_name(name);
}

}  // namespace

TEST_CASE("fetch cut mid-RETR keeps the whole messages, not the cut one, and deletes nothing undelivered",
          "[app][fetch]") {
  Fixture f;
  const config::Account& account = f.add_account();
  app::Deliverer local(f.ctx, endpoint::kLocalRoute);

  test::ScriptTransport cut(transcript("fetch_cut_in_retr.txt"), "pop.provider.test:995");
  f.scripts.push_back(&cut);
  app::PollOutcome first = f.run(app::poll_account(f.ctx, local, account));
  CHECK(cut.problems() == "");  // no DELE, no QUIT after the cut
  CHECK(first.end == queue::PollEnd::connection_lost);
  CHECK(first.fetched == 1);
  CHECK(first.deleted == 0);
  auto known = f.store.ledger().known_uidls("mailbox");
  CHECK(known.contains("uid-one"));
  CHECK_FALSE(known.contains("uid-two"));
  REQUIRE(f.store.queue().count(queue::MsgState::queued) == 1);
  auto stored = f.store.queue().list(10);
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].uidl == "uid-one");
  CHECK(stored[0].subject == "one");

  // Delivered meanwhile: the next poll deletes it, fetches only the cut one, and leaves that one
  // on the server until it is delivered too.
  f.store.queue().record_results(stored[0].id, {{"info@firma.local", queue::RcptState::delivered, "250 ok"}}, "delivered",
                         stored[0].next_attempt);
  test::ScriptTransport again(transcript("fetch_after_cut.txt"), "pop.provider.test:995");
  f.scripts.push_back(&again);
  app::PollOutcome second = f.run(app::poll_account(f.ctx, local, account));
  CHECK(again.problems() == "");
  CHECK(second.ok());
  CHECK(second.fetched == 1);
  CHECK(second.deleted == 1);
  CHECK(f.store.ledger().known_uidls("mailbox").contains("uid-two"));
  CHECK(f.store.ledger().uidls_to_delete("mailbox", false, 0, app::Context::now()).empty());
  CHECK(f.dialed == std::vector<std::string>{"pop.provider.test:995", "pop.provider.test:995"});
}

TEST_CASE("a poll refused with Gmail's app-password words says what they mean and what to change", "[app][fetch]") {
  Fixture f;
  const config::Account& account = f.add_account();
  app::Deliverer local(f.ctx, endpoint::kLocalRoute);
  test::ScriptTransport provider(transcript("fetch_gmail_app_password.txt"), "pop.provider.test:995");
  f.scripts.push_back(&provider);
  app::PollOutcome o = f.run(app::poll_account(f.ctx, local, account));

  CHECK(provider.problems() == "");
  CHECK(o.end == queue::PollEnd::auth_failed);
  CHECK(o.explained);
  CHECK_THAT(o.error, Catch::Contains("-ERR [AUTH] Application-specific password required"));
  CHECK_THAT(o.error, Catch::Contains("wants an app password"));
  CHECK_THAT(o.error, Catch::Contains("put it in password_file"));
  CHECK(o.fetched == 0);
}

TEST_CASE("LMTP delivery with mixed replies fails the 5xx recipient, retries the 4xx one, completes the 250 one",
          "[app][deliver]") {
  Fixture f;
  f.cfg->local.host = "office.test";
  f.cfg->local.port = 24;
  f.cfg->local.protocol = config::LocalProtocol::lmtp;
  auto id = f.enqueue(endpoint::kLocalRoute, "mailbox", "alice@example.org",
                      {"bob@office.test", "ghost@office.test", "carol@office.test"},
                      "Subject: team\r\n\r\nmeeting at 10\r\n");
  test::ScriptTransport office(transcript("lmtp_mixed_replies.txt"), "office.test:24");
  f.scripts.push_back(&office);
  app::Deliverer local(f.ctx, endpoint::kLocalRoute);
  f.deliver(local, [&] { return local.attempted(id); });

  CHECK(office.problems() == "");
  // The bounce queued for the postmaster goes out on a connection of its own (not scripted here).
  REQUIRE_FALSE(f.dialed.empty());
  CHECK(f.dialed.front() == "office.test:24");
  auto msg = f.store.queue().get(id);
  REQUIRE(msg);
  CHECK(msg->state == queue::MsgState::queued);  // bob still waits
  CHECK(msg->next_attempt > app::Context::now());
  CHECK(recipient(*msg, "carol@office.test").state == queue::RcptState::delivered);
  CHECK(recipient(*msg, "ghost@office.test").state == queue::RcptState::failed);
  CHECK(recipient(*msg, "bob@office.test").state == queue::RcptState::pending);
  CHECK_THAT(recipient(*msg, "bob@office.test").reply, Catch::Contains("452"));

  // The refusal is reported (fetched mail: to the postmaster), naming ghost alone.
  auto all = f.store.queue().list(10);
  auto bounce = std::find_if(all.begin(), all.end(), [](const auto& m) { return m.is_bounce; });
  REQUIRE(bounce != all.end());
  CHECK(bounce->recipients.front().address == "postmaster@firma.local");
  std::string dsn = test::slurp(f.store.spool_dir() / bounce->spool_name);
  CHECK_THAT(dsn, Catch::Contains("ghost@office.test"));
  CHECK_THAT(dsn, !Catch::Contains("Final-Recipient: rfc822; bob@office.test"));
  CHECK_THAT(dsn, !Catch::Contains("Final-Recipient: rfc822; carol@office.test"));
}

TEST_CASE("Microsoft 365's 535 5.7.139 pauses the route with the reply and what to change", "[app][deliver]") {
  Fixture f;
  const std::string route = add_password_smarthost(f, "m365", "smtp.office365.com", "alice@firma.de");
  auto id = f.enqueue(route, "", "alice@firma.de", {"x@example.net"}, "Subject: offer\r\n\r\nhello\r\n");
  test::ScriptTransport provider(transcript("smarthost_auth_535_5_7_139.txt"), "smtp.office365.com:465");
  f.scripts.push_back(&provider);
  app::Deliverer d(f.ctx, route);
  f.deliver(d, [&] { return d.paused_until() > 0; });

  CHECK(provider.problems() == "");
  CHECK(d.auth_failed());
  // The provider's words, then what they mean and what to change.
  CHECK_THAT(d.pause_reason(), Catch::Contains("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                                               "disabled for the Tenant"));
  CHECK_THAT(d.pause_reason(), Catch::Contains("SMTP AUTH switched off for the whole tenant"));
  CHECK_THAT(d.pause_reason(), Catch::Contains("[smarthost.oauth2]"));
  CHECK_THAT(d.pause_reason(), Catch::Contains("Authenticated SMTP"));
  CHECK_THAT(d.pause_reason(), !Catch::Contains("was the password changed"));
  auto events = f.events_of(route);
  REQUIRE(events.size() == 1);
  CHECK(events[0].result == queue::EventResult::auth_failed);
  CHECK_THAT(events[0].text, Catch::Contains("[smarthost.oauth2]"));
  auto msg = f.store.queue().get(id);
  REQUIRE(msg);
  CHECK(msg->state == queue::MsgState::queued);  // waits for the fix, never bounced
  CHECK(f.store.queue().count(queue::MsgState::failed) == 0);
}

TEST_CASE("a smarthost answering AUTH with 535 pauses the route as auth-failed and keeps the message queued",
          "[app][deliver]") {
  Fixture f;
  const std::string route = add_password_smarthost(f, "provider", "smtp.provider.test", "alice");
  auto id = f.enqueue(route, "", "anna@firma.de", {"x@example.net"}, "Subject: offer\r\n\r\nhello\r\n");
  test::ScriptTransport provider(transcript("smarthost_auth_535.txt"), "smtp.provider.test:465");
  f.scripts.push_back(&provider);
  app::Deliverer d(f.ctx, route);
  f.deliver(d, [&] { return d.paused_until() > 0; });

  CHECK(provider.problems() == "");
  CHECK(f.dialed == std::vector<std::string>{"smtp.provider.test:465"});
  CHECK(d.auth_failed());
  CHECK(d.paused_until() > app::Context::now());
  CHECK_THAT(d.pause_reason(), Catch::Contains("535"));
  auto events = f.events_of(route);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == queue::EventKind::error);
  CHECK(events[0].result == queue::EventResult::auth_failed);

  auto msg = f.store.queue().get(id);
  REQUIRE(msg);
  CHECK(msg->state == queue::MsgState::queued);
  CHECK(msg->recipients.front().state == queue::RcptState::pending);
  CHECK(f.store.queue().count(queue::MsgState::queued) == 1);  // and no bounce beside it
  CHECK(f.store.queue().count(queue::MsgState::failed) == 0);
}

namespace {

// An IMAP account at imap.provider.test:993 whose polls play one transcript each.
struct ImapPolls {
  Fixture f;
  config::Account& account = imap_account(f);
  app::Deliverer local{f.ctx, endpoint::kLocalRoute};

  static config::Account& imap_account(Fixture& f) {
    config::Account& a = f.add_account();
    a.protocol = config::FetchProtocol::imap;
    a.host = "imap.provider.test";
    a.port = 993;
    return a;
  }
  // One poll against the transcript `name`, which must be played to its end.
  app::PollOutcome poll(const std::string& name) {
    test::ScriptTransport server(transcript(name), "imap.provider.test:993");
    f.scripts.push_back(&server);
    app::PollOutcome o = f.run(app::poll_account(f.ctx, local, account));
    CHECK(server.problems() == "");
    return o;
  }
  void delivered(const queue::QueuedMessage& m) {
    f.store.queue().record_results(m.id, {{"info@firma.local", queue::RcptState::delivered, "250 ok"}}, "delivered",
                                   m.next_attempt);
  }
};

}  // namespace

TEST_CASE("IMAP without UIDPLUS keeps delivered mail marked seen and never sends a plain EXPUNGE", "[app][fetch][imap]") {
  ImapPolls p;
  Fixture& f = p.f;
  app::PollOutcome fetched = p.poll("imap_no_uidplus_fetch.txt");
  CHECK(fetched.ok());
  CHECK(fetched.fetched == 2);
  CHECK(fetched.deleted == 0);
  CHECK(fetched.on_server == 2);
  auto known = f.store.ledger().known_uidls("mailbox");
  CHECK(known.contains("imap:42:7:INBOX"));
  CHECK(known.contains("imap:42:11:INBOX"));
  auto stored = f.store.queue().list(10);
  REQUIRE(stored.size() == 2);
  auto one = std::find_if(stored.begin(), stored.end(), [](const auto& m) { return m.subject == "one"; });
  REQUIRE(one != stored.end());
  std::string text = test::slurp(f.store.spool_dir() / one->spool_name);
  CHECK_THAT(text, Catch::Contains("with IMAPS"));
  CHECK_THAT(text, Catch::EndsWith("Subject: one\r\n\r\nfirst one\r\n"));

  // UID 7 delivered meanwhile, UID 11 not: only UID 7 is settled, as \Seen.
  p.delivered(*one);
  app::PollOutcome settled = p.poll("imap_no_uidplus_settle.txt");
  CHECK(settled.ok());
  CHECK(settled.fetched == 0);
  CHECK(settled.deleted == 0);  // kept at the provider, not removed
  // Done at the provider: not offered again for flagging, and never fetched again.
  CHECK(f.store.ledger().uidls_to_delete("mailbox", false, 0, app::Context::now()).empty());
  CHECK(f.store.ledger().known_uidls("mailbox").contains("imap:42:7:INBOX"));
  CHECK(f.dialed == std::vector<std::string>{"imap.provider.test:993", "imap.provider.test:993"});
}

TEST_CASE("IMAP after a UIDVALIDITY change recognises a delivered message and does not deliver it again",
          "[app][fetch][imap]") {
  ImapPolls p;
  Fixture& f = p.f;
  app::PollOutcome first = p.poll("imap_renumbered_before.txt");
  CHECK(first.fetched == 1);
  auto stored = f.store.queue().list(10);
  REQUIRE(stored.size() == 1);
  p.delivered(stored[0]);

  app::PollOutcome second = p.poll("imap_renumbered_after.txt");
  CHECK(second.ok());
  CHECK(second.fetched == 0);  // recognised, not stored again
  CHECK(second.deleted == 1);  // and removed at the provider as delivered
  CHECK(f.store.queue().list(10).size() == 1);
  auto known = f.store.ledger().known_uidls("mailbox");
  CHECK(known.contains("imap:43:1:INBOX"));
  CHECK_FALSE(known.contains("imap:42:7:INBOX"));
}
