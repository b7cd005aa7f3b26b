// Scripted net::Transport for protocol session tests (SMTP, LMTP, POP3 clients): plays the server
// side of a transcript and checks every byte the client writes, failing with a readable diff, never a hang.
//
// Transcript format, one step per line; blank lines and lines starting with '#' are ignored:
//   S: text      the server sends "text\r\n"            ("S:" alone sends an empty line)
//   C: text      the client must send exactly "text\r\n"
//   S~ text      the server sends text with C escapes (\r \n \t \\ \xNN) and nothing appended
//   C~ text      the client must send text with C escapes, nothing appended
//   S: <NAME>    the server sends block NAME, as-is (NAME: A-Z 0-9 _; see define_block)
//   C: <NAME>    the client must send block NAME, as-is (e.g. a whole dot-stuffed message body)
//   TLS          the client must call start_tls() here; is_tls() is true afterwards
//   TLS-FAIL     start_tls() throws NetFailure(tls_failed), as a failed verification would
//   TIMEOUT      the server stays silent: the next read throws NetFailure(timeout)
//   CLOSE        the server closes: reads throw eof (asio::error::eof), and a client write after
//                it is a script failure (a client should not talk to a closed connection)
//   WAIT         the server stays silent until the client writes: a read waits (really suspends)
//                and the client's next write goes on with the script (IMAP IDLE's DONE on a timer)
//
// Semantics: a read returns all consecutive server bytes up to the next non-S step (bounded by the
// buffer and set_max_read()). The order is strict: a client that writes while server bytes are
// still unread, reads while the script expects it to write, starts TLS at another point, or sends
// different bytes gets a ScriptFailure (std::logic_error, not a network error, so the session under
// test does not treat it as one). The first failure is also kept: problems() reports it even if
// the session swallowed the exception, or that the transcript was not played to its end. A CLOSE
// at the end of the script need not be reached.
//
// Typical use:
//   pb::test::ScriptTransport t(pb::test::read_transcript(PB_TEST_DATA "/transcripts/smtp/x.txt"));
//   ... run the session on t ...
//   REQUIRE(t.problems() == "");
#pragma once
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "net/transport.hpp"

namespace pb::test {

class ScriptFailure : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Reads a transcript file; throws std::runtime_error naming the file if it cannot be read.
std::string read_transcript(const std::string& path);

class ScriptTransport : public net::Transport {
 public:
  struct Write {
    std::string bytes;                  // exactly what one write_all() call carried
    std::chrono::milliseconds timeout;  // the timeout in effect for it
  };

  // Parses the transcript; throws std::invalid_argument with the line number on a bad line.
  explicit ScriptTransport(std::string_view transcript, std::string peer = "mx.test:25");

  void define_block(const std::string& name, std::string bytes) { blocks_[name] = std::move(bytes); }
  void set_initial_tls(bool tls) { tls_ = tls; }       // for implicit TLS (port 465/995) sessions
  void set_max_read(std::size_t n) { max_read_ = n; }  // split server bytes into small reads

  // "" when the script was played completely and nothing went wrong; else what happened.
  std::string problems() const;
  const std::vector<Write>& writes() const { return writes_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  bool closed_by_client() const { return closed_by_client_; }

  boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buf) override;
  boost::asio::awaitable<void> write_all(boost::asio::const_buffer buf) override;
  boost::asio::awaitable<void> start_tls() override;
  bool is_tls() const override { return tls_; }
  std::string tls_description() const override { return tls_ ? "TLSv1.3 (scripted)" : ""; }
  void set_timeout(std::chrono::milliseconds t) override { timeout_ = t; }
  void close() override { closed_by_client_ = true; }
  std::string peer() const override { return peer_; }

 private:
  enum class Kind { server, client, tls, tls_fail, timeout, close, wait };
  struct Step {
    Kind kind;
    std::string bytes;   // literal bytes (server/client), unless block is set
    std::string block;   // name of a define_block() block
    int line;            // in the transcript, for messages
    std::string source;  // the transcript line, for messages
  };

  const std::string& bytes_of(const Step& s);
  std::string describe(const Step& s) const;
  std::string describe_next() const;
  [[noreturn]] void fail(const std::string& what);
  void match_written(std::string_view data);
  void check_no_partial_write(const char* doing);

  std::vector<Step> steps_;
  std::size_t next_ = 0;    // index of the current step
  std::size_t offset_ = 0;  // bytes of the current S/C step already sent/matched
  std::string step_sent_;   // what the client sent for the current C step so far (for diffs)
  std::map<std::string, std::string> blocks_;
  std::vector<Write> writes_;
  std::string peer_;
  std::string failure_;
  std::size_t max_read_ = static_cast<std::size_t>(-1);
  std::chrono::milliseconds timeout_{0};
  // The timer of a read suspended at WAIT, while it waits (it lives in that read's frame: the
  // transport may outlive the io_context of one run).
  boost::asio::steady_timer* wait_timer_ = nullptr;
  bool tls_ = false;
  bool server_closed_ = false;
  bool closed_by_client_ = false;
};

}  // namespace pb::test
