// SMTP server session tests: smtp::serve() against scripted clients (tests/transcripts/smtp_server/)
// with fake hooks that record every call and keep the spooled bytes.
//
// ROLES ARE FLIPPED relative to script_transport.hpp, which was written for client tests: the
// script plays the *client* here, so in these transcripts
//   S: / S~   are what the client sends to the server under test,
//   C: / C~   are what the server must answer, byte for byte;
//   TLS / TLS-FAIL: the server must call start_tls() here; TIMEOUT: the client stays silent;
//   CLOSE: the client disconnects.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "app/relay_login.hpp"
#include "app/relay_slots.hpp"
#include "run.hpp"
#include "script_transport.hpp"
#include "smtp/server.hpp"

namespace asio = boost::asio;
using namespace pb::smtp;
using pb::test::ScriptTransport;
using namespace std::string_literals;

namespace {

class FakeSink : public MessageSink {
 public:
  explicit FakeSink(bool fail) : fail_(fail) {}
  void write(std::string_view bytes) override {
    if (fail_) throw std::runtime_error("No space left on device");
    bytes_.append(bytes);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  bool fail_;
  std::string bytes_;
};

class FakeHooks : public Hooks {
 public:
  std::vector<std::string> calls;            // in order: "sender <a>", "rcpt <b>", "begin", "commit", ...
  std::vector<std::string> messages;         // committed message bytes
  std::vector<MailTransaction> transactions;  // as committed
  std::optional<HookReply> commit_reply;     // default: 250 2.0.0 queued as N
  bool fail_begin = false, fail_writes = false;

  asio::awaitable<AuthResult> authenticate(const std::string& user, const std::string& password) override {
    calls.push_back("auth " + user);
    co_return AuthResult{user == "alice" && password == "s3cret", user, std::nullopt};
  }
  std::optional<HookReply> check_sender(const MailTransaction& t) override {
    calls.push_back("sender <" + t.sender + ">");
    if (t.sender == "spammer@bad.example") return HookReply{550, "5.7.1", "sender refused"};
    return std::nullopt;
  }
  std::optional<HookReply> check_recipient(const MailTransaction&, const std::string& rcpt) override {
    calls.push_back("rcpt <" + rcpt + ">");
    if (rcpt == "victim@elsewhere.example") return HookReply{550, "5.7.1", "relaying denied"};
    return std::nullopt;
  }
  std::unique_ptr<MessageSink> begin_message(const MailTransaction&) override {
    calls.push_back("begin");
    if (fail_begin) throw std::runtime_error("spool directory not writable");
    return std::make_unique<FakeSink>(fail_writes);
  }
  asio::awaitable<HookReply> commit(std::unique_ptr<MessageSink> sink, const MailTransaction& t) override {
    calls.push_back("commit");
    messages.push_back(dynamic_cast<FakeSink&>(*sink).bytes());
    transactions.push_back(t);
    co_return commit_reply ? *commit_reply
                           : HookReply{250, "2.0.0", "queued as " + std::to_string(messages.size())};
  }
  void abandon(std::unique_ptr<MessageSink> sink) override {
    calls.push_back("abandon");
    REQUIRE(sink);
  }
  int count(const std::string& call) const { return static_cast<int>(std::count(calls.begin(), calls.end(), call)); }
};

const std::string kEhloBase =
    "250-mx.test\r\n250-SIZE 1000\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
    "250-CHUNKING\r\n250-SMTPUTF8\r\n";

ServerSettings settings() {
  ServerSettings s;
  s.hostname = "mx.test";
  s.max_message_size = 1000;
  s.max_recipients = 3;
  s.command_timeout = std::chrono::seconds(30);
  s.data_timeout = std::chrono::seconds(90);
  s.auth_failure_delay = std::chrono::milliseconds(20);
  s.peer_ip = "192.0.2.7";
  return s;
}

// One scripted session: transcript, fake hooks, settings; run() plays it to the end.
struct Script {
  ScriptTransport t;
  FakeHooks hooks;
  ServerSettings s = settings();

  explicit Script(const std::string& name)
      : t(pb::test::read_transcript(PB_TEST_DATA "/transcripts/smtp_server/" + name), "192.0.2.7:40000") {
    t.define_block("EHLO_PLAIN", kEhloBase + "250 DSN\r\n");
    t.define_block("EHLO_STARTTLS", kEhloBase + "250-DSN\r\n250 STARTTLS\r\n");
    t.define_block("EHLO_AUTH", kEhloBase + "250-DSN\r\n250 AUTH PLAIN LOGIN\r\n");
  }

  void run() {
    pb::test::run(serve(t, s, hooks));
    INFO("hook calls: " << join(hooks.calls));
    CHECK(t.problems() == "");
    CHECK(t.closed_by_client());  // the server closes the connection at the end, whatever the end
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }
  bool wrote(const std::string& bytes) const {
    for (const auto& w : t.writes())
      if (w.bytes == bytes) return true;
    return false;
  }
};

using Calls = std::vector<std::string>;

// A client that sends `said` and then stays silent: read_some waits until it is cancelled. For
// the session's own timeouts, which a scripted TIMEOUT (an immediate throw) cannot show.
class SilentTransport : public pb::net::Transport {
 public:
  explicit SilentTransport(std::string said) : said_(std::move(said)) {}
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    if (!said_.empty()) {
      std::size_t n = std::min(buf.size(), said_.size());
      said_.copy(static_cast<char*>(buf.data()), n);
      said_.erase(0, n);
      co_return n;
    }
    asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(24));
    co_await forever.async_wait(asio::use_awaitable);  // throws operation_aborted when cancelled
    throw std::logic_error("a day passed");
  }
  asio::awaitable<void> write_all(asio::const_buffer buf) override {
    written += std::string(static_cast<const char*>(buf.data()), buf.size());
    co_return;
  }
  asio::awaitable<void> start_tls() override { throw std::logic_error("no TLS here"); }
  bool is_tls() const override { return false; }
  std::string tls_description() const override { return ""; }
  void set_timeout(std::chrono::milliseconds) override {}
  void close() override { closed = true; }
  std::string peer() const override { return "192.0.2.8:40001"; }

  std::string written;
  bool closed = false;

 private:
  std::string said_;
};

// A slowloris client: sends `head` at once, then `tail` one byte every `gap`. Each read
// succeeds, so only a deadline for the whole line or transfer (not one per read) can end it.
class TricklingTransport : public SilentTransport {
 public:
  TricklingTransport(std::string head, std::string tail, std::chrono::milliseconds gap)
      : SilentTransport(std::move(head)), tail_(std::move(tail)), gap_(gap) {}
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    if (!head_sent_ || tail_.empty()) {
      head_sent_ = true;
      co_return co_await SilentTransport::read_some(buf);
    }
    asio::steady_timer pause(co_await asio::this_coro::executor, gap_);
    co_await pause.async_wait(asio::use_awaitable);
    *static_cast<char*>(buf.data()) = tail_.front();
    tail_.erase(0, 1);
    co_return 1;
  }

 private:
  std::string tail_;
  std::chrono::milliseconds gap_;
  bool head_sent_ = false;
};

// The relay's real login check (app::RelayLogin: hashing pool, shared throttle) with a verifier
// that records which hash each check used; hash "hash:PW" matches password PW. Users: alice
// (first), carol.
struct LoginRig {
  asio::thread_pool pool{1};
  pb::login::LoginThrottle throttle;
  std::mutex mu;
  std::vector<std::string> hashes_checked;  // on the pool thread, hence the mutex
  std::shared_ptr<pb::config::Config> cfg = std::make_shared<pb::config::Config>();
  pb::app::RelayLogin login{pool.get_executor(), throttle, [this](const std::string& pw, const std::string& hash) {
                              std::lock_guard lock(mu);
                              hashes_checked.push_back(hash);
                              return hash == "hash:" + pw;
                            }};
  LoginRig() { cfg->relay.users = {{"alice", "hash:s3cret", 1, {}}, {"carol", "hash:other", 4, {}}}; }
  std::vector<std::string> checked() {
    std::lock_guard lock(mu);
    return hashes_checked;
  }
};

// FakeHooks whose logins go through the rig, for a client at `peer_ip`.
class RelayLoginHooks : public FakeHooks {
 public:
  RelayLoginHooks(LoginRig& rig, std::string peer_ip) : rig_(rig), peer_ip_(std::move(peer_ip)) {}
  asio::awaitable<AuthResult> authenticate(const std::string& user, const std::string& password) override {
    calls.push_back("auth " + user);
    co_return co_await rig_.login.check(rig_.cfg, user, password, peer_ip_);
  }

 private:
  LoginRig& rig_;
  std::string peer_ip_;
};

// A Script whose hooks are RelayLoginHooks: plays `name` from 192.0.2.7 over (implicit) TLS.
void run_login_script(const std::string& name, LoginRig& rig, std::vector<MailTransaction>* committed = nullptr) {
  ScriptTransport t(pb::test::read_transcript(PB_TEST_DATA "/transcripts/smtp_server/" + name), "192.0.2.7:40000");
  t.define_block("EHLO_AUTH", kEhloBase + "250-DSN\r\n250 AUTH PLAIN LOGIN\r\n");
  t.set_initial_tls(true);
  ServerSettings s = settings();
  s.auth_available = true;
  RelayLoginHooks hooks(rig, "192.0.2.7");
  pb::test::run(serve(t, s, hooks));
  CHECK(t.problems() == "");
  CHECK(t.closed_by_client());
  if (committed) *committed = hooks.transactions;
}

// Runs serve() on a SilentTransport; returns how long the session took.
std::chrono::milliseconds serve_silent(SilentTransport& t, const ServerSettings& s, FakeHooks& hooks) {
  asio::io_context ctx;
  auto start = std::chrono::steady_clock::now();
  asio::co_spawn(ctx, serve(t, s, hooks), asio::detached);
  ctx.run();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace

TEST_CASE("smtpd: EHLO lists the extensions, HELO works, small commands") {
  Script sc("ehlo_helo.txt");
  sc.run();
  REQUIRE(sc.hooks.messages.size() == 1);
  CHECK(sc.hooks.messages[0] == "Subject: helo\r\n\r\nbody\r\n");
  CHECK(sc.hooks.transactions[0].helo == "old.client.example");
  CHECK_FALSE(sc.hooks.transactions[0].esmtp);
}

TEST_CASE("smtpd: pipelined envelope answered in one write, DSN parameters kept") {
  Script sc("pipelining.txt");
  sc.run();
  CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>", "rcpt <bob@example.org>", "rcpt <carol@example.org>",
                                "begin", "commit", "sender <>", "rcpt <jörg@bücher.example>", "begin", "commit"});
  REQUIRE(sc.hooks.messages.size() == 2);
  CHECK(sc.hooks.messages[0] == "Subject: hello\r\n\r\nHi Bob and Carol.\r\n");
  CHECK(sc.hooks.messages[1] == "bounce\r\n");
  const auto& t = sc.hooks.transactions[0];
  CHECK(t.helo == "client.example");
  CHECK(t.esmtp);
  CHECK(t.sender == "alice@example.net");
  CHECK(t.recipients == std::vector<std::string>{"bob@example.org", "carol@example.org"});
  CHECK(t.declared_size == 60u);
  CHECK(t.body == "8BITMIME");
  CHECK(t.ret == "HDRS");
  CHECK(t.envid == "id+1");
  CHECK(t.notify == std::vector<std::string>{"", "SUCCESS,FAILURE"});
  CHECK(t.orcpt == std::vector<std::string>{"", "rfc822;carol+x@example.org"});
  CHECK_FALSE(t.tls);
  CHECK(t.auth_user.empty());
  CHECK(sc.hooks.transactions[1].sender.empty());
  CHECK(sc.hooks.transactions[1].smtputf8);
  // RFC 2920: the replies to a pipelined group leave together.
  CHECK(sc.wrote("250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n250 2.1.5 recipient ok\r\n"
                 "354 end data with <CR><LF>.<CR><LF>\r\n"));
  CHECK(sc.wrote("250 2.0.0 queued as 1\r\n250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n"
                 "354 end data with <CR><LF>.<CR><LF>\r\n"));
}

TEST_CASE("smtpd: DATA is dot-unstuffed into the sink") {
  Script sc("dot_stuffing.txt");
  sc.run();
  REQUIRE(sc.hooks.messages.size() == 1);
  CHECK(sc.hooks.messages[0] == ".\r\nnul\0byte\r\n..dots\r\n. leading space\r\nnot.a.dot.line\r\n\r\n"s);
}

TEST_CASE("smtpd: BDAT chunks, BDAT right after pipelined MAIL/RCPT, BODY=BINARYMIME refused") {
  Script sc("bdat.txt");
  sc.run();
  REQUIRE(sc.hooks.messages.size() == 2);
  CHECK(sc.hooks.messages[0] == "ab\r\n.\r\nc\r\nd\0e\r\nQUIT\r"s);
  CHECK(sc.hooks.transactions[0].body == "8BITMIME");
  CHECK(sc.hooks.messages[1] == "hello");
  CHECK(sc.hooks.count("begin") == 2);
  CHECK(sc.hooks.count("abandon") == 0);
  CHECK(sc.hooks.count("sender <alice@example.net>") == 2);  // the BINARYMIME MAIL never got that far
}

TEST_CASE("smtpd: BDAT chunks get DATA's line ends: a bare LF is CRLF, a bare CR stays in its line") {
  Script sc("bdat_bare_line_ends.txt");
  sc.run();
  REQUIRE(sc.hooks.messages.size() == 1);
  CHECK(sc.hooks.messages[0] ==
        "From: <alice@example.net>\r\nSubject: a\r\nFrom: <boss@example.net>\r\nX: 1\r2\r\n\r\nbody\r\n");
}

TEST_CASE("smtpd: BDAT with a bare LF is refused like DATA when bare line ends are refused") {
  Script sc("bdat_bare_line_ends_reject.txt");
  sc.s.bare_line_ends = BareLineEnds::reject;
  sc.run();
  CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>", "rcpt <bob@example.org>", "begin", "abandon"});
}

TEST_CASE("smtpd: lines ended by a bare LF are stored as CRLF lines, the message accepted") {
  Script sc("bare_lf.txt");
  sc.run();
  REQUIRE(sc.hooks.messages.size() == 2);
  CHECK(sc.hooks.messages[0] ==
        "Subject: scan\r\nFrom: <scanner@example.net>\r\n\r\npage one\r\n.dotted\r\nlast line\r\n");
  CHECK(sc.hooks.messages[1] == "Subject: cr\r\n\r\nold\rmac\r\n");
}

TEST_CASE("smtpd: size limit at MAIL, during DATA and across BDAT chunks") {
  Script sc("size_limits.txt");
  std::string big;
  while (big.size() < 1100) big += "0123456789012345678901234567890123456789\r\n";
  sc.t.define_block("BIG_MESSAGE", big + ".\r\n");
  sc.t.define_block("BDAT_600", "BDAT 600\r\n" + std::string(600, 'x'));
  sc.t.define_block("BDAT_600_LAST_AND_MORE", "BDAT 600 LAST\r\n" + std::string(600, 'y') + "BDAT 3 LAST\r\nabc");
  sc.run();
  CHECK(sc.hooks.messages.empty());
  CHECK(sc.hooks.count("commit") == 0);
  CHECK(sc.hooks.count("abandon") == 2);
}

TEST_CASE("smtpd: recipients over the limit get 452") {
  Script sc("too_many_recipients.txt");
  sc.run();
  REQUIRE(sc.hooks.transactions.size() == 1);
  CHECK(sc.hooks.transactions[0].recipients ==
        std::vector<std::string>{"r1@example.org", "r2@example.org", "r3@example.org"});
}

TEST_CASE("smtpd: sequence errors") {
  Script sc("sequence_errors.txt");
  sc.run();
  CHECK(sc.hooks.count("begin") == 0);
}

TEST_CASE("smtpd: policy refusals by the hooks") {
  Script sc("policy_refusals.txt");
  sc.run();
  CHECK(sc.hooks.calls == Calls{"sender <spammer@bad.example>", "sender <alice@example.net>",
                                "rcpt <victim@elsewhere.example>"});
}

TEST_CASE("smtpd: unknown commands, control bytes, bad syntax") {
  Script sc("garbage.txt");
  sc.run();
  CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>", "rcpt <Postmaster>"});
}

TEST_CASE("smtpd: over-long command lines") {
  Script sc("long_lines.txt");
  sc.t.define_block("NOOP_600", "NOOP " + std::string(600, 'x') + "\r\n");
  sc.t.define_block("MAIL_700", "MAIL FROM:<alice@example.net> AUTH=" + std::string(650, 'a') + "@example.net\r\n");
  sc.t.define_block("HUGE_LINE", std::string(70000, 'x') + "\r\n");
  sc.run();
  CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>"});
}

TEST_CASE("smtpd: too many errors end the session with 421") {
  Script sc("too_many_errors.txt");
  sc.run();
}

TEST_CASE("smtpd: refused recipients count as errors: the tenth ends the session") {
  Script sc("too_many_refused_recipients.txt");
  sc.run();
  CHECK(sc.hooks.count("rcpt <victim@elsewhere.example>") == 10);
}

TEST_CASE("smtpd: SMTP smuggling variants are one refused message, never two (bare line ends refused)") {
  const std::string variants[] = {"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r\n.\r", "\r.\r\n", "\n..\n"};
  for (std::size_t i = 0; i < std::size(variants); ++i) {
    const std::string& v = variants[i];
    Script sc("smuggling.txt");
    sc.s.bare_line_ends = BareLineEnds::reject;
    // The smuggled text behind the look-alike may also start right at a line start (".\r\n"
    // after the bare LF): both are covered by "\n.\r\n".
    sc.t.define_block("PAYLOAD", "Subject: hi\r\n\r\nhello" + v +
                                     "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\n"
                                     "DATA\r\nforged\r\n.\r\n");
    INFO("variant #" << i);
    sc.run();
    CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>", "rcpt <bob@example.org>", "begin", "abandon"});
    CHECK(sc.hooks.messages.empty());
  }
}

TEST_CASE("smtpd: SMTP smuggling variants are one accepted message, never two (bare LFs normalised)") {
  const std::string variants[] = {"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r\n.\r", "\r.\r\n", "\n..\n", "\n.\r", "\r.\n"};
  for (std::size_t i = 0; i < std::size(variants); ++i) {
    Script sc("smuggling_normalize.txt");
    sc.t.define_block("PAYLOAD", "Subject: hi\r\n\r\nhello" + variants[i] +
                                     "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\n"
                                     "DATA\r\nforged\r\n.\r\n");
    INFO("variant #" << i);
    sc.run();
    CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>", "rcpt <bob@example.org>", "begin", "commit"});
    REQUIRE(sc.hooks.messages.size() == 1);
    const std::string& m = sc.hooks.messages[0];
    CHECK(m.starts_with("Subject: hi\r\n\r\nhello"));
    CHECK(m.find("MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nforged\r\n") !=
          std::string::npos);
    for (std::size_t k = 0; k < m.size(); ++k)  // CRLF lines only: no bare LF reaches the sink
      if (m[k] == '\n') CHECK((k > 0 && m[k - 1] == '\r'));
  }
}

TEST_CASE("smtpd: implicit TLS: the handshake before the greeting, AUTH at once, no STARTTLS") {
  Script sc("implicit_tls.txt");
  sc.s.implicit_tls = true;
  sc.s.tls_available = true;
  sc.s.auth_available = true;
  sc.run();
  REQUIRE(sc.hooks.transactions.size() == 1);
  CHECK(sc.hooks.transactions[0].tls);
  CHECK(sc.hooks.transactions[0].auth_user == "alice");
}

TEST_CASE("smtpd: implicit TLS: a failed handshake closes the connection without a word") {
  Script sc("implicit_tls_failure.txt");
  sc.s.implicit_tls = true;
  sc.s.tls_available = true;
  sc.run();
  CHECK(sc.t.writes().empty());
  CHECK(sc.hooks.calls.empty());
}

TEST_CASE("smtpd: commands pipelined after STARTTLS are discarded (CVE-2011-0411)") {
  Script sc("starttls_injection.txt");
  sc.s.tls_available = true;
  sc.s.auth_available = true;
  sc.run();
  CHECK(sc.hooks.calls.empty());  // the injected MAIL never reached check_sender
  CHECK(sc.t.is_tls());
}

TEST_CASE("smtpd: a failed TLS handshake closes the session") {
  Script sc("starttls_failure.txt");
  sc.s.tls_available = true;
  sc.run();
}

TEST_CASE("smtpd: AUTH refused before TLS, AUTH PLAIN after STARTTLS") {
  Script sc("auth_plain.txt");
  sc.s.tls_available = true;
  sc.s.auth_available = true;
  sc.run();
  REQUIRE(sc.hooks.transactions.size() == 1);
  CHECK(sc.hooks.transactions[0].auth_user == "alice");
  CHECK(sc.hooks.transactions[0].tls);
  CHECK(sc.hooks.count("auth alice") == 1);
}

TEST_CASE("smtpd: AUTH PLAIN/LOGIN challenges, failures, cancel, and the failure delay") {
  Script sc("auth_variants.txt");
  sc.t.set_initial_tls(true);
  sc.s.auth_available = true;
  sc.s.auth_failure_delay = std::chrono::milliseconds(100);
  auto start = std::chrono::steady_clock::now();
  sc.run();
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(300));  // three 535 replies, each after the delay
  CHECK(sc.hooks.count("auth alice") == 3);          // bob-as-alice never reached authenticate()
  // The password never appears in what the server wrote.
  for (const auto& w : sc.t.writes()) CHECK(w.bytes.find("s3cret") == std::string::npos);
}

TEST_CASE("smtpd: AUTH offered and accepted without TLS on loopback") {
  Script sc("auth_loopback.txt");
  sc.s.auth_available = true;
  sc.s.peer_is_loopback = true;
  sc.run();
  CHECK(sc.hooks.calls == Calls{"auth alice"});
}

TEST_CASE("smtpd: disconnect in the middle of DATA abandons the message") {
  Script sc("disconnect_in_data.txt");
  sc.run();
  CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>", "rcpt <bob@example.org>", "begin", "abandon"});
}

TEST_CASE("smtpd: the client sees commit()'s 451") {
  Script sc("commit_451.txt");
  sc.hooks.commit_reply = HookReply{451, "4.3.0", "queue unavailable, try again later"};
  sc.run();
  CHECK(sc.hooks.count("commit") == 1);
}

TEST_CASE("smtpd: a transport timeout while waiting for a command gives 421 4.4.2") {
  Script sc("timeout_command.txt");
  sc.run();
}

TEST_CASE("smtpd: a transport timeout inside DATA gives 421 4.4.2 and abandons the message") {
  Script sc("timeout_data.txt");
  sc.run();
  CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>", "rcpt <bob@example.org>", "begin", "abandon"});
}

TEST_CASE("smtpd: command_timeout: the silent client gets 421 on a still-open connection") {
  SilentTransport t("EHLO client.example\r\n");
  FakeHooks hooks;
  ServerSettings s = settings();
  s.command_timeout = std::chrono::milliseconds(60);
  auto took = serve_silent(t, s, hooks);
  CHECK(t.written.find("250 DSN\r\n421 4.4.2 mx.test timeout, closing connection\r\n") != std::string::npos);
  CHECK(t.closed);
  CHECK(took >= std::chrono::milliseconds(60));
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("smtpd: a client trickling a byte at a time is cut off at command_timeout for the whole line") {
  TricklingTransport t("", "EHLO client.example\r\nMAIL FROM:<slow@loris.example>\r\n", std::chrono::milliseconds(20));
  FakeHooks hooks;
  ServerSettings s = settings();
  s.command_timeout = std::chrono::milliseconds(300);  // EHLO takes ~420 ms to arrive: too late
  auto took = serve_silent(t, s, hooks);
  CHECK(t.written.find("421 4.4.2 mx.test timeout, closing connection\r\n") != std::string::npos);
  CHECK(t.written.find("250") == std::string::npos);  // the EHLO line never completed in time
  CHECK(t.closed);
  CHECK(took < std::chrono::milliseconds(1500));  // not the ~1.2 s the whole trickle takes
}

TEST_CASE("smtpd: a trickled message is cut off at data_timeout for the whole transfer") {
  TricklingTransport t("HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n",
                       "Subject: x\r\n\r\n" + std::string(200, 'x'), std::chrono::milliseconds(20));
  FakeHooks hooks;
  ServerSettings s = settings();
  s.data_timeout = std::chrono::milliseconds(300);  // the body would need 4 s
  auto took = serve_silent(t, s, hooks);
  CHECK(t.written.find("354 end data with <CR><LF>.<CR><LF>\r\n421 4.4.2 ") != std::string::npos);
  CHECK(hooks.count("abandon") == 1);
  CHECK(took < std::chrono::milliseconds(2000));
}

TEST_CASE("smtpd: data_timeout applies inside DATA and BDAT, command_timeout between commands") {
  ServerSettings s = settings();
  s.command_timeout = std::chrono::seconds(30);
  s.data_timeout = std::chrono::milliseconds(60);
  SECTION("DATA") {
    SilentTransport t("HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n");
    FakeHooks hooks;
    auto took = serve_silent(t, s, hooks);
    CHECK(t.written.find("354 end data with <CR><LF>.<CR><LF>\r\n421 4.4.2 ") != std::string::npos);
    CHECK(took < std::chrono::seconds(5));
    CHECK(hooks.calls == Calls{"sender <a@b.example>", "rcpt <c@d.example>", "begin", "abandon"});
  }
  SECTION("BDAT") {
    SilentTransport t("HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 100 LAST\r\nSubject");
    FakeHooks hooks;
    auto took = serve_silent(t, s, hooks);
    CHECK(t.written.find("250 2.1.5 recipient ok\r\n421 4.4.2 ") != std::string::npos);
    CHECK(took < std::chrono::seconds(5));
    CHECK(hooks.count("abandon") == 1);
  }
}

TEST_CASE("smtpd: spool failures: 452 at DATA/BDAT, 452 after the data on a write error") {
  SECTION("begin_message throws") {
    Script sc("spool_begin_failure.txt");
    sc.hooks.fail_begin = true;
    sc.run();
    CHECK(sc.hooks.count("commit") == 0);
  }
  SECTION("a sink write throws") {
    Script sc("spool_write_failure.txt");
    sc.hooks.fail_writes = true;
    sc.run();
    CHECK(sc.hooks.calls == Calls{"sender <alice@example.net>", "rcpt <bob@example.org>", "begin", "abandon"});
  }
}

TEST_CASE("smtpd: a DATA line over 64 KiB refuses the message") {
  Script sc("long_data_line.txt");
  sc.s.max_message_size = 200000;
  sc.t.define_block("LONG_LINE_MESSAGE", "Subject: x\r\n\r\n" + std::string(70000, 'x') + "\r\nend\r\n.\r\n");
  sc.run();
  CHECK(sc.hooks.count("abandon") == 1);
  CHECK(sc.hooks.count("commit") == 0);
}

TEST_CASE("smtpd: a TLS handshake or an HTTP request instead of SMTP ends the session") {
  SECTION("TLS ClientHello") {
    Script sc("wrong_protocol.txt");
    sc.run();
  }
  SECTION("HTTP") {
    Script sc("http.txt");
    sc.run();
  }
}

TEST_CASE("relay: an unknown user costs one hash like a known one, and names match in any case") {
  LoginRig rig;
  std::vector<MailTransaction> committed;
  run_login_script("relay_login_unknown_user.txt", rig, &committed);
  // carol's wrong password, then mallory against the first user's (alice's) hash — never accepted,
  // even with alice's password — then ALICE: one hash each, so no name shows in the time of a 535.
  CHECK(rig.checked() == Calls{"hash:other", "hash:s3cret", "hash:s3cret"});
  REQUIRE(committed.size() == 1);
  CHECK(committed[0].auth_user == "alice");  // the configured name, not the typed "ALICE"
  CHECK(rig.throttle.entries(pb::login::LoginThrottle::Clock::now()).empty());  // success forgave the two failures
}

TEST_CASE("relay: after five wrong passwords an address gets 454 without a hash, others are not slowed") {
  LoginRig rig;
  run_login_script("relay_login_throttled.txt", rig);
  CHECK(rig.checked().size() == 5);  // the sixth and seventh attempts were never checked
  auto now = pb::login::LoginThrottle::Clock::now();
  CHECK(rig.throttle.wait("192.0.2.7", now));
  CHECK(rig.throttle.wait("::ffff:192.0.2.7", now));  // the same client over a dual-stack socket
  CHECK_FALSE(rig.throttle.wait("198.51.100.9", now));

  // Another address logs in at once with the same rig (the shared throttle).
  std::optional<AuthResult> other = pb::test::run(rig.login.check(rig.cfg, "Alice", "s3cret", "198.51.100.9"));
  REQUIRE(other);
  CHECK(other->ok);
  CHECK(other->user == "alice");
  CHECK(rig.checked().size() == 6);
}

TEST_CASE("relay: one address holds at most max_connections_per_address slots, allow_networks is exempt") {
  using pb::app::RelaySlots;
  pb::config::Relay relay;  // allow_networks: 127.0.0.1/32 and ::1/128
  relay.max_connections = 6;
  relay.max_connections_per_address = 2;
  RelaySlots slots;
  std::list<std::variant<RelaySlots::Slot, RelaySlots::Refusal>> held;  // erase() moves nothing
  auto take = [&](const char* ip) {
    held.push_back(slots.take(relay, ip));
    auto* refused = std::get_if<RelaySlots::Refusal>(&held.back());
    return refused ? (*refused == RelaySlots::Refusal::full ? "full" : "address full") : "ok";
  };
  CHECK(take("192.0.2.7") == std::string("ok"));
  CHECK(take("::ffff:192.0.2.7") == std::string("ok"));  // the same client, seen through a dual-stack socket
  CHECK(take("192.0.2.7") == std::string("address full"));
  CHECK(take("192.0.2.8") == std::string("ok"));  // another client is still served
  CHECK(slots.from("192.0.2.7") == 2);
  CHECK(slots.total() == 3);
  // The office server in allow_networks may open more than the cap, up to max_connections.
  CHECK(take("127.0.0.1") == std::string("ok"));
  CHECK(take("127.0.0.1") == std::string("ok"));
  CHECK(take("127.0.0.1") == std::string("ok"));
  CHECK(take("127.0.0.1") == std::string("full"));
  CHECK(slots.total() == 6);
  held.erase(held.begin());  // one of 192.0.2.7's sessions ends
  CHECK(slots.from("192.0.2.7") == 1);
  CHECK(slots.total() == 5);
  CHECK(take("192.0.2.7") == std::string("ok"));
}
