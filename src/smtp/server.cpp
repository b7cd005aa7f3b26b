// SMTP server session (see server.hpp): one coroutine per connection with an explicit state that
// only set_state() changes, its own input buffer (exact DATA framing and BDAT chunks, both decoded
// by smtp::DataDecoder), batched replies.
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
#include "util/base64.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

namespace pb::smtp {
namespace asio = boost::asio;

namespace {

// Line limits in octets, CRLF included. RFC 5321 4.5.3.1.4 allows extensions to raise 512.
constexpr std::size_t kCommandLine = 512;
constexpr std::size_t kMailLine = kCommandLine + 26 /* SIZE, RFC 1870 */ + 100 /* ENVID, RET, RFC 3461 4 */ +
                                  500 /* AUTH=, RFC 4954 */ + 32 /* BODY=8BITMIME SMTPUTF8 */;
constexpr std::size_t kRcptLine = kCommandLine + 500;  // NOTIFY, ORCPT (RFC 3461 4)
constexpr std::size_t kAuthLine = 12288;               // SASL responses (RFC 4954 4)
// DATA lines: RFC 5322 2.1.1 says 998, but real mail (HTML, unwrapped base64) breaks it; beyond
// 64 KiB the message is refused rather than the line split or kept in memory.
constexpr std::size_t kDataLine = 64 * 1024;
constexpr std::size_t kInputBuffer = 64 * 1024;
// The transport's own deadline only backs up ours (and bounds writes): beast closes the socket
// when it expires, and then no 421 could be sent.
constexpr std::chrono::seconds kTransportGrace{10};

enum class State {
  connected,  // banner sent; EHLO/HELO needed (also after STARTTLS, RFC 3207 4.2)
  ready,      // greeted, no transaction
  mail,       // MAIL accepted, no recipient yet
  rcpt,       // at least one recipient accepted
  data,       // receiving DATA
  bdat,       // BDAT chunks received, LAST not yet
  auth,       // SASL exchange
  starttls,   // TLS handshake
  closed,     // QUIT, 421 or a broken connection
};

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

// Unread client bytes. Ours rather than net::LineReader's: DATA is decoded straight from this
// buffer and whatever follows the end marker stays here for the next command, and an over-long
// line's ending is never lost (see DataDecoder).
class InputBuffer {
 public:
  InputBuffer() : buf_(new char[kInputBuffer]) {}
  std::string_view view() const { return {buf_.get() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }
  // The free space after the unread bytes (moved to the front first).
  asio::mutable_buffer space() {
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    return asio::buffer(buf_.get() + end_, kInputBuffer - end_);
  }
  void commit(std::size_t n) { end_ += n; }

 private:
  std::unique_ptr<char[]> buf_;
  std::size_t begin_ = 0, end_ = 0;
};

struct Line {
  std::string_view text;  // without the line end; empty when too_long
  bool crlf = true;       // false: ended with a bare LF
  bool too_long = false;  // consumed up to its LF, content dropped
};

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

// Reply text from hooks goes on one line: a CR or LF in it would forge further replies.
std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n') c = ' ';
  return out;
}

class Session {
 public:
  Session(net::Transport& t, const ServerSettings& s, Hooks& h)
      : t_(t), s_(s), hooks_(h), prefix_("smtpd " + t.peer() + ": ") {
    chunk_.reserve(kInputBuffer);
  }
  asio::awaitable<void> run();

 private:
  // --- state and transaction
  asio::awaitable<bool> implicit_handshake();
  void set_state(State next);
  State idle_state() const { return tx_.helo.empty() ? State::connected : State::ready; }
  void reset_transaction();  // RFC 5321 4.1.1.5: sender, recipients and data are discarded
  bool start_message();
  void abandon_message();
  void write_to_sink(std::string_view bytes);
  bool starttls_offered() const { return s_.tls_available && !t_.is_tls(); }
  bool auth_offered() const { return s_.auth_available && (t_.is_tls() || s_.peer_is_loopback); }

  // --- I/O
  void set_wait(std::chrono::milliseconds limit, const char* what);
  asio::awaitable<void> fill();
  asio::awaitable<void> flush();
  asio::awaitable<Line> read_line(std::size_t max_text);
  void reply(int code, std::string_view enhanced, std::string_view text);
  void reply(Code c, std::string_view text) { reply(c.basic, c.enhanced, text); }
  void reply_lines(int code, const std::vector<std::string>& lines);
  void reply_hook(const HookReply& r) { reply(r.code, r.enhanced, one_line(r.text)); }
  // A policy refusal: a permanent one counts towards max_errors (as Postfix's hard error limit
  // counts rejected recipients), so a client cannot try thousands of addresses in one session.
  void refuse_hook(const HookReply& r) {
    if (r.code >= 500) refuse(r.code, r.enhanced, one_line(r.text));
    else reply_hook(r);
  }
  void refuse(int code, std::string_view enhanced, std::string_view text);  // counts an error
  void refuse(Code c, std::string_view text) { refuse(c.basic, c.enhanced, text); }
  void refuse(const Refusal& r) { refuse(r.code, r.enhanced, r.text); }

  // --- commands
  asio::awaitable<void> next_command();
  asio::awaitable<void> dispatch(const CommandLine& c);
  void on_hello(const CommandLine& c);
  void on_mail(std::string_view arg);
  void on_rcpt(std::string_view arg);
  asio::awaitable<void> on_data(std::string_view arg);
  asio::awaitable<void> on_bdat(std::string_view arg);
  asio::awaitable<void> on_starttls(std::string_view arg);
  asio::awaitable<void> on_auth(std::string_view arg);
  void on_simple(const CommandLine& c);
  std::optional<Refusal> data_sequence_refusal(bool bdat) const;
  // 554 "no valid recipients" follows policy refusals, not a client error: not counted.
  void answer_sequence(const Refusal& r) {
    r.code == code::no_valid_recipients.basic ? reply(r.code, r.enhanced, r.text) : refuse(r);
  }
  asio::awaitable<void> receive_data();
  asio::awaitable<void> receive_chunk(std::uint64_t size, bool keep);
  std::optional<Refusal> decoded_refusal(const DataDecoder& decoder, const char* how);
  asio::awaitable<void> finish_message(std::optional<Refusal> refused, const char* how);

  // --- AUTH (RFC 4954)
  asio::awaitable<void> auth_plain(const std::optional<std::string>& initial_response);
  asio::awaitable<void> auth_login(const std::optional<std::string>& initial_response);
  asio::awaitable<std::optional<std::string>> sasl_step(std::string_view challenge);
  std::optional<std::string> sasl_decode(std::string_view response);
  asio::awaitable<void> check_credentials(const std::string& mechanism, const std::string& user,
                                          std::string& password);

  void log_command(const CommandLine& c, std::string_view line) const;

  net::Transport& t_;
  const ServerSettings& s_;
  Hooks& hooks_;
  std::string prefix_;  // "smtpd 192.0.2.1:4321: " for every log line
  State state_ = State::connected;
  MailTransaction tx_;
  std::unique_ptr<MessageSink> sink_;
  std::optional<DataDecoder> chunks_;  // the BDAT transaction's decoder, from its first chunk on
  bool sink_failed_ = false;
  std::uint64_t message_size_ = 0;  // octets of the current message so far (RFC 1870 counting)
  InputBuffer in_;
  std::string out_;    // replies not yet written (RFC 2920: batched until we would wait for input)
  std::string line_;   // the current command line, copied out of in_
  std::string chunk_;  // decoded DATA between two reads
  // command_timeout or data_timeout, counted from set_wait(): the whole command line, the whole
  // DATA transfer or BDAT chunk must arrive by then. Not per read: a client trickling one byte
  // every few seconds (slowloris) would otherwise hold a connection slot for days.
  std::chrono::milliseconds wait_{};
  std::chrono::steady_clock::time_point deadline_{};
  const char* waiting_for_ = "";      // "command", "message data", "BDAT data": for the log
  int errors_ = 0;
  bool seen_command_ = false;
  bool told_bare_lf_ = false;
};

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

// Why DATA/BDAT cannot start now, if it cannot.
std::optional<Refusal> Session::data_sequence_refusal(bool bdat) const {
  // RFC 5321 3.3: after MAIL whose recipients were all refused, 554 "no valid recipients".
  if (state_ == State::mail) return Refusal{code::no_valid_recipients, "no valid recipients"};
  if (state_ == State::bdat && !bdat)  // RFC 3030 2: no DATA in a BDAT transaction
    return Refusal{code::bad_sequence, "DATA cannot follow BDAT in the same transaction"};
  if (state_ != State::rcpt && state_ != State::bdat)
    return Refusal{code::bad_sequence, std::string("need MAIL and RCPT before ") + (bdat ? "BDAT" : "DATA")};
  return std::nullopt;
}

asio::awaitable<void> Session::on_data(std::string_view arg) {
  if (!arg.empty()) co_return refuse(code::bad_arguments, "DATA takes no argument");
  if (auto r = data_sequence_refusal(false)) co_return answer_sequence(*r);
  if (!start_message()) {
    reply(code::no_storage, "insufficient system storage, try again later");
    reset_transaction();
    set_state(State::ready);
    co_return;
  }
  reply(code::start_data, "end data with <CR><LF>.<CR><LF>");
  set_state(State::data);
  co_await receive_data();
}

asio::awaitable<void> Session::receive_data() {
  set_wait(s_.data_timeout, "message data");
  DataDecoder decoder(s_.max_message_size, kDataLine, s_.bare_line_ends, Framing::dot);
  while (!decoder.done()) {
    if (in_.size() == 0) co_await fill();
    chunk_.clear();
    in_.consume(decoder.feed(in_.view(), chunk_));
    write_to_sink(chunk_);
  }
  set_wait(s_.command_timeout, "command");
  message_size_ = decoder.size();
  co_await finish_message(decoded_refusal(decoder, "DATA"), "DATA");
}

// Why a decoded message (DATA, or BDAT so far) is refused, if it is; logs what was repaired.
std::optional<Refusal> Session::decoded_refusal(const DataDecoder& decoder, const char* how) {
  if (decoder.nul_bytes() > 0)
    log::info(prefix_ + "message contains " + std::to_string(decoder.nul_bytes()) + " NUL bytes (kept)");
  if (decoder.bare_refused()) {
    // The whole message up to its real end was read and dropped: no part of it was taken as a
    // command, and no part of it is delivered. Refusing (not repairing) means a hop that
    // disagrees with us about where the data ends gets an error, never a second message
    // (CVE-2023-51764). 5.6.11 as Exchange Online uses it for bare line feeds.
    log::notice(prefix_ + "message with a bare CR or LF refused (SMTP smuggling protection; " + how +
                ", [relay] bare_line_feeds = \"reject\")");
    return Refusal{code::bare_line_end, "bare CR or LF in message data refused (SMTP smuggling protection)"};
  }
  if (decoder.line_too_long()) {
    log::notice(prefix_ + "message with a line over " + std::to_string(kDataLine) + " octets refused");
    return Refusal{code::data_line_too_long, "message has a line longer than " + std::to_string(kDataLine) + " octets"};
  }
  if (decoder.too_big()) {
    log::notice(prefix_ + "message (" + how + ") over the size limit refused (" + std::to_string(decoder.size()) +
                " octets)");
    return Refusal{code::message_too_big, "message exceeds the limit of " + std::to_string(s_.max_message_size) + " octets"};
  }
  std::string repaired;
  if (auto n = decoder.bare_lf(); n > 0)
    repaired = std::to_string(n) + (n == 1 ? " line" : " lines") + " ended by a bare LF, stored with CRLF";
  if (auto n = decoder.bare_cr(); n > 0)
    repaired += (repaired.empty() ? "" : "; ") + std::to_string(n) +
                (n == 1 ? " bare CR inside a line, kept (sent on as a space)" : " bare CRs inside lines, kept (sent on as spaces)");
  if (!repaired.empty()) log::info(prefix_ + "message (" + how + "): " + repaired);
  return std::nullopt;
}

asio::awaitable<void> Session::on_bdat(std::string_view arg) {
  auto b = parse_bdat(arg);
  // Without a readable size the chunk cannot be skipped; what follows is then read as commands,
  // which is no smuggling: only this client's own bytes, answered with errors.
  if (!b) co_return refuse(code::bad_arguments, "syntax: BDAT chunk-size [LAST]");
  // Every well-formed BDAT has its octets read whatever the answer: they are never commands
  // (RFC 3030 2: chunks pipelined after a failed one are read and discarded).
  if (auto r = data_sequence_refusal(true)) {
    co_await receive_chunk(b->size, false);
    co_return answer_sequence(*r);
  }
  if (state_ == State::rcpt) {
    if (!start_message()) {
      co_await receive_chunk(b->size, false);
      reply(code::no_storage, "insufficient system storage, try again later");
      reset_transaction();
      set_state(State::ready);
      co_return;
    }
    // The chunks are decoded like DATA (no dots, no end marker): the sink gets the same CRLF
    // lines, so no header line hides behind a bare CR or LF that the next hop would split at.
    chunks_.emplace(s_.max_message_size, kDataLine, s_.bare_line_ends, Framing::chunks);
    set_state(State::bdat);
  }
  co_await receive_chunk(b->size, true);
  if (b->last) {
    chunk_.clear();
    chunks_->finish(chunk_);
    write_to_sink(chunk_);
  }
  message_size_ = chunks_->size();
  // RFC 3030 2: a refused chunk ends the transaction; later chunks get 503 and are skipped.
  bool refused = chunks_->refused();
  if (!refused && !sink_failed_ && !b->last) {
    reply(code::ok, std::to_string(b->size) + " octets received");
    co_return;
  }
  co_await finish_message(decoded_refusal(*chunks_, "BDAT"), "BDAT");
}

// Reads exactly `size` octets (RFC 3030 2: no dot processing, no line structure) through the
// transaction's decoder into the sink, or only past them when !keep.
asio::awaitable<void> Session::receive_chunk(std::uint64_t size, bool keep) {
  set_wait(s_.data_timeout, "BDAT data");
  while (size > 0) {
    if (in_.size() == 0) co_await fill();
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(size, in_.size()));
    if (keep) {
      chunk_.clear();
      chunks_->feed(in_.view().substr(0, take), chunk_);
      write_to_sink(chunk_);
    }
    in_.consume(take);
    size -= take;
  }
  set_wait(s_.command_timeout, "command");
}

// After the end of DATA or BDAT LAST (or a chunk that failed): refuse, or commit and answer what
// commit() says. 250 is never sent before commit() returns: that is the durability promise.
asio::awaitable<void> Session::finish_message(std::optional<Refusal> refused, const char* how) {
  if (!refused && sink_failed_) refused = Refusal{code::no_storage, "insufficient system storage, try again later"};
  std::string summary = "<" + text::printable(tx_.sender) + "> -> " + std::to_string(tx_.recipients.size()) +
                        " recipient(s), " + std::to_string(message_size_) + " octets (" + how + "): ";
  if (refused) {
    abandon_message();
    reply(refused->code, refused->enhanced, refused->text);
    log::info(prefix_ + summary + "refused " + std::to_string(refused->code));
  } else {
    HookReply r;
    try {
      r = co_await hooks_.commit(std::move(sink_), tx_);
    } catch (const std::exception& e) {
      log::error(prefix_ + "storing the message failed: " + e.what());
      r = HookReply{code::local_error, "temporary failure storing the message, try again later"};
    }
    sink_.reset();
    reply_hook(r);
    log::info(prefix_ + summary + std::to_string(r.code) + " " + r.enhanced + " " + one_line(r.text));
  }
  reset_transaction();
  set_state(State::ready);
}

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

}  // namespace

asio::awaitable<void> serve(net::Transport& transport, const ServerSettings& settings, Hooks& hooks) {
  Session session(transport, settings, hooks);
  co_await session.run();
}

}  // namespace pb::smtp
