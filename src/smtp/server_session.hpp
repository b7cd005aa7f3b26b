// The SMTP server session's parts (see server.hpp), shared by the files that implement it:
// server.cpp (the state machine, I/O, command dispatch), server_data.cpp (DATA and BDAT) and
// server_auth.cpp (STARTTLS and AUTH). Not for use outside src/smtp/.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/transport.hpp"
#include "smtp/codes.hpp"
#include "smtp/command.hpp"
#include "smtp/server.hpp"

namespace pb::smtp::session {

namespace asio = boost::asio;

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

// Reply text from hooks goes on one line: a CR or LF in it would forge further replies.
std::string one_line(std::string_view s);

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

}  // namespace pb::smtp::session
