// Scripted net::Transport (see script_transport.hpp for the transcript format): parsing, strict
// step ordering, byte-exact comparison of client writes and diffs that point at the transcript line.
#include "script_transport.hpp"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/text.hpp"

namespace pb::test {

namespace asio = boost::asio;

namespace {

std::string unescape(std::string_view s, int line) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) throw std::invalid_argument("transcript line " + std::to_string(line) + ": dangling '\\'");
    switch (s[i]) {
      case 'r':
        out += '\r';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case '\\':
        out += '\\';
        break;
      case 'x': {
        std::string hex(s.substr(i + 1, 2));
        if (hex.size() != 2 || !std::isxdigit(static_cast<unsigned char>(hex[0])) ||
            !std::isxdigit(static_cast<unsigned char>(hex[1])))
          throw std::invalid_argument("transcript line " + std::to_string(line) + ": \\x needs two hex digits");
        out += static_cast<char>(std::stoi(hex, nullptr, 16));
        i += 2;
        break;
      }
      default:
        throw std::invalid_argument("transcript line " + std::to_string(line) + ": unknown escape \\" + s[i]);
    }
  }
  return out;
}

// "<NAME>" with NAME of A-Z, 0-9, _: a block reference rather than literal text.
bool is_block_ref(std::string_view text) {
  if (text.size() < 3 || text.front() != '<' || text.back() != '>') return false;
  return std::all_of(text.begin() + 1, text.end() - 1,
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

// The line of `s` that contains offset `at` (without its LF), for diffs.
std::string_view line_around(std::string_view s, std::size_t at) {
  std::size_t begin = 0;
  if (at > 0) {
    std::size_t lf = s.rfind('\n', at - 1);
    if (lf != std::string_view::npos) begin = lf + 1;
  }
  std::size_t end = s.find('\n', at);
  return s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin + 1);
}

}  // namespace

std::string read_transcript(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read transcript " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

ScriptTransport::ScriptTransport(std::string_view transcript, std::string peer) : peer_(std::move(peer)) {
  int number = 0;
  while (!transcript.empty()) {
    std::size_t nl = transcript.find('\n');
    std::string_view line = transcript.substr(0, nl);
    transcript.remove_prefix(nl == std::string_view::npos ? transcript.size() : nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    Step step{Kind::server, "", "", number, std::string(line)};
    std::string_view word = text::trim(line);
    if (word == "TLS")
      step.kind = Kind::tls;
    else if (word == "TLS-FAIL")
      step.kind = Kind::tls_fail;
    else if (word == "TIMEOUT")
      step.kind = Kind::timeout;
    else if (word == "CLOSE")
      step.kind = Kind::close;
    else if (word == "WAIT")
      step.kind = Kind::wait;
    else if (line.size() >= 2 && (line[0] == 'S' || line[0] == 'C') && (line[1] == ':' || line[1] == '~')) {
      step.kind = line[0] == 'S' ? Kind::server : Kind::client;
      std::string_view text = line.substr(2);
      if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      if (line[1] == '~')
        step.bytes = unescape(text, number);
      else if (is_block_ref(text))
        step.block = std::string(text.substr(1, text.size() - 2));
      else
        step.bytes = std::string(text) + "\r\n";
    } else {
      throw std::invalid_argument("transcript line " + std::to_string(number) + ": cannot parse \"" +
                                  std::string(line) + "\" (expected S:, C:, S~, C~, TLS, TLS-FAIL, TIMEOUT, WAIT or CLOSE)");
    }
    steps_.push_back(std::move(step));
  }
}

// ---- bookkeeping ----------------------------------------------------------------------------------

const std::string& ScriptTransport::bytes_of(const Step& s) {
  if (s.block.empty()) return s.bytes;
  auto it = blocks_.find(s.block);
  if (it == blocks_.end()) fail(describe(s) + " uses block <" + s.block + ">, which the test did not define");
  return it->second;
}

std::string ScriptTransport::describe(const Step& s) const {
  return "transcript line " + std::to_string(s.line) + " \"" + s.source + "\"";
}

std::string ScriptTransport::describe_next() const {
  return next_ < steps_.size() ? describe(steps_[next_]) : std::string("the end of the transcript");
}

void ScriptTransport::fail(const std::string& what) {
  if (failure_.empty()) failure_ = what;
  throw ScriptFailure(what);
}

std::string ScriptTransport::problems() const {
  if (!failure_.empty()) return failure_;
  bool only_close_left = std::all_of(steps_.begin() + static_cast<std::ptrdiff_t>(std::min(next_, steps_.size())),
                                     steps_.end(), [](const Step& s) { return s.kind == Kind::close; });
  if (offset_ == 0 && only_close_left) return "";
  return "transcript not played to its end: the session stopped at " + describe_next();
}

void ScriptTransport::check_no_partial_write(const char* doing) {
  if (offset_ == 0 || next_ >= steps_.size() || steps_[next_].kind != Kind::client) return;
  fail(std::string("client ") + doing + " after sending only part of " + describe(steps_[next_]) + ": \"" +
       text::printable(step_sent_) + "\"");
}

void ScriptTransport::match_written(std::string_view data) {
  std::size_t i = 0;
  while (i < data.size()) {
    if (next_ >= steps_.size() || steps_[next_].kind != Kind::client)
      fail("client sent \"" + text::printable(line_around(data, i)) + "\" but the script expects " + describe_next());
    const Step& step = steps_[next_];
    const std::string& expected = bytes_of(step);
    std::size_t n = std::min(data.size() - i, expected.size() - offset_);
    if (std::memcmp(data.data() + i, expected.data() + offset_, n) != 0) {
      std::string actual = step_sent_ + std::string(data.substr(i));
      std::size_t at = 0;
      while (at < actual.size() && at < expected.size() && actual[at] == expected[at]) ++at;
      fail("client sent something else than " + describe(step) + " (at byte " + std::to_string(at) +
           "):\n  expected: \"" + text::printable(line_around(expected, at)) + "\"\n  actual:   \"" +
           text::printable(line_around(actual, at)) + "\"");
    }
    step_sent_.append(data.substr(i, n));
    offset_ += n;
    i += n;
    if (offset_ == expected.size()) {
      ++next_;
      offset_ = 0;
      step_sent_.clear();
    }
  }
}

// ---- net::Transport -------------------------------------------------------------------------------

asio::awaitable<std::size_t> ScriptTransport::read_some(asio::mutable_buffer buf) {
  if (closed_by_client_) fail("client reads after close()");
  check_no_partial_write("waits for a reply");
  while (next_ < steps_.size() && steps_[next_].kind == Kind::wait) {
    // Suspended until write_all() moves past the WAIT step and cancels the timer.
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours(1));
    wait_timer_ = &timer;
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    wait_timer_ = nullptr;
    if (!ec) fail("client waited an hour at " + describe_next());
  }
  std::size_t room = std::min(buf.size(), max_read_), n = 0;
  auto* out = static_cast<char*>(buf.data());
  while (n < room && next_ < steps_.size() && steps_[next_].kind == Kind::server) {
    const std::string& bytes = bytes_of(steps_[next_]);
    std::size_t k = std::min(room - n, bytes.size() - offset_);
    std::memcpy(out + n, bytes.data() + offset_, k);
    n += k;
    offset_ += k;
    if (offset_ == bytes.size()) {
      ++next_;
      offset_ = 0;
    }
  }
  if (n > 0 || room == 0) co_return n;
  if (next_ >= steps_.size()) fail("client waits for data after the end of the transcript");
  switch (steps_[next_].kind) {
    case Kind::timeout:
      ++next_;
      throw net::NetFailure(net::NetError::timeout,
                            "timeout after " + std::to_string(timeout_.count()) + "ms waiting for " + peer_);
    case Kind::close:  // stays the current step: every later read sees the closed connection too
      server_closed_ = true;
      throw boost::system::system_error(asio::error::eof);
    case Kind::client:
      fail("client waits for a reply, but the script expects it to send: " + describe_next());
    default:
      fail("client waits for a reply, but the script expects start_tls(): " + describe_next());
  }
}

asio::awaitable<void> ScriptTransport::write_all(asio::const_buffer buf) {
  if (closed_by_client_) fail("client writes after close()");
  std::string_view data(static_cast<const char*>(buf.data()), buf.size());
  if (server_closed_)
    fail("client sent \"" + text::printable(line_around(data, 0)) + "\" after the server closed the connection");
  writes_.push_back({std::string(data), timeout_});
  if (next_ < steps_.size() && steps_[next_].kind == Kind::wait) {
    ++next_;
    if (wait_timer_) wait_timer_->cancel();
  }
  match_written(data);
  co_return;
}

asio::awaitable<void> ScriptTransport::start_tls() {
  if (closed_by_client_) fail("client starts TLS after close()");
  check_no_partial_write("starts TLS");
  if (next_ < steps_.size() && steps_[next_].kind == Kind::server)
    fail("client starts TLS while server bytes of " + describe_next() + " were not read yet");
  if (next_ < steps_.size() && steps_[next_].kind == Kind::tls) {
    ++next_;
    tls_ = true;
    co_return;
  }
  if (next_ < steps_.size() && steps_[next_].kind == Kind::tls_fail) {
    ++next_;
    throw net::NetFailure(net::NetError::tls_failed,
                          "TLS handshake with " + peer_ + " failed: certificate verify failed (scripted)");
  }
  fail("client starts TLS, but the script expects " + describe_next());
}

}  // namespace pb::test
