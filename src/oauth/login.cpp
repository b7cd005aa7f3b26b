// `postbridge oauth` (declared in login.hpp): the device and browser sign-ins, storing the
// tokens, status and logout. Promise: a token is never printed; only the state folder holds it.
#include "oauth/login.hpp"

#include <openssl/crypto.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <ctime>
#include <optional>
#include <ostream>
#include <tuple>
#include <variant>

#include "oauth/grant.hpp"
#include "oauth/identity.hpp"
#include "oauth/token_client.hpp"
#include "oauth/token_store.hpp"
#include "util/display.hpp"
#include "util/fs.hpp"
#include "util/target.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

namespace pb::oauth {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr int kOk = kLoginOk, kFailed = kLoginFailed, kUsage = kLoginUsage;
// How long a browser login may take before the command gives up.
constexpr auto kBrowserLoginTimeout = std::chrono::minutes(10);

using Subject = LoginSubject;

// --- the browser login: a one-off listener on 127.0.0.1 receives the redirect ----------------

struct Redirect {
  std::string code;   // the authorization code, when the sign-in worked
  std::string error;  // else the provider's words, or ours
};

// The state compared in constant time: a page that guesses it byte by byte learns nothing.
bool same_state(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The redirect's query read for the sign-in with `state`; `target` is "/path?query".
RedirectResult result_of_target(std::string_view target, const std::string& state) {
  using Kind = RedirectResult::Kind;
  RedirectResult r;
  auto t = target::parse_target(target);
  if (!t || !t->param("state")) return r;
  if (!same_state(*t->param("state"), state)) {
    r.kind = Kind::other_state;
    return r;
  }
  r.kind = Kind::refused;
  if (auto e = t->param("error")) {  // RFC 6749 4.1.2.1
    r.value = "the provider refused the sign-in: " + text::printable(*e, 80);
    if (auto d = t->param("error_description")) r.value += " (" + text::printable(*d, 300) + ")";
  } else if (auto c = t->param("code"); c && !c->empty()) {
    r.kind = Kind::code;
    r.value = *c;
  } else {
    r.value = "the provider's redirect carried no authorization code";
  }
  return r;
}

// What the sign-in page's redirect brought: nullopt when it is not the redirect at all (a favicon
// request) or belongs to another login (a wrong state), which the command waits past.
std::optional<Redirect> redirect_of(RedirectResult r) {
  if (r.kind == RedirectResult::Kind::not_redirect || r.kind == RedirectResult::Kind::other_state) return std::nullopt;
  Redirect out;
  (r.kind == RedirectResult::Kind::code ? out.code : out.error) = std::move(r.value);
  return out;
}

bhttp::response<bhttp::string_body> plain_page(bhttp::status status, std::string text) {
  bhttp::response<bhttp::string_body> res{status, 11};
  res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(false);
  res.body() = std::move(text);
  res.prepare_payload();
  return res;
}

// Answers one browser connection; the redirect when it was one.
asio::awaitable<std::optional<Redirect>> serve_one(tcp::socket socket, const std::string& state,
                                                   const std::string& who) {
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(30));
  beast::flat_buffer buffer;
  bhttp::request<bhttp::string_body> req;
  boost::system::error_code ec;
  co_await bhttp::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::nullopt;
  std::optional<Redirect> r = redirect_of(result_of_target(req.target(), state));
  auto res = !r             ? plain_page(bhttp::status::not_found, "postbridge is waiting for the sign-in redirect.\n")
             : r->error.empty() ? plain_page(bhttp::status::ok, "postbridge received the sign-in for " + who +
                                                                     "; the terminal says whether it is stored. You "
                                                                     "can close this window.\n")
                                : plain_page(bhttp::status::bad_request, "postbridge: " + r->error + "\n");
  co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  co_return r;
}

asio::awaitable<Redirect> accept_redirect(tcp::acceptor& acceptor, std::string state, std::string who) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    if (auto r = co_await serve_one(std::move(socket), state, who)) co_return *r;
  }
}

// A browser on another computer cannot reach 127.0.0.1 here: its address bar then shows the
// redirect, which the admin pastes into the terminal.
asio::awaitable<Redirect> pasted_redirect(std::string state) {
  auto ex = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor in(ex, ::dup(0));
  std::string line;
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = co_await asio::async_read_until(in, asio::dynamic_buffer(line), '\n',
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) break;  // the browser was quicker
    if (ec) {  // no more input: wait for the browser alone (until cancelled)
      asio::steady_timer forever(ex, std::chrono::hours(24));
      co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    std::string text = line.substr(0, n);
    line.erase(0, n);
    if (auto r = redirect_of(redirect_result(text, state))) co_return *r;
  }
  Redirect none;  // only when cancelled: never the result
  none.error = "cancelled";
  co_return none;
}

asio::awaitable<Redirect> wait_for_redirect(tcp::acceptor& acceptor, std::string state, std::string who, bool paste) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(co_await asio::this_coro::executor, kBrowserLoginTimeout);
  std::variant<Redirect, Redirect, std::tuple<boost::system::error_code>> result;
  if (paste)
    result = co_await (accept_redirect(acceptor, state, who) || pasted_redirect(state) ||
                       deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  else {
    auto two = co_await (accept_redirect(acceptor, state, who) || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (two.index() == 0) result.emplace<0>(std::get<0>(std::move(two)));
    else result.emplace<2>(std::get<1>(two));
  }
  if (result.index() == 2) {
    Redirect timed_out;
    timed_out.error = "no sign-in within " + format_duration(kBrowserLoginTimeout) + "; run the command again";
    co_return timed_out;
  }
  co_return result.index() == 0 ? std::get<0>(std::move(result)) : std::get<1>(std::move(result));
}

asio::awaitable<oauth::TokenResponse> browser_login(Subject s, std::ostream& out) {
  const oauth::ClientConfig& c = s.client;
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const std::string redirect_uri = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/";
  const oauth::Pkce pkce = oauth::make_pkce();
  const std::string state = oauth::make_pkce().verifier.substr(0, 32);  // 192 random bits, URL-safe
  const std::string url = oauth::authorization_request_url(s.provider, c.client_id, redirect_uri, state, pkce,
                                                          s.username);
  const bool paste = ::isatty(0) != 0;
  out << "Sign in as " << s.username << " to let postbridge use " << s.kind << " " << s.name << ".\n"
      << "Open this address in a browser on this computer:\n\n  " << url << "\n\n"
      << "The sign-in ends on a page of postbridge at " << redirect_uri << ".\n";
  if (paste)
    out << "With the browser on another computer that last page does not load: copy its address from the\n"
           "address bar and paste it here.\n";
  out << "Waiting for the sign-in (at most " << format_duration(kBrowserLoginTimeout) << ")...\n" << std::flush;
  Redirect r = co_await wait_for_redirect(acceptor, state, s.username, paste);
  if (!r.error.empty()) throw oauth::TokenError(oauth::TokenFailure::login_needed, r.error);
  co_return co_await oauth::exchange_authorization_code(c, r.code, pkce.verifier, redirect_uri);
}

// --- the device login ------------------------------------------------------------------------

asio::awaitable<oauth::TokenResponse> device_login(Subject s, std::ostream& out) {
  const oauth::ClientConfig& c = s.client;
  oauth::DeviceAuthorization auth = co_await oauth::start_device_authorization(c);
  // The address and the code come from the provider's token endpoint: escaped, so an answer with
  // ESC or U+009B in it cannot drive the terminal (set its title, clear the screen).
  const std::string where = auth.verification_uri_complete.empty() ? auth.verification_uri : auth.verification_uri_complete;
  out << "Sign in as " << s.username << " to let postbridge use " << s.kind << " " << s.name << ":\n"
      << "  1. open " << display::safe(where, 1000) << " in a browser, on any computer or phone\n"
      << "  2. enter the code " << display::safe(auth.user_code, 100) << " and sign in as " << s.username << "\n"
      << "Waiting for the sign-in (the code is valid for " << format_duration(auth.expires_in) << ")...\n"
      << std::flush;
  co_return co_await oauth::poll_device_token(c, auth);
}

}  // namespace

namespace {

// --- storing --------------------------------------------------------------------------------

std::string time_text(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&tt));
  return buf;
}

int store_tokens(const Subject& s, const oauth::TokenResponse& t, std::ostream& out,
                 std::ostream& err) {
  SavedLogin saved;
  try {
    saved = save_login(s, t);
  } catch (const std::runtime_error& e) {
    err << "postbridge: the login for " << s.kind << " " << s.name << " failed: " << display::safe(e.what(), 1000) << "\n";
    return kFailed;
  }
  out << "Signed in. The tokens are stored in " << saved.file.string()
      << " (only postbridge can read them)" << (t.scope.empty() ? std::string() : "; granted: " + display::safe(t.scope, 1000))
      << ".\n";
  if (saved.signed_in_as.empty())
    out << "The provider did not say who signed in: the first login at the mail server shows whether it was "
        << s.username << ".\n";
  else
    out << "The provider confirms the sign-in as " << display::safe(saved.signed_in_as, 300) << ".\n";
  out << "A running postbridge uses them within a minute. Check the login with: postbridge test -c "
      << s.config_file << " " << s.kind << " " << s.name << "\n";
  return kOk;
}

}  // namespace

std::string check_signed_in_as(const LoginSubject& s, const oauth::TokenResponse& t) {
  if (t.id_token.empty()) return "";
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  const oauth::IdTokenExpect expect{s.client.client_id, s.provider.name, now};
  const oauth::SignedInAs who = oauth::read_id_token(t.id_token, expect);
  if (auto wrong = oauth::identity_mismatch(who, s.username, s.kind + " " + s.name); !wrong.empty())
    throw std::runtime_error(wrong + " (nothing was stored)");
  for (const auto& name : who.names)
    if (oauth::same_login(name, s.username)) return name;
  return "";  // the id_token named no one: as if there were none
}

SavedLogin save_login(const LoginSubject& s, const oauth::TokenResponse& t) {
  const std::string signed_in_as = check_signed_in_as(s, t);
  if (t.refresh_token.empty())
    throw std::runtime_error(
        "the provider signed you in but sent no refresh token, so postbridge could not renew the access; ask for "
        "offline access (the scope offline_access at Microsoft) and sign in again");
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  oauth::StoredTokens st;
  st.refresh_token = t.refresh_token;
  st.access_token = t.access_token;
  st.access_expires_at = t.expires_in.count() > 0 ? now + t.expires_in.count() : 0;
  st.scope = t.scope;
  st.updated_at = now;
  st.signed_in_as = signed_in_as;
  oauth::TokenStore store(s.token_dir);
  // Owned by whoever runs this: as root, cli::with_config has become the state folder's owner already, so
  // the service can read the file and nothing here follows a link as root.
  store.save(s.token_key, st);
  return {store.path_of(s.token_key), signed_in_as};
}

RedirectResult redirect_result(std::string_view text, const std::string& state) {
  auto q = text.find('?');
  if (q == std::string_view::npos) return {};
  auto end = text.find_first_of(" \t\r\n", q);
  return result_of_target("/" + std::string(text.substr(q, end == std::string_view::npos ? end : end - q)), state);
}

namespace {

std::string app_grant_words(const Subject& s) {
  return s.kind + " " + s.name + " logs in as an application (grant = \"" + std::string(grant_name(s.client.app.grant)) +
         "\")";
}

// An application's login needs no sign-in: one token request shows whether the provider takes
// its credentials. The token is neither stored nor shown.
int test_app_login(const Subject& s, std::ostream& out, std::ostream& err) {
  out << app_grant_words(s) << ": no sign-in is needed, postbridge asks " << s.client.token_url
      << " for a token whenever it needs one. Testing that now.\n";
  asio::io_context ioc;
  auto future = asio::co_spawn(ioc, request_app_token(s.client), asio::use_future);
  ioc.run();
  try {
    TokenResponse t = future.get();
    out << "The provider issued an access token for " << s.username
        << (t.expires_in.count() > 0 ? " (valid for " + std::to_string(t.expires_in.count()) + " s)" : std::string())
        << "; nothing was stored. Check the mailbox itself with: postbridge test -c " << s.config_file << " " << s.kind
        << " " << s.name << "\n";
    return kOk;
  } catch (const TokenError& e) {
    err << "postbridge: the application's login for " << s.kind << " " << s.name
        << " failed: " << display::safe(e.what(), 1000) << "\n";
    return kFailed;
  }
}

}  // namespace

int login(const Subject& s, bool browser, std::ostream& out, std::ostream& err) {
  if (s.client.app.grant != AppGrant::none) return test_app_login(s, out, err);
  const bool device = !browser && !s.provider.device_authorization_url.empty();
  if (!device && s.provider.authorization_url.empty()) {
    err << "postbridge: " << s.kind << " " << s.name << " has no authorization_url in its [" << s.kind
        << ".oauth2] table, so there is no browser login" << (browser ? "; leave out --browser" : "") << "\n";
    return kUsage;
  }
  // Before the admin signs in, not after: a link in place of the token folder is refused.
  try {
    fs::check_no_link(s.token_dir, "folder");
  } catch (const fs::LinkRefused& e) {
    err << "postbridge: " << e.what() << "\n";
    return kFailed;
  }
  asio::io_context ioc;
  auto future = asio::co_spawn(ioc, device ? device_login(s, out) : browser_login(s, out), asio::use_future);
  ioc.run();
  oauth::TokenResponse t;
  try {
    t = future.get();
  } catch (const oauth::TokenError& e) {
    err << "postbridge: the login for " << s.kind << " " << s.name << " failed: " << display::safe(e.what(), 1000) << "\n";
    return kFailed;
  }
  return store_tokens(s, t, out, err);
}

void status_line(const Subject& s, std::ostream& out) {
  if (s.client.app.grant != AppGrant::none) {
    out << s.kind << " " << s.name << " (" << s.provider.name << "): an application's login (grant = "
        << grant_name(s.client.app.grant) << "), no sign-in needed; access tokens are asked for when needed and "
        << "kept in memory only\n";
    return;
  }
  oauth::TokenStore store(s.token_dir);
  out << s.kind << " " << s.name << " (" << s.provider.name << "): ";
  try {
    auto t = store.load(s.token_key);
    if (!t || t->refresh_token.empty()) {
      out << "no login yet; run postbridge oauth login -c " << s.config_file << " " << s.kind << " " << s.name << "\n";
      return;
    }
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    out << "logged in (stored " << time_text(t->updated_at) << ")";
    if (t->access_expires_at > now) out << ", access token valid until " << time_text(t->access_expires_at);
    else out << ", a new access token is fetched at the next login";
    if (!t->scope.empty()) out << ", scope " << display::safe(t->scope, 1000);
    out << "\n";
  } catch (const std::exception& e) {
    out << display::safe(e.what(), 1000) << "\n";
  }
}

int logout(const Subject& s, std::ostream& out, std::ostream& err) {
  if (s.client.app.grant != AppGrant::none) {
    out << app_grant_words(s) << ": nothing is stored, so there is nothing to forget; to stop it, remove its "
        << "certificate or key at the provider.\n";
    return kOk;
  }
  try {
    oauth::TokenStore(s.token_dir).remove(s.token_key);
  } catch (const std::runtime_error& e) {  // a link in place of the token folder, a failed unlink
    err << "postbridge: " << e.what() << "\n";
    return kFailed;
  }
  out << "The OAuth tokens of " << s.kind << " " << s.name << " are forgotten; it cannot log in until the next "
      << "postbridge oauth login.\n";
  return kOk;
}

}  // namespace pb::oauth
