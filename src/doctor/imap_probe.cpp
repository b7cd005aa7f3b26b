// The IMAP probe: greeting, CAPABILITY, STARTTLS, login, and EXAMINE of each configured folder
// (read-only: not even \Recent changes) with its message count. Nothing is fetched, flagged,
// moved or expunged.
#include "doctor/session.hpp"

namespace pb::doctor {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

void imap_capabilities(const Target& t, const imap::Client& c, Tap& tap, Report& r) {
  const auto& caps = c.capabilities();
  Step s = make_step("capabilities", "CAPABILITY", Verdict::ok, tap.hello_took());
  std::vector<std::string> logins, limits;
  for (const auto& w : c.login_capabilities().words)
    if (w.starts_with("AUTH=")) logins.push_back("AUTHENTICATE " + w.substr(5));
  if (!c.login_capabilities().has("LOGINDISABLED")) logins.push_back("LOGIN");
  for (const auto& w : caps.words)
    if (w.starts_with("APPENDLIMIT")) limits.push_back(w);
  s.details.push_back("login methods: " + (logins.empty() ? std::string("not announced") : join(logins, ", ")));
  const bool rev2 = caps.has("IMAP4REV2");
  const bool uidplus = caps.has("UIDPLUS") || rev2, move = caps.has("MOVE") || rev2;
  s.details.push_back("IDLE: " + yes_no(caps.has("IDLE")) + ", UIDPLUS: " + yes_no(uidplus) + ", MOVE: " + yes_no(move) +
                      ", STARTTLS: " + yes_no(c.login_capabilities().has("STARTTLS")) +
                      (limits.empty() ? std::string() : ", " + join(limits, ", ")));
  if (t.account && !t.account->keep) {
    // What the fetcher will do with delivered mail at this server, before it happens.
    if (!t.account->move_to.empty() && !move) {
      s.verdict = Verdict::warning;
      s.problem = "the server lacks MOVE: delivered mail cannot go to " + t.account->move_to +
                  "; it stays in its folder, marked as read";
    } else if (t.account->move_to.empty() && !uidplus) {
      s.verdict = Verdict::warning;
      s.problem = "the server lacks UIDPLUS: postbridge cannot remove exactly the messages it delivered, so they "
                  "stay in their folder, marked as read";
      r.advise("set move_to to a folder (if the server has MOVE) or keep = true");
    }
  }
  if (t.tls == config::TlsMode::none && c.login_capabilities().has("STARTTLS")) {
    if (s.verdict == Verdict::ok) s.verdict = Verdict::warning;
    s.problem = "the server offers STARTTLS but tls = \"none\": the password goes over the network unencrypted";
    r.advise("set tls = \"starttls\"");
  }
  r.add(std::move(s));
}

void imap_failed(const Target& t, Tap& tap, Report& r, const imap::Client& client, const imap::ImapError& e,
                 const std::string& seen) {
  const bool auth = e.kind() == imap::FailureKind::auth;
  session_failure(t, tap, r, client.greeting(), [&] { imap_capabilities(t, client, tap, r); },
                  Failure{e.what(), e.kind() == imap::FailureKind::tls, auth, seen});
}

std::string count_words(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

asio::awaitable<void> imap_session(const Target& t, const tcp::endpoint& ep, Report& r) {
  auto tap = co_await open_transport(t, ep);
  if (!co_await implicit_handshake(t, *tap, ep, r)) co_return;
  imap::Client client(*tap, t.imap);
  auto failed = [&](const imap::ImapError& e, const std::string& seen) { imap_failed(t, *tap, r, client, e, seen); };
  if (!co_await open_mailbox<imap::Client, imap::ImapError>(t, *tap, ep, client, r, failed)) co_return;
  imap_capabilities(t, client, *tap, r);
  login_steps(t, *tap, client.login_method(), t.imap.login, r);
  if (!t.imap.login) co_return;

  const std::vector<std::string> folders = t.account ? t.account->folders : std::vector<std::string>{"INBOX"};
  auto t0 = Clock::now();
  Step box = make_step("mailbox", "folders");
  for (const auto& folder : folders) {
    try {
      auto info = co_await client.select(folder, true);  // EXAMINE: read-only
      box.details.push_back(folder + ": " + count_words(info.exists, "message", "messages") + " (UIDVALIDITY " +
                            std::to_string(info.uidvalidity) + ")");
    } catch (const imap::ImapError& e) {
      box.verdict = Verdict::failed;
      box.problem = "folder " + folder + " cannot be opened: " + e.what();
      r.advise("check folders: the folder names as the provider spells them (Gmail: \"[Gmail]/Spam\")");
      if (e.kind() == imap::FailureKind::connection) break;
    }
  }
  if (box.verdict == Verdict::ok) box.details.push_back("nothing was fetched, flagged or removed");
  box.took = since(t0);
  r.add(std::move(box));
  co_await client.logout();
}

}  // namespace pb::doctor
