// IMAP client session: explicit states (RFC 9051 3), one tagged command at a time except the
// pipelined UID FETCH batches; responses parsed once by imap::Parser; secrets never reach logs.
#include "imap/client.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <set>

#include "oauth/sasl.hpp"
#include "util/base64.hpp"
#include "util/display.hpp"
#include "util/log.hpp"

namespace pb::imap {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t kReadBuffer = 64 * 1024;
// RFC 9051 4: a client should keep command lines below about 8000 octets; UID sets are split.
constexpr std::size_t kMaxSetLength = 1000;

// The server's words go into errors, logs and the status page: escaped where they enter.
std::string describe(const Response& r) {
  std::string out = r.kind == Kind::tagged ? "" : "* ";
  switch (r.status) {
    case Status::ok: out += "OK"; break;
    case Status::no: out += "NO"; break;
    case Status::bad: out += "BAD"; break;
    case Status::preauth: out += "PREAUTH"; break;
    case Status::bye: out += "BYE"; break;
    case Status::none: out += display::safe(r.name, 40); break;
  }
  if (r.code.kind != CodeKind::none) {
    std::string code = r.code.name + (r.code.args.empty() ? "" : " " + r.code.args);
    out += " [" + display::safe(code, 80) + "]";
  }
  if (!r.text.empty()) out += " " + display::safe(r.text);
  return out;
}

// Sorted UID sets, each short enough for one command line.
std::vector<std::string> uid_sets(const std::vector<std::uint32_t>& uids) {
  std::vector<std::string> out;
  std::string all = sequence_set(uids), current;
  std::size_t pos = 0;
  while (pos < all.size()) {
    std::size_t comma = all.find(',', pos);
    if (comma == std::string::npos) comma = all.size();
    std::string_view part(all.data() + pos, comma - pos);
    if (!current.empty() && current.size() + 1 + part.size() > kMaxSetLength) {
      out.push_back(current);
      current.clear();
    }
    if (!current.empty()) current += ',';
    current += part;
    pos = comma + 1;
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

// RFC 9051 4.3: a quoted string holds 7-bit text without CR, LF or NUL; anything else goes as a literal.
bool quotable(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u == 0 || u == '\r' || u == '\n' || u >= 0x80;
  });
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool is_temporary(const RespCode& c) {
  return c.kind == CodeKind::unavailable || c.kind == CodeKind::inuse || c.kind == CodeKind::limit ||
         c.kind == CodeKind::serverbug;
}

}  // namespace

const char* state_name(State s) {
  switch (s) {
    case State::not_authenticated: return "not-authenticated";
    case State::authenticated: return "authenticated";
    case State::selected: return "selected";
    case State::logout: return "logout";
  }
  return "?";
}

// Hands FETCH bodies to the caller's sink: streamed literals as they arrive, end() once the FETCH
// response is complete; a UID is delivered at most once, and only when it was asked for.
class Client::BodySink final : public LiteralSink {
 public:
  BodySink(FetchSink& sink, std::string peer) : sink_(sink), peer_(std::move(peer)) {}
  std::set<std::uint32_t> wanted;

  bool begin(std::uint32_t, std::optional<std::uint32_t> uid, std::string_view, std::uint64_t size) override {
    if (!uid)
      throw ImapError(FailureKind::protocol, peer_ + " sent a message body before naming its UID");
    // One body per FETCH response: a second literal (the same UID again, or another UID) would
    // reach the sink as more of the first message, past the size it announced.
    if (streaming_)
      throw ImapError(FailureKind::protocol, peer_ + " sent a second message body in one FETCH response");
    if (!wanted.count(*uid)) return false;  // not ours, or already delivered: skipped
    wanted.erase(*uid);
    sink_.begin(*uid, size);
    streaming_ = *uid;
    return true;
  }
  void data(std::string_view bytes) override { sink_.data(bytes); }
  void end() override {}

  void response(const Response& r) {
    auto f = parse_fetch(r);
    if (!f) throw ImapError(FailureKind::protocol, peer_ + " sent a malformed FETCH response");
    if (streaming_) {
      if (f->uid != streaming_ || !f->body_size)
        throw ImapError(FailureKind::protocol, peer_ + " sent a message body under another UID than its FETCH response's");
      std::uint32_t uid = *streaming_;
      streaming_.reset();
      sink_.end(uid);
    } else if (f->uid && f->body && wanted.count(*f->uid)) {  // a small body sent as a quoted string
      wanted.erase(*f->uid);
      sink_.begin(*f->uid, f->body->size());
      sink_.data(*f->body);
      sink_.end(*f->uid);
    }
  }

 private:
  FetchSink& sink_;
  std::string peer_;
  std::optional<std::uint32_t> streaming_;
};

struct IdleWait {
  asio::steady_timer timer;
  std::string tag;
  bool done_sent = false;
  bool finished = false;
  bool new_mail = false;
};

Client::Client(net::Transport& transport, ClientOptions options)
    : t_(transport), opt_(std::move(options)), buf_(kReadBuffer, '\0') {}

std::string Client::next_tag() {
  char tag[16];
  std::snprintf(tag, sizeof tag, "A%04u", ++tag_counter_);
  return tag;
}

void Client::set_state(State s) {
  if (s == state_) return;
  log::debug(std::string("imap ") + t_.peer() + ": " + state_name(state_) + " -> " + state_name(s));
  state_ = s;
}

void Client::require(State s, const char* what) const {
  bool ok = s == State::authenticated ? (state_ == State::authenticated || state_ == State::selected) : state_ == s;
  if (!ok)
    throw std::logic_error(std::string("imap::Client::") + what + " in state " + state_name(state_) +
                           " (needs " + state_name(s) + ")");
}

namespace {
// Turns a transport failure into ImapError with plain words; other exceptions pass unchanged.
[[noreturn]] void io_failed(const std::string& peer, const std::string& bye) {
  try {
    throw;
  } catch (const net::NetFailure& e) {
    throw ImapError(e.kind() == net::NetError::tls_failed ? FailureKind::tls : FailureKind::connection, e.what());
  } catch (const boost::system::system_error& e) {
    // RFC 9051 7.1.5: BYE says why the server is about to close; that is the reason to show.
    if (!bye.empty()) throw ImapError(FailureKind::connection, peer + " closed the connection: " + bye);
    throw ImapError(FailureKind::connection, "connection to " + peer + " lost: " + e.code().message());
  }
}
}  // namespace

asio::awaitable<Response> Client::read_response() {
  for (;;) {
    if (buf_begin_ < buf_end_) {
      std::size_t n = 0;
      try {
        n = parser_.feed(std::string_view(buf_.data() + buf_begin_, buf_end_ - buf_begin_));
      } catch (const ParseError& e) {
        throw ImapError(FailureKind::protocol, t_.peer() + " sent a malformed response: " + e.what());
      }
      buf_begin_ += n;
      if (parser_.ready()) co_return parser_.take();
      continue;
    }
    buf_begin_ = buf_end_ = 0;
    try {
      buf_end_ = co_await t_.read_some(asio::buffer(buf_.data(), buf_.size()));
    } catch (...) {
      io_failed(t_.peer(), bye_);
    }
  }
}

asio::awaitable<void> Client::send(const std::string& wire, const std::string& shown) {
  log::debug("imap " + t_.peer() + " C: " + shown);
  try {
    co_await t_.write_all(asio::buffer(wire));
  } catch (...) {
    io_failed(t_.peer(), bye_);
  }
}

void Client::untagged(const Response& r) {
  if (r.status == Status::bye) bye_ = describe(r);
  if (r.code.kind == CodeKind::capability) {
    caps_ = parse_capabilities(r.code.words);
    caps_known_ = true;
  }
  if (r.code.kind == CodeKind::uidvalidity) uidvalidity_ = r.code.number;
  if (r.code.kind == CodeKind::uidnext) uidnext_ = r.code.number;
  if (r.code.kind == CodeKind::alert)  // RFC 9051 7.1: the text must be shown to the user
    log::warn("imap " + t_.peer() + " alert: " + display::safe(r.text));
  if (r.name == "CAPABILITY") {
    caps_ = parse_capabilities(r.data);
    caps_known_ = true;
  } else if (r.name == "EXISTS" && r.number) {
    exists_ = *r.number;
  } else if (r.name == "EXPUNGE" && exists_ > 0) {
    --exists_;
  } else if (r.name == "FETCH" && body_) {
    body_->response(r);
  }
}

asio::awaitable<Response> Client::wait_tagged(const std::string& tag, const std::string& shown) {
  for (;;) {
    Response r = co_await read_response();
    if (r.kind == Kind::untagged) {
      untagged(r);
      continue;
    }
    if (r.kind == Kind::continuation)
      throw ImapError(FailureKind::protocol, t_.peer() + " asked for more data after " + shown);
    if (r.tag != tag)
      throw ImapError(FailureKind::protocol, t_.peer() + " answered a command never sent (tag " +
                                                 display::safe(r.tag, 20) + ") after " + shown);
    co_return r;
  }
}

asio::awaitable<Response> Client::command(const std::string& line, const std::string& shown) {
  std::string tag = next_tag();
  std::string what = shown.empty() ? line : shown;
  co_await send(tag + " " + line + "\r\n", tag + " " + what);
  co_return co_await wait_tagged(tag, what);
}

void Client::fail_login(const Response& r, const std::string& step) {
  std::string words = t_.peer() + " rejected the " + step + ": " + describe(r);
  if (r.status == Status::bad) throw ImapError(FailureKind::protocol, words);
  if (is_temporary(r.code)) throw ImapError(FailureKind::temporary, words);
  if (r.code.kind == CodeKind::privacyrequired)  // RFC 5530 3: only over an encrypted connection
    throw ImapError(FailureKind::tls, words);
  throw ImapError(FailureKind::auth, words);
}

void Client::refused(const Response& r, const std::string& what) {
  throw ImapError(is_temporary(r.code) ? FailureKind::temporary : FailureKind::protocol,
                  t_.peer() + " refused " + what + ": " + describe(r));
}

asio::awaitable<void> Client::ask_capabilities() {
  caps_ = Capabilities{};
  Response r = co_await command("CAPABILITY");
  if (r.status != Status::ok) refused(r, "CAPABILITY");
  caps_known_ = true;
}

asio::awaitable<void> Client::open() {
  t_.set_timeout(opt_.timeout);
  Response greet = co_await read_response();
  // RFC 9051 7.1: greeting = "*" SP (resp-cond-auth / resp-cond-bye)
  if (greet.kind != Kind::untagged ||
      (greet.status != Status::ok && greet.status != Status::preauth && greet.status != Status::bye))
    throw ImapError(FailureKind::protocol, t_.peer() + " sent no IMAP greeting: " + describe(greet));
  if (greet.status == Status::bye)
    throw ImapError(FailureKind::temporary, t_.peer() + " refused the connection: " + describe(greet));
  greeting_ = greet.text;
  untagged(greet);
  if (greet.status == Status::preauth) {
    // RFC 9051 6.2.1: STARTTLS only before authentication. A PREAUTH greeting on a connection that
    // should be upgraded is the known STARTTLS-stripping attack: stop, never go on in clear text.
    if (!t_.is_tls() && (opt_.security == Security::starttls || !opt_.allow_plaintext))
      throw ImapError(FailureKind::tls, t_.peer() + " greeted with PREAUTH before TLS; refusing a session without encryption");
    set_state(State::authenticated);
    login_method_ = "PREAUTH";
  }
  if (!caps_known_) co_await ask_capabilities();
  if (opt_.security == Security::starttls && !t_.is_tls()) co_await starttls();
  if (!opt_.login || state_ == State::authenticated) co_return;
  if (!t_.is_tls() && !opt_.allow_plaintext)
    throw ImapError(FailureKind::tls, "refusing to send the password to " + t_.peer() + " without TLS");
  co_await login();
}

asio::awaitable<void> Client::starttls() {
  // RFC 9051 6.2.1 / RFC 2595 3.1: only when advertised; without it we stop rather than go on in clear.
  if (!caps_.has("STARTTLS"))
    throw ImapError(FailureKind::tls, t_.peer() + " does not offer STARTTLS; refusing to log in without encryption. "
                                                  "Use tls = \"implicit\" (port 993) if the provider offers it");
  Response r = co_await command("STARTTLS");
  if (r.status != Status::ok) throw ImapError(FailureKind::tls, t_.peer() + " refused STARTTLS: " + describe(r));
  try {
    co_await t_.start_tls();
  } catch (...) {
    io_failed(t_.peer(), bye_);
  }
  // CVE-2011-0411: bytes that came in clear text before the handshake never count as TLS data,
  // and RFC 9051 6.2.1: capabilities learnt before TLS are discarded and asked again.
  buf_begin_ = buf_end_ = 0;
  parser_.reset();
  caps_known_ = false;
  co_await ask_capabilities();
}

asio::awaitable<void> Client::login() {
  login_caps_ = caps_;
  caps_known_ = false;  // RFC 9051 6.2.3: learnt again from the login's OK or asked afterwards
  if (!opt_.oauth_mechanism.empty()) {
    auto mech = oauth::parse_mechanism(opt_.oauth_mechanism);
    if (!mech)
      throw ImapError(FailureKind::auth, "unknown OAuth mechanism \"" + display::safe(opt_.oauth_mechanism, 40) +
                                             "\" (XOAUTH2 or OAUTHBEARER); nothing was sent to " + t_.peer());
    std::string name = oauth::mechanism_name(*mech);
    if (!caps_.has_auth(name))
      throw ImapError(FailureKind::unsupported,
                      t_.peer() + " does not offer AUTH=" + name + "; the OAuth token was not sent");
    if (opt_.bearer_token.empty())
      throw ImapError(FailureKind::auth, "no OAuth access token to log in to " + t_.peer() + " with " + name);
    std::string peer = t_.peer();
    std::string host = peer.substr(0, peer.rfind(':'));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned long port = std::strtoul(peer.c_str() + peer.rfind(':') + 1, nullptr, 10);
    std::string ir = oauth::initial_response(*mech, opt_.username, host,
                                             static_cast<std::uint16_t>(port <= 65535 ? port : 0), opt_.bearer_token);
    co_await authenticate(name, ir, true);
  } else {
    co_await login_password();
  }
  set_state(State::authenticated);
  // RFC 9051 6.2.3: capabilities may change with the login; ask unless the OK listed them.
  if (!caps_known_) co_await ask_capabilities();
}

asio::awaitable<void> Client::login_password() {
  AuthMethod m = opt_.auth;
  if (m == AuthMethod::automatic) m = caps_.has_auth("PLAIN") ? AuthMethod::sasl_plain : AuthMethod::login;
  if (m == AuthMethod::sasl_plain) {
    if (!caps_.has_auth("PLAIN"))
      throw ImapError(FailureKind::unsupported, t_.peer() + " does not offer AUTHENTICATE PLAIN; the password was not sent");
    // RFC 4616 2: authzid NUL authcid NUL passwd
    std::string creds = base64::encode(std::string(1, '\0') + opt_.username + '\0' + opt_.password);
    co_await authenticate("PLAIN", creds, false);
    co_return;
  }
  // RFC 9051 6.2.3 / 7.2.2: LOGINDISABLED forbids LOGIN (typically until STARTTLS).
  if (caps_.has("LOGINDISABLED"))
    throw ImapError(t_.is_tls() ? FailureKind::unsupported : FailureKind::tls,
                    t_.peer() + " announces LOGINDISABLED: it takes no LOGIN " +
                        (t_.is_tls() ? "command; the password was not sent" : "before TLS; the password was not sent"));
  login_method_ = "LOGIN";
  std::string tag = next_tag();
  std::string shown = tag + " LOGIN " + display::safe(opt_.username, 60) + " ****";
  // Quoted strings where possible; otherwise literals (RFC 9051 4.3), non-synchronizing only
  // with LITERAL+ (RFC 7888), else each one waits for the server's "+".
  std::vector<std::string> args{opt_.username, opt_.password};
  std::string line = tag + " LOGIN";
  for (const auto& a : args) {
    if (quotable(a)) {
      line += " " + quote(a);
      continue;
    }
    bool plus = caps_.has("LITERAL+") || (caps_.has("LITERAL-") && a.size() <= 4096);
    line += " {" + std::to_string(a.size()) + (plus ? "+}" : "}") + "\r\n";
    if (!plus) {
      co_await send(line, shown);
      line.clear();
      Response r = co_await read_response();
      while (r.kind == Kind::untagged) {
        untagged(r);
        r = co_await read_response();
      }
      if (r.kind == Kind::tagged) fail_login(r, "login (LOGIN)");
    }
    line += a;
  }
  co_await send(line + "\r\n", shown);
  Response r = co_await wait_tagged(tag, shown);
  if (r.status != Status::ok) fail_login(r, "login (LOGIN)");
  untagged(r);  // RFC 9051 6.2.3: the OK may carry [CAPABILITY ...]
}

asio::awaitable<void> Client::authenticate(const std::string& mech, const std::string& ir, bool oauth) {
  login_method_ = "AUTHENTICATE " + mech;
  std::string tag = next_tag();
  // RFC 4959 3: with SASL-IR the initial response goes on the command line ("=" when empty).
  bool ir_sent = caps_.has("SASL-IR");
  // Built before co_await: g++ 12 destroys temporaries of a ?: inside a co_await twice.
  std::string shown = tag + " AUTHENTICATE " + mech;
  std::string wire = shown;
  if (ir_sent) {
    shown += " ****";
    wire += " " + (ir.empty() ? std::string("=") : ir);
  }
  wire += "\r\n";
  co_await send(wire, shown);
  std::optional<oauth::ErrorChallenge> challenge;
  bool error_answered = false, cancelled = false;
  Response r;
  for (;;) {
    r = co_await read_response();
    if (r.kind == Kind::untagged) {
      untagged(r);
      continue;
    }
    if (r.kind == Kind::tagged) break;
    if (!ir_sent) {
      co_await send(ir + "\r\n", "****");
      ir_sent = true;
    } else if (oauth && !error_answered) {
      // RFC 7628 3.2.2: a challenge after the token is an error report. OAUTHBEARER answers it
      // with %x01 (RFC 7628 3.2.3); Google's and Microsoft's XOAUTH2 with an empty line.
      challenge = oauth::parse_error_challenge(r.text);
      error_answered = true;
      bool bearer = mech == "OAUTHBEARER";
      std::string answer = bearer ? std::string(oauth::kDummyResponse) + "\r\n" : std::string("\r\n");
      std::string answer_shown = bearer ? "AQ== (after the error challenge)" : "(empty line after the error challenge)";
      co_await send(answer, answer_shown);
    } else {
      co_await send("*\r\n", "* (cancel)");  // RFC 9051 6.2.2: "*" cancels the exchange
      cancelled = true;
    }
  }
  if (r.tag != tag)
    throw ImapError(FailureKind::protocol, t_.peer() + " answered a command never sent (tag " + display::safe(r.tag, 20) +
                                               ") after " + shown);
  if (cancelled) throw ImapError(FailureKind::protocol, t_.peer() + " asked for more than one response to " + shown);
  if (r.status == Status::ok) {
    untagged(r);
    co_return;
  }
  if (error_answered && !is_temporary(r.code) && r.status == Status::no) {
    std::string why = challenge ? challenge->describe() : std::string("no reason given");
    throw ImapError(FailureKind::auth, t_.peer() + " rejected the OAuth access token (" + why + "): " + describe(r))
        .set_token_rejected(challenge && challenge->token_rejected());
  }
  fail_login(r, "login (AUTHENTICATE " + mech + ")");
}

asio::awaitable<MailboxInfo> Client::select(const std::string& mailbox, bool read_only) {
  require(State::authenticated, "select()");
  // RFC 9051 5.1 / RFC 3501 5.1.3: names outside ASCII need modified UTF-7 or UTF8=ACCEPT.
  if (!quotable(mailbox) || mailbox.empty())
    throw ImapError(FailureKind::unsupported, "the folder name \"" + display::safe(mailbox, 60) +
                                                  "\" is empty or not plain ASCII, which postbridge cannot name in IMAP");
  uidvalidity_.reset();
  uidnext_.reset();
  exists_ = 0;
  std::string verb = read_only ? "EXAMINE" : "SELECT";
  Response r = co_await command(verb + " " + quote(mailbox));
  if (r.status != Status::ok) {
    set_state(State::authenticated);  // RFC 9051 6.3.2: a failed SELECT leaves none selected
    refused(r, verb + " " + display::safe(mailbox, 60));
  }
  // RFC 9051 2.3.1.1: without UIDVALIDITY a stored UID could name another message later.
  if (!uidvalidity_)
    throw ImapError(FailureKind::protocol, t_.peer() + " selected " + display::safe(mailbox, 60) +
                                               " without saying its UIDVALIDITY; its UIDs cannot be relied on");
  read_only_ = read_only || r.code.kind == CodeKind::read_only;
  set_state(State::selected);
  co_return MailboxInfo{*uidvalidity_, uidnext_, exists_, read_only_};
}

asio::awaitable<std::vector<UidSize>> Client::list_uids() {
  require(State::selected, "list_uids()");
  std::vector<UidSize> out;
  if (exists_ == 0) co_return out;  // "1:*" in an empty mailbox is an error at some servers
  std::string tag = next_tag();
  std::string line = "UID FETCH 1:* (UID RFC822.SIZE)";
  std::uint32_t most = exists_;
  co_await send(tag + " " + line + "\r\n", tag + " " + line);
  for (;;) {
    Response r = co_await read_response();
    if (r.kind == Kind::untagged && r.name == "FETCH") {
      auto f = parse_fetch(r);
      if (!f) throw ImapError(FailureKind::protocol, t_.peer() + " sent a malformed FETCH response");
      if (f->uid && f->size) out.push_back({*f->uid, *f->size});
      // One answer per message the mailbox held (the most EXISTS said during the command: a UID
      // command may see EXPUNGEs, RFC 3501 7.4.1): a server that streams more would grow this
      // list without end.
      if (out.size() > most)
        throw ImapError(FailureKind::protocol, t_.peer() + " listed more messages than the " +
                                                   std::to_string(most) + " its mailbox holds");
      continue;  // one without both is an unsolicited flag update
    }
    if (r.kind == Kind::untagged) {
      untagged(r);
      most = std::max(most, exists_);
      continue;
    }
    if (r.kind != Kind::tagged || r.tag != tag)
      throw ImapError(FailureKind::protocol, t_.peer() + " answered " + line + " out of turn");
    if (r.status != Status::ok) refused(r, line);
    break;
  }
  std::sort(out.begin(), out.end(), [](const UidSize& a, const UidSize& b) { return a.uid < b.uid; });
  out.erase(std::unique(out.begin(), out.end(), [](const UidSize& a, const UidSize& b) { return a.uid == b.uid; }),
            out.end());
  co_return out;
}

asio::awaitable<void> Client::fetch(const std::vector<std::uint32_t>& uids, FetchSink& sink) {
  require(State::selected, "fetch()");
  struct Batch {
    std::string tag;
    std::vector<std::uint32_t> uids;
  };
  BodySink body(sink, t_.peer());
  body_ = &body;
  parser_.set_sink(&body);
  struct Unset {
    Client* c;
    ~Unset() {
      c->body_ = nullptr;
      c->parser_.set_sink(nullptr);
    }
  } unset{this};
  std::deque<Batch> inflight;
  std::size_t next = 0, batch = std::max<std::size_t>(1, opt_.fetch_batch);
  std::size_t window = static_cast<std::size_t>(std::max(1, opt_.pipeline_window));
  while (next < uids.size() || !inflight.empty()) {
    // RFC 9051 5.5: commands may be pipelined; a few small ones in flight keep the link busy.
    std::string wire, shown;
    while (next < uids.size() && inflight.size() < window) {
      Batch b{next_tag(), {}};
      while (next < uids.size() && b.uids.size() < batch) b.uids.push_back(uids[next++]);
      std::string line = b.tag + " UID FETCH " + sequence_set(b.uids) + " (UID RFC822.SIZE BODY.PEEK[])";
      wire += line + "\r\n";
      shown += (shown.empty() ? "" : " | ") + line;
      body.wanted.insert(b.uids.begin(), b.uids.end());
      inflight.push_back(std::move(b));
    }
    if (!wire.empty()) co_await send(wire, shown);
    Response r = co_await read_response();
    if (r.kind == Kind::untagged) {
      untagged(r);
      continue;
    }
    auto it = std::find_if(inflight.begin(), inflight.end(), [&](const Batch& b) { return b.tag == r.tag; });
    if (r.kind != Kind::tagged || it == inflight.end())
      throw ImapError(FailureKind::protocol, t_.peer() + " answered UID FETCH out of turn: " + describe(r));
    if (r.status == Status::bad) refused(r, "UID FETCH");
    // RFC 9051 6.4.5 / 7.5.2: a UID gone meanwhile is simply absent; a NO refused the rest.
    std::string why = r.status == Status::ok ? "not in the mailbox any more" : describe(r);
    for (std::uint32_t uid : it->uids)
      if (body.wanted.erase(uid)) sink.missing(uid, why);
    inflight.erase(it);
  }
}

asio::awaitable<void> Client::add_flag(const std::vector<std::uint32_t>& uids, Flag flag) {
  require(State::selected, "add_flag()");
  const char* name = flag == Flag::deleted ? "\\Deleted" : "\\Seen";
  for (const auto& set : uid_sets(uids)) {
    // RFC 9051 6.4.6: .SILENT spares the untagged FETCH per message.
    std::string line = "UID STORE " + set + " +FLAGS.SILENT (" + name + ")";
    Response r = co_await command(line);
    if (r.status != Status::ok) refused(r, line);
  }
}

asio::awaitable<void> Client::expunge(const std::vector<std::uint32_t>& uids) {
  require(State::selected, "expunge()");
  if (!caps_.has("UIDPLUS") && !caps_.has("IMAP4REV2"))
    throw ImapError(FailureKind::unsupported,
                    t_.peer() + " lacks UIDPLUS (RFC 4315): it cannot remove single messages, and a plain EXPUNGE "
                                "would also remove what other mail programs marked deleted");
  for (const auto& set : uid_sets(uids)) {
    std::string line = "UID EXPUNGE " + set;  // RFC 4315 2.1
    Response r = co_await command(line);
    if (r.status != Status::ok) refused(r, line);
  }
}

asio::awaitable<void> Client::move(const std::vector<std::uint32_t>& uids, const std::string& folder) {
  require(State::selected, "move()");
  if (!caps_.has("MOVE") && !caps_.has("IMAP4REV2"))
    throw ImapError(FailureKind::unsupported, t_.peer() + " lacks MOVE (RFC 6851)");
  if (!quotable(folder) || folder.empty())
    throw ImapError(FailureKind::unsupported, "the folder name \"" + display::safe(folder, 60) +
                                                  "\" is empty or not plain ASCII, which postbridge cannot name in IMAP");
  for (const auto& set : uid_sets(uids)) {
    std::string line = "UID MOVE " + set + " " + quote(folder);
    Response r = co_await command(line);
    if (r.status == Status::no && r.code.kind == CodeKind::trycreate)  // RFC 9051 7.1: the folder does not exist
      throw ImapError(FailureKind::protocol, t_.peer() + " has no folder " + display::safe(folder, 60) + ": " + describe(r));
    if (r.status != Status::ok) refused(r, line);
  }
}

asio::awaitable<IdleResult> Client::idle(std::chrono::milliseconds renew_after) {
  require(State::selected, "idle()");
  if (!caps_.has("IDLE") && !caps_.has("IMAP4REV2"))
    throw ImapError(FailureKind::unsupported, t_.peer() + " lacks IDLE (RFC 2177)");
  std::string tag = next_tag();
  co_await send(tag + " IDLE\r\n", tag + " IDLE");
  for (;;) {  // RFC 2177 3: "+ idling", or a tagged refusal
    Response r = co_await read_response();
    if (r.kind == Kind::continuation) break;
    if (r.kind == Kind::untagged) {
      untagged(r);
      continue;
    }
    if (r.tag != tag) throw ImapError(FailureKind::protocol, t_.peer() + " answered IDLE out of turn: " + describe(r));
    refused(r, "IDLE");
  }
  auto executor = co_await asio::this_coro::executor;
  IdleWait w{asio::steady_timer(executor), tag};
  // The read waits longer than the renewal; DONE (sent by the renewer) then brings the tagged OK.
  struct RestoreTimeout {
    net::Transport& t;
    std::chrono::milliseconds normal;
    ~RestoreTimeout() { t.set_timeout(normal); }
  } restore{t_, opt_.timeout};
  t_.set_timeout(renew_after + opt_.timeout);
  co_await (idle_reader(tag, w) && idle_renewer(renew_after, w));
  co_return IdleResult{w.new_mail, exists_};
}

asio::awaitable<void> Client::idle_reader(const std::string& tag, IdleWait& w) {
  for (;;) {
    Response r = co_await read_response();
    if (r.kind == Kind::untagged) {
      bool grew = r.name == "EXISTS" && r.number && *r.number > exists_;
      untagged(r);
      if (grew && !w.new_mail) {  // RFC 2177 3: new mail; end IDLE to fetch it
        w.new_mail = true;
        w.timer.cancel();
        if (!w.done_sent) {
          w.done_sent = true;
          co_await send("DONE\r\n", "DONE");
        }
      }
      continue;
    }
    w.finished = true;
    w.timer.cancel();
    if (r.kind != Kind::tagged || r.tag != tag)
      throw ImapError(FailureKind::protocol, t_.peer() + " answered IDLE out of turn: " + describe(r));
    if (r.status != Status::ok) refused(r, "IDLE");
    co_return;
  }
}

asio::awaitable<void> Client::idle_renewer(std::chrono::milliseconds after, IdleWait& w) {
  if (w.finished || w.done_sent) co_return;
  w.timer.expires_after(after);
  boost::system::error_code ec;
  co_await w.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (ec || w.finished || w.done_sent) co_return;
  // RFC 2177 3: servers may drop a client idle for 30 minutes; DONE and a new IDLE renew it.
  w.done_sent = true;
  co_await send("DONE\r\n", "DONE");
}

asio::awaitable<bool> Client::logout() {
  try {
    Response r = co_await command("LOGOUT");
    set_state(State::logout);
    co_return r.status == Status::ok;
  } catch (const ImapError& e) {
    log::warn(std::string("imap LOGOUT failed: ") + e.what());
    set_state(State::logout);
    co_return false;
  }
}

}  // namespace pb::imap
