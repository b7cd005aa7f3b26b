// The POP3 probe: greeting, CAPA, STLS, login, STAT and UIDL of an account, and the POP3 login a
// pop-before-smtp smarthost needs first. Nothing is fetched or deleted.
#include "doctor/session.hpp"

#include "endpoint/pop3.hpp"

namespace pb::doctor {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

void pop3_capabilities(const Target& t, const pop3::Client& c, Tap& tap, Report& r) {
  const auto& caps = c.capabilities();
  Step s{"capabilities", "CAPA capabilities", Verdict::ok, tap.hello_took(), {}, {}};
  std::vector<std::string> logins;
  if (caps.user) logins.push_back("USER");
  for (const auto& m : caps.sasl) logins.push_back("SASL " + m);
  if (c.greeting().find('<') != std::string::npos) logins.push_back("APOP");
  if (!c.capa_answered()) s.details.push_back("no CAPA (it is optional, RFC 2449): the server names no capabilities");
  s.details.push_back("login methods: " + (logins.empty() ? std::string("not announced") : join(logins, ", ")));
  s.details.push_back(uidl_detail(caps.uidl ? UidlSupport::announced : UidlSupport::unknown) +
                      ", PIPELINING: " + (caps.pipelining ? "yes" : "no") + ", STLS: " + (caps.stls ? "yes" : "no"));
  if (caps.login_delay_s && t.account &&
      t.account->poll_interval < std::chrono::seconds(*caps.login_delay_s)) {
    if (s.verdict == Verdict::ok) s.verdict = Verdict::warning;
    s.problem = "the provider allows a login only every " + format_duration(std::chrono::seconds(*caps.login_delay_s)) +
                " (LOGIN-DELAY), poll_interval is " + format_duration(t.account->poll_interval);
    r.advise("set poll_interval to at least " + format_duration(std::chrono::seconds(*caps.login_delay_s)));
  }
  if (t.tls == config::TlsMode::none && caps.stls) {
    if (s.verdict == Verdict::ok) s.verdict = Verdict::warning;
    s.problem = "the server offers STLS but tls = \"none\": the password goes over the network unencrypted";
    r.advise("set tls = \"starttls\"");
  }
  r.add(std::move(s));
}

void pop3_failed(const Target& t, Tap& tap, Report& r, const pop3::Client& client, const pop3::Pop3Error& e,
                 const std::string& seen) {
  const bool auth = e.kind() == pop3::FailureKind::auth;
  std::optional<words::Explanation> explained;
  if (auth) explained = words::explain_pop3(e.what(), t.host);
  session_failure(t, tap, r, client.greeting(), [&] { pop3_capabilities(t, client, tap, r); },
                  Failure{e.what(), e.kind() == pop3::FailureKind::tls, auth, seen, std::move(explained)});
  if (e.kind() == pop3::FailureKind::in_use)
    r.advise("another program is reading this mailbox right now (or the postbridge service itself): "
             "try again in a minute, and make sure only one program fetches it");
}

// What UIDL means for this account, after trying it: a detail when CAPA did not say, and a
// failure when keep = true cannot work without it.
void uidl_verdict(const Target& t, bool announced, bool answered, Step& box, Report& r) {
  if (!announced) box.details.push_back(uidl_detail(answered ? UidlSupport::answered : UidlSupport::refused));
  if (answered || !t.account || !t.account->keep) return;
  box.verdict = Verdict::failed;
  box.problem = "keep = true needs UIDL to remember fetched messages, and this server refuses UIDL";
  r.advise("set keep = false (messages are deleted after delivery) or use another server");
}

std::string count_words(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

asio::awaitable<void> pop3_session(const Target& t, const tcp::endpoint& ep, Report& r) {
  auto tap = co_await open_transport(t, ep);
  if (!co_await implicit_handshake(t, *tap, ep, r)) co_return;
  pop3::Client client(*tap, t.pop3);
  auto failed = [&](const pop3::Pop3Error& e, const std::string& seen) { pop3_failed(t, *tap, r, client, e, seen); };
  if (!co_await open_mailbox<pop3::Client, pop3::Pop3Error>(t, *tap, ep, client, r, failed)) co_return;
  pop3_capabilities(t, client, *tap, r);
  login_steps(t, *tap, client.login_method(), t.pop3.login, r);

  auto t0 = Clock::now();
  Step box = make_step("mailbox", "mailbox");
  try {
    auto list = co_await client.list();
    std::uint64_t bytes = 0;
    for (const auto& e : list) bytes += e.size;
    box.details.push_back(count_words(list.size(), "message", "messages") + " (" + format_size(ByteSize{bytes}) +
                          ") waiting at the provider; nothing was fetched or deleted");
    // The fetcher sends UIDL whatever CAPA said (a server without CAPA may still have it).
    const bool answered = (co_await client.uidl()).has_value();
    uidl_verdict(t, client.capabilities().uidl, answered, box, r);
  } catch (const std::exception& e) {
    box.verdict = Verdict::failed;
    box.problem = std::string("LIST or UIDL failed after the login: ") + e.what();
  }
  box.took = since(t0);
  r.add(std::move(box));
  co_await client.quit();
}

asio::awaitable<void> pop_before_smtp(const Target& t, Report& r) {
  const config::Account& a = *t.pop_before;
  Step s = make_step("pop-before-smtp", "POP3 login to account " + a.name + " first (pop-before-smtp)");
  auto t0 = Clock::now();
  try {
    net::TlsClientOptions tls{a.tls_verify, a.ca_file, a.host};
    auto transport = co_await net::connect(a.host, a.port, a.tls == config::TlsMode::implicit, tls, t.timeout);
    auto o = endpoint::pop3_options(a);
    o.timeout = t.timeout;
    pop3::Client pop(*transport, o);
    co_await pop.open();
    co_await pop.quit();
    s.details.push_back("accepted");
  } catch (const std::exception& e) {
    s.verdict = Verdict::failed;
    s.problem = e.what();
    r.advise("run `postbridge test account " + a.name + "` to see why the POP3 login fails");
  }
  s.took = since(t0);
  r.add(std::move(s));
}

}  // namespace pb::doctor
