// SMTP server session (see server.hpp): one coroutine per connection with an explicit state that
// only set_state() changes, its own input buffer (exact DATA framing and BDAT chunks, both decoded
// by smtp::DataDecoder), batched replies. Here: the state, the I/O, the command loop and the
// commands without a dialog of their own; DATA/BDAT in server_data.cpp, STARTTLS/AUTH in
// server_auth.cpp.
#include "smtp/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cstring>
#include <variant>

#include "mail/address.hpp"
#include "smtp/codes.hpp"
#include "smtp/command.hpp"
#include "smtp/server_session.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

namespace pb::smtp {
namespace asio = boost::asio;

namespace session {

namespace {

const char* state_name(State s) {
  switch (s) {
    case State::connected: return "connected";
    case State::ready: return "ready";
    case State::mail: return "mail";
    case State::rcpt: return "rcpt";
    case State::data: return "data";
    case State::bdat: return "bdat";
    case State::auth: return "auth";
    case State::starttls: return "starttls";
    case State::closed: return "closed";
  }
  return "?";
}

std::size_t line_limit(Verb v) {
  switch (v) {
    case Verb::mail: return kMailLine;
    case Verb::rcpt: return kRcptLine;
    case Verb::auth: return kAuthLine;
    default: return kCommandLine;
  }
}

bool has_control(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n') c = ' ';
  return out;
}

// ---- state ------------------------------------------------------------------------------------

void Session::set_state(State next) {
  if (next == state_) return;
  log::debug(prefix_ + "state " + state_name(state_) + " -> " + state_name(next));
  state_ = next;
}

void Session::abandon_message() {
  if (!sink_) return;
  try {
    hooks_.abandon(std::move(sink_));
  } catch (const std::exception& e) {
    log::error(prefix_ + "dropping a refused message failed: " + e.what());
  }
  sink_.reset();
}

void Session::reset_transaction() {
  abandon_message();
  chunks_.reset();
  sink_failed_ = false;
  message_size_ = 0;
  tx_.sender.clear();
  tx_.recipients.clear();
  tx_.declared_size.reset();
  tx_.body.clear();
  tx_.smtputf8 = false;
  tx_.ret.clear();
  tx_.envid.clear();
  tx_.notify.clear();
  tx_.orcpt.clear();
}

bool Session::start_message() {
  tx_.tls = t_.is_tls();
  sink_failed_ = false;
  message_size_ = 0;
  try {
    sink_ = hooks_.begin_message(tx_);
    if (sink_) return true;
    log::error(prefix_ + "cannot spool a message: no spool file");
  } catch (const std::exception& e) {
    log::error(prefix_ + "cannot spool a message: " + e.what());
  }
  return false;
}

void Session::write_to_sink(std::string_view bytes) {
  if (!sink_ || sink_failed_ || bytes.empty()) return;
  try {
    sink_->write(bytes);
  } catch (const std::exception& e) {
    // Keep reading to the end of the data (it must not be taken as commands), then 452.
    sink_failed_ = true;
    log::error(prefix_ + "cannot spool the message: " + e.what());
  }
}

// ---- I/O --------------------------------------------------------------------------------------

asio::awaitable<void> Session::flush() {
  if (out_.empty()) co_return;
  co_await t_.write_all(asio::buffer(out_));
  out_.clear();
}

void Session::set_wait(std::chrono::milliseconds limit, const char* what) {
  wait_ = limit;
  deadline_ = std::chrono::steady_clock::now() + limit;
  waiting_for_ = what;
  t_.set_timeout(limit + kTransportGrace);
}

// Replies are sent before every wait for input, in one write: pipelined commands get their
// replies together (RFC 2920), and no reply is ever held back while the client waits.
// The read races our timer: on expiry it is cancelled and the connection stays usable for 421.
asio::awaitable<void> Session::fill() {
  co_await flush();
  auto space = in_.space();
  if (space.size() == 0) throw std::logic_error("smtpd input buffer full");
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, deadline_);
  auto [order, read_error, n, timer_error] =
      co_await asio::experimental::make_parallel_group(asio::co_spawn(ex, t_.read_some(space), asio::deferred),
                                                       timer.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  if (order[0] == 1 && !timer_error)
    throw net::NetFailure(net::NetError::timeout, "no " + std::string(waiting_for_) + " within " + format_duration(wait_));
  if (read_error) std::rethrow_exception(read_error);
  in_.commit(n);
}

asio::awaitable<Line> Session::read_line(std::size_t max_text) {
  std::size_t scanned = 0;
  bool skipping = false;
  for (;;) {
    std::string_view v = in_.view();
    std::size_t lf = v.find('\n', scanned);
    if (lf != std::string_view::npos) {
      std::string_view text = v.substr(0, lf);
      in_.consume(lf + 1);  // the bytes stay in place until the next fill()
      Line line;
      line.crlf = !text.empty() && text.back() == '\r';
      if (line.crlf) text.remove_suffix(1);
      line.too_long = skipping || text.size() > max_text;
      if (!line.too_long) line.text = text;
      co_return line;
    }
    if (v.size() > max_text + 1) {  // no LF yet and already too long: drop what we have
      skipping = true;
      in_.consume(v.size());
      scanned = 0;
    } else {
      scanned = v.size();
    }
    co_await fill();
  }
}

void Session::reply(int code, std::string_view enhanced, std::string_view text) {
  std::string line = std::to_string(code);
  line += ' ';
  if (!enhanced.empty()) {
    line += enhanced;
    line += ' ';
  }
  line += text;
  log::debug(prefix_ + "S: " + text::printable(line));
  out_ += line;
  out_ += "\r\n";
}

void Session::reply_lines(int code, const std::vector<std::string>& lines) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string line = std::to_string(code) + (i + 1 < lines.size() ? "-" : " ") + lines[i];
    log::debug(prefix_ + "S: " + line);
    out_ += line;
    out_ += "\r\n";
  }
}

void Session::refuse(int code, std::string_view enhanced, std::string_view text) {
  reply(code, enhanced, text);
  if (++errors_ < s_.max_errors) return;
  log::notice(prefix_ + "too many errors (" + std::to_string(errors_) + "), closing the connection");
  reply(code::closing_policy, s_.hostname + " too many errors, closing connection");
  set_state(State::closed);
}

void Session::log_command(const CommandLine& c, std::string_view line) const {
  if (c.verb != Verb::auth) {
    log::debug(prefix_ + "C: " + text::printable(line));
    return;
  }
  // Never a secret in the log: AUTH PLAIN's initial response carries the password.
  auto words = text::split_ws(c.argument);
  std::string shown = std::string(c.word);
  if (!words.empty()) shown += " " + text::printable(words[0], 20);
  if (words.size() > 1) shown += " ****";
  log::debug(prefix_ + "C: " + shown);
}

// ---- the session --------------------------------------------------------------------------------

// RFC 8314 3.3: on an implicit-TLS address the handshake comes before anything else. Nothing is
// sent when it fails: a plain-text 421 would be garbage to a TLS client, and a plain-text client
// never gets that far.
asio::awaitable<bool> Session::implicit_handshake() {
  set_state(State::starttls);
  t_.set_timeout(s_.command_timeout);
  try {
    co_await t_.start_tls();
    set_state(State::connected);
    co_return true;
  } catch (const net::NetFailure& e) {
    if (e.kind() == net::NetError::timeout)
      log::notice(prefix_ + "no TLS handshake within " + format_duration(s_.command_timeout) +
                  ": this address expects implicit TLS (port 465 style), the client may be set up for "
                  "plain SMTP or STARTTLS (port 25 or 587 style); closing");
    else
      log::notice(prefix_ + e.what() + ": this address expects implicit TLS, the client may be set up for "
                                       "plain SMTP or STARTTLS; closing");
  } catch (const boost::system::system_error& e) {
    log::info(prefix_ + "client closed the connection during the TLS handshake");
  }
  set_state(State::closed);
  co_return false;
}

asio::awaitable<void> Session::run() {
  bool timed_out = false;
  if (s_.implicit_tls && !co_await implicit_handshake()) {
    t_.close();
    co_return;
  }
  log::info(prefix_ + "connected" + (t_.is_tls() ? " (TLS: " + t_.tls_description() + ")" : std::string()));
  try {
    reply(code::service_ready, s_.hostname + " ESMTP postbridge");
    while (state_ != State::closed) co_await next_command();
    co_await flush();
  } catch (const net::NetFailure& e) {
    timed_out = e.kind() == net::NetError::timeout;
    log::notice(prefix_ + e.what() + " (state " + state_name(state_) + ")");
  } catch (const boost::system::system_error& e) {
    bool gone = e.code() == asio::error::eof || e.code() == asio::error::connection_reset;
    if (e.code() == asio::error::operation_aborted)
      log::info(prefix_ + "session stopped");
    else if (gone && (state_ == State::data || state_ == State::bdat))
      log::notice(prefix_ + "connection lost in the middle of a message: message dropped");
    else if (gone)
      log::info(prefix_ + "client closed the connection without QUIT" +
                (state_ == State::mail || state_ == State::rcpt ? " (transaction dropped)" : ""));
    else
      log::notice(prefix_ + "connection failed: " + e.what());
  } catch (const std::exception& e) {
    log::error(prefix_ + "session aborted: " + e.what());
  }
  abandon_message();
  if (timed_out) {
    // Best effort: the connection may be unusable (RFC 5321 4.5.3.2: the server may close it).
    try {
      out_.clear();
      reply(code::bad_connection, s_.hostname + " timeout, closing connection");
      co_await flush();
    } catch (const std::exception&) {
    }
  }
  set_state(State::closed);
  t_.close();
}

asio::awaitable<void> Session::next_command() {
  set_wait(s_.command_timeout, "command");  // each command (with its AUTH dialog) gets the full time
  if (in_.size() == 0) co_await fill();
  if (!seen_command_ && !s_.implicit_tls && in_.size() > 0 && static_cast<unsigned char>(in_.view().front()) == 0x16) {
    // A TLS ClientHello where a command should be: the client expects implicit TLS.
    log::notice(prefix_ + "client started a TLS handshake instead of SMTP: it is set up for implicit "
                          "TLS (port 465) but this listener speaks plain SMTP with STARTTLS; closing");
    set_state(State::closed);
    co_return;
  }
  Line line = co_await read_line(kAuthLine - 2);
  seen_command_ = true;
  if (line.too_long) {
    log::notice(prefix_ + "command line longer than " + std::to_string(kAuthLine) + " octets refused");
    refuse(code::syntax_error, "line too long");
    co_return;
  }
  line_.assign(line.text);
  if (!line.crlf && !told_bare_lf_) {
    told_bare_lf_ = true;  // tolerated in commands (only DATA is framing-sensitive), noted once
    log::info(prefix_ + "client ends command lines with a bare LF instead of CRLF");
  }
  CommandLine c = split_command(line_);
  log_command(c, line_);
  if (line_.size() + 2 > line_limit(c.verb)) {
    // RFC 5321 4.5.3.1.4 (500); X.5.2 rather than X.5.6, which RFC 4954 reserves for AUTH lines.
    refuse(code::syntax_error, "command line too long (limit " + std::to_string(line_limit(c.verb)) + " octets)");
    co_return;
  }
  if (has_control(line_)) {
    log::notice(prefix_ + "command with control characters refused: " + text::printable(line_, 80));
    refuse(code::syntax_error, "command contains control characters");
    co_return;
  }
  co_await dispatch(c);
}

asio::awaitable<void> Session::dispatch(const CommandLine& c) {
  switch (c.verb) {
    case Verb::ehlo:
    case Verb::helo: on_hello(c); break;
    case Verb::mail: on_mail(c.argument); break;
    case Verb::rcpt: on_rcpt(c.argument); break;
    case Verb::data: co_await on_data(c.argument); break;
    case Verb::bdat: co_await on_bdat(c.argument); break;
    case Verb::starttls: co_await on_starttls(c.argument); break;
    case Verb::auth: co_await on_auth(c.argument); break;
    default: on_simple(c); break;
  }
}

void Session::on_hello(const CommandLine& c) {
  bool esmtp = c.verb == Verb::ehlo;
  if (!valid_helo_argument(c.argument)) {
    refuse(code::bad_arguments, std::string("syntax: ") + (esmtp ? "EHLO" : "HELO") + " your-domain-or-[address]");
    return;
  }
  reset_transaction();  // RFC 5321 4.1.4: EHLO/HELO in a transaction implies RSET
  tx_.helo = std::string(c.argument);
  tx_.esmtp = esmtp;
  set_state(State::ready);
  if (!esmtp) {
    reply(code::hello, s_.hostname);
    return;
  }
  std::vector<std::string> lines = {s_.hostname,
                                    "SIZE " + std::to_string(s_.max_message_size),  // RFC 1870
                                    "PIPELINING",                                   // RFC 2920
                                    "8BITMIME",                                     // RFC 6152
                                    "ENHANCEDSTATUSCODES",                          // RFC 2034
                                    "CHUNKING",                                     // RFC 3030
                                    "SMTPUTF8",                                     // RFC 6531
                                    "DSN"};                                         // RFC 3461
  if (starttls_offered()) lines.push_back("STARTTLS");             // RFC 3207
  if (auth_offered()) lines.push_back("AUTH PLAIN LOGIN");         // RFC 4954, 4616
  reply_lines(250, lines);
}

void Session::on_mail(std::string_view arg) {
  if (state_ == State::connected) return refuse(code::bad_sequence, "send EHLO or HELO first");
  if (state_ != State::ready) return refuse(code::bad_sequence, "nested MAIL command");
  auto parsed = parse_mail(arg);
  if (auto* r = std::get_if<Refusal>(&parsed)) return refuse(*r);
  auto& m = std::get<MailCommand>(parsed);
  if (!m.sender.empty() && !mail::Address::parse(m.sender))
    return refuse(code::bad_sender_syntax, "bad sender address syntax");
  if (m.size && s_.max_message_size != 0 && *m.size > s_.max_message_size) {  // RFC 1870 6.1
    reply(code::message_too_big, "message size exceeds the limit of " + std::to_string(s_.max_message_size) + " octets");
    return;
  }
  tx_.sender = std::move(m.sender);
  tx_.tls = t_.is_tls();  // the policy hooks may care
  tx_.declared_size = m.size;
  tx_.body = std::move(m.body);
  tx_.smtputf8 = m.smtputf8;
  tx_.ret = std::move(m.ret);
  tx_.envid = std::move(m.envid);
  std::optional<HookReply> verdict;
  try {
    verdict = hooks_.check_sender(tx_);
  } catch (const std::exception& e) {
    log::error(prefix_ + "sender check failed: " + e.what());
    verdict = HookReply{code::local_error, "temporary failure, try again later"};
  }
  if (verdict && verdict->code >= 400) {
    log::notice(prefix_ + "sender <" + text::printable(tx_.sender) + "> refused: " + std::to_string(verdict->code) +
                " " + verdict->enhanced + " " + one_line(verdict->text));
    refuse_hook(*verdict);
    reset_transaction();
    return;
  }
  if (verdict) reply_hook(*verdict);
  else reply(code::sender_ok, "sender ok");
  set_state(State::mail);
}

void Session::on_rcpt(std::string_view arg) {
  if (state_ == State::bdat) return refuse(code::bad_sequence, "RCPT cannot follow BDAT");
  if (state_ != State::mail && state_ != State::rcpt) return refuse(code::bad_sequence, "need MAIL before RCPT");
  auto parsed = parse_rcpt(arg, tx_.smtputf8);
  if (auto* r = std::get_if<Refusal>(&parsed)) return refuse(*r);
  auto& r = std::get<RcptCommand>(parsed);
  // RFC 5321 4.5.1: "Postmaster" without a domain must be accepted.
  if (!text::iequals(r.recipient, "postmaster") && !mail::Address::parse(r.recipient))
    return refuse(code::bad_recipient_syntax, "bad recipient address syntax");
  if (tx_.recipients.size() >= static_cast<std::size_t>(s_.max_recipients)) {  // RFC 5321 4.5.3.1.10
    reply(code::too_many_recipients, "too many recipients");
    return;
  }
  std::optional<HookReply> verdict;
  try {
    verdict = hooks_.check_recipient(tx_, r.recipient);
  } catch (const std::exception& e) {
    log::error(prefix_ + "recipient check failed: " + e.what());
    verdict = HookReply{code::local_error, "temporary failure, try again later"};
  }
  if (verdict && verdict->code >= 400) {
    log::notice(prefix_ + "recipient <" + text::printable(r.recipient) + "> from <" + text::printable(tx_.sender) +
                "> refused: " + std::to_string(verdict->code) + " " + verdict->enhanced + " " + one_line(verdict->text));
    refuse_hook(*verdict);
    return;
  }
  tx_.recipients.push_back(std::move(r.recipient));
  tx_.notify.push_back(std::move(r.notify));
  tx_.orcpt.push_back(std::move(r.orcpt));
  if (verdict) reply_hook(*verdict);
  else reply(code::recipient_ok, "recipient ok");
  set_state(State::rcpt);
}
// ---- small commands ----------------------------------------------------------------------------

void Session::on_simple(const CommandLine& c) {
  switch (c.verb) {
    case Verb::rset:  // RFC 5321 4.1.1.5
      if (!c.argument.empty()) return refuse(code::bad_arguments, "RSET takes no argument");
      reset_transaction();
      set_state(idle_state());
      return reply(code::ok, "reset");
    case Verb::noop:  // RFC 5321 4.1.1.9: an argument is allowed and ignored
      return reply(code::ok, "ok");
    case Verb::quit:
      reply(code::closing, s_.hostname + " closing connection");
      set_state(State::closed);
      return;
    case Verb::vrfy:  // RFC 5321 3.5.3: 252 when we will not verify
      if (c.argument.empty()) return refuse(code::bad_arguments, "syntax: VRFY address");
      return reply(code::cannot_verify, "cannot VRFY, but will accept the message and attempt delivery");
    case Verb::help:
      return reply(code::help, "commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
    case Verb::not_implemented:
      return refuse(code::not_implemented, text::to_upper(c.word) + " not implemented");
    case Verb::http:
      log::notice(prefix_ + "HTTP request on the SMTP port (" + text::printable(line_, 80) + "); closing");
      reply(code::closing_policy, s_.hostname + " this is an SMTP server, closing connection");
      set_state(State::closed);
      return;
    default:
      return refuse(code::syntax_error, "command not recognized");
  }
}

}  // namespace session

asio::awaitable<void> serve(net::Transport& transport, const ServerSettings& settings, Hooks& hooks) {
  session::Session s(transport, settings, hooks);
  co_await s.run();
}

}  // namespace pb::smtp
