// The SMTP server session's security commands (see server.hpp): STARTTLS (RFC 3207), and AUTH
// PLAIN and LOGIN (RFC 4954, 4616) with secrets never logged and a delay before every failure.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <string>
#include <variant>

#include "smtp/codes.hpp"
#include "smtp/server_session.hpp"
#include "util/base64.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace pb::smtp::session {

asio::awaitable<void> Session::on_starttls(std::string_view arg) {
  if (!arg.empty()) co_return refuse(code::bad_arguments, "STARTTLS takes no argument");  // RFC 3207 4
  if (t_.is_tls()) co_return refuse(code::bad_sequence, "TLS is already active");
  if (!s_.tls_available) co_return refuse(code::not_implemented, "STARTTLS not available");
  if (state_ == State::connected || !tx_.esmtp) co_return refuse(code::bad_sequence, "send EHLO first");
  if (state_ != State::ready) co_return refuse(code::bad_sequence, "mail transaction in progress");
  reply(code::tls_ready, "ready to start TLS");
  co_await flush();
  // CVE-2011-0411: bytes the client sent after STARTTLS in plain text are discarded, never run as
  // commands over the encrypted session (a man in the middle could have injected them).
  if (in_.size() > 0)
    log::warn(prefix_ + "discarded " + std::to_string(in_.size()) +
              " octets sent after STARTTLS before the TLS handshake (command injection attempt?)");
  in_.clear();
  set_state(State::starttls);
  try {
    co_await t_.start_tls();
  } catch (const net::NetFailure& e) {
    log::notice(prefix_ + "STARTTLS failed: " + e.what());
    set_state(State::closed);
    co_return;
  }
  log::info(prefix_ + "TLS: " + t_.tls_description());
  tx_ = MailTransaction{};  // RFC 3207 4.2: forget what the client said before, EHLO included
  set_state(State::connected);
}

// ---- AUTH (RFC 4954) ---------------------------------------------------------------------------

asio::awaitable<void> Session::on_auth(std::string_view arg) {
  if (!s_.auth_available) co_return refuse(code::not_implemented, "AUTH not available");
  if (state_ == State::connected || !tx_.esmtp) co_return refuse(code::bad_sequence, "send EHLO first");
  if (!t_.is_tls() && !s_.peer_is_loopback)  // RFC 4954 4, 6: no plaintext passwords in the clear
    co_return refuse(code::encryption_required, "encryption required: use STARTTLS first");
  if (!tx_.auth_user.empty()) co_return refuse(code::bad_sequence, "already authenticated");
  if (state_ != State::ready) co_return refuse(code::bad_sequence, "AUTH is not permitted during a mail transaction");
  auto parsed = parse_auth(arg);
  if (auto* r = std::get_if<Refusal>(&parsed)) co_return refuse(*r);
  auto& a = std::get<AuthCommand>(parsed);
  if (a.mechanism != "PLAIN" && a.mechanism != "LOGIN")
    co_return refuse(code::mechanism_unknown, "unrecognized authentication mechanism (PLAIN and LOGIN are offered)");
  set_state(State::auth);
  if (a.mechanism == "PLAIN") co_await auth_plain(a.initial_response);
  else co_await auth_login(a.initial_response);
  if (state_ == State::auth) set_state(State::ready);
}

// RFC 4616 2: one message "[authzid] NUL authcid NUL passwd", as initial response or after "334 ".
asio::awaitable<void> Session::auth_plain(const std::optional<std::string>& initial_response) {
  std::optional<std::string> message;
  if (initial_response) message = sasl_decode(*initial_response);
  else message = co_await sasl_step("");
  if (!message) co_return;
  std::string_view m = *message;
  std::size_t nul1 = m.find('\0');
  std::size_t nul2 = nul1 == std::string_view::npos ? nul1 : m.find('\0', nul1 + 1);
  if (nul2 == std::string_view::npos || m.find('\0', nul2 + 1) != std::string_view::npos)
    co_return refuse(code::bad_argument_syntax, "malformed PLAIN response");
  std::string authzid(m.substr(0, nul1)), user(m.substr(nul1 + 1, nul2 - nul1 - 1));
  std::string password(m.substr(nul2 + 1));
  std::fill(message->begin(), message->end(), '\0');
  // Acting as another user (a non-empty, different authzid) is not supported: a failure.
  if (!authzid.empty() && authzid != user) {
    log::notice(prefix_ + "AUTH PLAIN: '" + text::printable(user, 64) + "' asked to act as '" +
                text::printable(authzid, 64) + "', which is not supported");
    password.clear();
  }
  co_await check_credentials("PLAIN", user, password);
}

// LOGIN (draft-murchison-sasl-login): base64 "Username:" and "Password:" challenges; the user
// name may come as the initial response.
asio::awaitable<void> Session::auth_login(const std::optional<std::string>& initial_response) {
  std::optional<std::string> user;
  if (initial_response) user = sasl_decode(*initial_response);
  else user = co_await sasl_step("VXNlcm5hbWU6");
  if (!user) co_return;
  auto password = co_await sasl_step("UGFzc3dvcmQ6");
  if (password) co_await check_credentials("LOGIN", *user, *password);
}

// Sends a 334 challenge and returns the decoded response, or nullopt after answering the error.
asio::awaitable<std::optional<std::string>> Session::sasl_step(std::string_view challenge) {
  reply(code::auth_challenge, challenge);
  Line line = co_await read_line(kAuthLine - 2);
  log::debug(prefix_ + "C: ****");
  if (line.too_long) {
    refuse(code::auth_line_too_long, "authentication exchange line is too long");  // RFC 4954 4
    co_return std::nullopt;
  }
  co_return sasl_decode(line.text);
}

std::optional<std::string> Session::sasl_decode(std::string_view response) {
  if (response == "*") {  // RFC 4954 4: the client cancels
    refuse(code::auth_cancelled, "authentication cancelled");
    return std::nullopt;
  }
  if (response == "=") return std::string();  // RFC 4954 4: an empty response
  auto decoded = base64::decode(response);
  if (!decoded) refuse(code::bad_argument_syntax, "cannot decode the base64 response");  // RFC 4954 4
  return decoded;
}

asio::awaitable<void> Session::check_credentials(const std::string& mechanism, const std::string& user,
                                                 std::string& password) {
  AuthResult result;
  try {
    if (!user.empty() && !password.empty()) result = co_await hooks_.authenticate(user, password);
  } catch (const std::exception& e) {
    std::fill(password.begin(), password.end(), '\0');
    log::error(prefix_ + "AUTH " + mechanism + " could not check the password: " + e.what());
    reply(code::auth_temporary, "temporary authentication failure");  // RFC 4954 6
    co_return;
  }
  std::fill(password.begin(), password.end(), '\0');
  if (result.retry_after) {
    // The password was not checked, so neither 535 (which tells a user to type it again) nor
    // the failure delay: RFC 4954 6's 454 4.7.0 says "try later". The session stays open for
    // a client that waits; one that keeps trying runs into max_errors and 421.
    log::notice(prefix_ + "AUTH " + mechanism + " for '" + text::printable(user, 64) +
                "' refused unchecked: too many failed logins from this address");
    refuse(code::auth_temporary, "too many failed logins from your address; try again in " +
                             std::to_string(std::max<long long>(1, result.retry_after->count())) + " s");
    co_return;
  }
  if (result.ok) {
    tx_.auth_user = result.user.empty() ? user : result.user;
    log::info(prefix_ + "authenticated as '" + text::printable(tx_.auth_user, 64) + "' (" + mechanism + ")");
    reply(code::auth_succeeded, "authentication successful");
    co_return;
  }
  log::notice(prefix_ + "AUTH " + mechanism + " failed for '" + text::printable(user, 64) + "'");
  // A fixed delay before every failure: password guessing gets slow, without extra state.
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(s_.auth_failure_delay);
  co_await timer.async_wait(asio::use_awaitable);
  refuse(code::auth_failed, "authentication credentials invalid");
}

}  // namespace pb::smtp::session
