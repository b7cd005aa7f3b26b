// The SMTP/LMTP probe: greeting, EHLO/LHLO, STARTTLS, login, and with --send-to one test message
// that says where it came from.
#include "doctor/session.hpp"

#include <ctime>
#include <random>

#include "mail/headers.hpp"

namespace pb::doctor {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

void smtp_capabilities(const Target& t, const smtp::Client& c, Tap& tap, Report& r) {
  const auto& ext = c.extensions();
  // Whole literals: g++ 12 at -O2 reports std::string("EHLO") + " capabilities" here as an
  // out-of-bounds copy (-Warray-bounds, a false positive).
  Step s{"capabilities", t.protocol == Protocol::lmtp ? "LHLO capabilities" : "EHLO capabilities", Verdict::ok,
         tap.hello_took(), {}, {}};
  s.details.push_back(ext.auth.empty() ? "login methods: none offered" : "login methods: " + join(ext.auth));
  s.details.push_back(size_limit_detail(ext.size));
  std::vector<std::string> kw;
  if (ext.pipelining) kw.push_back("PIPELINING");
  if (ext.eightbitmime) kw.push_back("8BITMIME");
  if (ext.smtputf8) kw.push_back("SMTPUTF8");
  if (ext.chunking) kw.push_back("CHUNKING");
  if (ext.dsn) kw.push_back("DSN");
  if (ext.enhancedstatuscodes) kw.push_back("ENHANCEDSTATUSCODES");
  if (ext.starttls) kw.push_back("STARTTLS");
  s.details.push_back("extensions: " + (kw.empty() ? std::string("none") : join(kw)));
  if (t.max_message_size && ext.size && *ext.size > 0 && t.max_message_size->bytes > *ext.size) {
    s.verdict = Verdict::warning;
    s.problem = "max_message_size is " + format_size(*t.max_message_size) + " but " + size_limit_detail(ext.size) +
                ": larger messages will be refused";
  }
  if (t.tls == config::TlsMode::none && ext.starttls && t.kind != "local") {
    s.verdict = Verdict::warning;
    s.problem = "the server offers STARTTLS but tls = \"none\": the connection is not encrypted";
    r.advise("set tls = \"starttls\"");
  }
  r.add(std::move(s));
}

void smtp_failed(const Target& t, Tap& tap, Report& r, const smtp::Client& client, const smtp::SessionError& e,
                 const std::string& seen) {
  const bool auth = e.kind() == smtp::FailureKind::auth;
  // A password login's refusal in the provider's known words; an OAuth refusal means the token.
  std::optional<words::Explanation> explained;
  if (auth && !t.oauth2) explained = words::explain_smtp(e.reply().code, e.reply().enhanced, e.reply().text(), t.host);
  session_failure(t, tap, r, client.greeting(), [&] { smtp_capabilities(t, client, tap, r); },
                  Failure{e.what(), e.kind() == smtp::FailureKind::tls, auth, seen, std::move(explained)});
}

std::string queue_id_of(const smtp::Reply& reply) {
  std::string text = reply.text();
  auto pos = text.find("queued as ");
  if (pos == std::string::npos) return text;
  auto start = pos + 10;
  auto end = text.find_first_of(" ;,)", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The test message: plain text that says where it came from.
std::string test_message(const Target& t, const std::string& to, const std::string& from, const std::string& helo) {
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::mt19937_64 rng{std::random_device{}()};
  return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: postbridge test message\r\nDate: " +
         mail::rfc5322_date(now) + "\r\nMessage-ID: <pbtest." + std::to_string(now) + "." +
         std::to_string(rng() % 1000000000) + "@" + helo +
         ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
         "This message was sent by `postbridge test` on " + helo + " through " + t.kind + " " + t.name + " (" +
         t.host + ").\r\nIf you read it, sending this way works.\r\n";
}

smtp::Envelope test_envelope(const std::string& from, const std::string& to) {
  smtp::Envelope env;
  env.sender = from;
  env.recipients.push_back(to);
  return env;
}

asio::awaitable<void> send_test(const Target& t, smtp::Client& client, const std::string& to, const std::string& from,
                                const std::string& helo, Report& r) {
  const std::string msg = test_message(t, to, from, helo);
  std::size_t offset = 0;
  smtp::BodyReader body = [&](char* buf, std::size_t len) {
    std::size_t n = std::min(len, msg.size() - offset);
    std::copy_n(msg.data() + offset, n, buf);
    offset += n;
    return n;
  };
  auto t0 = Clock::now();
  Step s = make_step("send", "test message from " + from + " to " + to);
  try {
    auto res = co_await client.send(test_envelope(from, to), msg.size(), body);
    s.details.push_back(res.reply.text());
    if (res.message == smtp::Outcome::accepted) {
      r.sent_queue_id = queue_id_of(res.reply);
    } else {
      s.verdict = Verdict::failed;
      s.problem = "the server refused the test message: " + res.reply.text();
      for (const auto& rc : res.recipients)
        if (rc.at_rcpt) s.details.push_back(rc.address + ": " + rc.reply.text());
      if (res.reply.code == 550 || res.reply.code == 553 || res.reply.code == 554)
        r.advise("providers take only their own addresses as senders: set rewrite_sender, or list the allowed "
                 "senders of this smarthost (--from picks another test sender)");
    }
  } catch (const std::exception& e) {
    s.verdict = Verdict::failed;
    s.problem = e.what();
  }
  s.took = since(t0);
  r.add(std::move(s));
}

}  // namespace

asio::awaitable<void> smtp_session(const Target& t, const tcp::endpoint& ep, const Options& opt, Report& r) {
  auto tap = co_await open_transport(t, ep);
  if (!co_await implicit_handshake(t, *tap, ep, r)) co_return;
  smtp::Client client(*tap, t.smtp);
  std::optional<smtp::SessionError> failed;
  try {
    co_await client.open();
  } catch (const smtp::SessionError& e) {
    failed = e;
  }
  if (failed) {
    std::string seen = co_await diagnostic_handshake(t, *tap, ep);
    smtp_failed(t, *tap, r, client, *failed, seen);
    co_return;
  }
  tap->finish();
  greeting_step(*tap, client.greeting(), r);
  smtp_capabilities(t, client, *tap, r);
  if (t.tls == config::TlsMode::starttls) tls_step(t, *tap, r, false);
  if (t.tls == config::TlsMode::none) no_tls_step(t, r);
  if (t.has_login) {
    Step login = make_step("login", "login as " + t.username, Verdict::ok, tap->login_took());
    login.details.push_back("accepted");
    r.add(std::move(login));
  }
  if (!opt.send_to.empty()) co_await send_test(t, client, opt.send_to, opt.from.empty() ? t.sender : opt.from, t.smtp.helo_name, r);
  co_await client.quit();
}

}  // namespace pb::doctor
