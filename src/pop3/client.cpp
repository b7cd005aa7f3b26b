// POP3 client session: explicit steps (greeting -> CAPA -> STLS -> login -> transaction -> QUIT),
// each with a timeout; replies are parsed once into StatusLine; secrets never reach logs.
#include "pop3/client.hpp"

#include <openssl/evp.h>

#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <deque>

#include "oauth/sasl.hpp"
#include "pop3/unstuffer.hpp"
#include "util/base64.hpp"
#include "util/display.hpp"
#include "util/hex.hpp"
#include "util/log.hpp"

namespace pb::pop3 {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kStatusMaxLine = 8192;        // RFC 2449 4 allows 512; be lenient, but bounded
constexpr std::size_t kBodyMaxLine = 4 * 1024 * 1024;  // message lines: RFC 5322 says 998, reality disagrees
// A UIDL/LIST listing is bounded by the memory it takes, not by its line count: a mailbox kept
// for years holds well over 100000 messages, while 64 MB still stops an endless listing.
constexpr std::size_t kListingMaxBytes = 64 * 1024 * 1024;  // about a million UIDL lines

std::string md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return hex::encode(digest, len, hex::Case::lower);
}

// The server's words go into error messages, logs, the status page and the admin's terminal:
// escaped here, where they enter, so no ESC or C1 control from a hostile server can reach one.
std::string describe(const StatusLine& st) {
  std::string out = st.ok ? "+OK" : "-ERR";
  if (!st.code_text.empty()) out += " [" + display::safe(st.code_text, 60) + "]";
  if (!st.text.empty()) out += " " + display::safe(st.text);
  return out;
}

// Runs a transport operation and turns its failures into Pop3Error(connection) with plain words.
template <typename F>
auto guarded(net::Transport& t, F&& f) -> decltype(f()) {
  try {
    co_return co_await f();
  } catch (const net::NetFailure& e) {
    throw Pop3Error(e.kind() == net::NetError::tls_failed ? FailureKind::tls
                    : e.kind() == net::NetError::line_too_long ? FailureKind::protocol
                                                               : FailureKind::connection,
                    e.what());
  } catch (const boost::system::system_error& e) {
    throw Pop3Error(FailureKind::connection, "connection to " + t.peer() + " lost: " + e.code().message());
  }
}

}  // namespace

Client::Client(net::Transport& transport, ClientOptions options)
    : t_(transport), reader_(transport, kStatusMaxLine), opt_(std::move(options)) {}

asio::awaitable<StatusLine> Client::read_status(const char* what) {
  reader_.set_max_line(kStatusMaxLine);
  std::string_view line = co_await guarded(t_, [&]() { return reader_.read_line(); });
  auto st = parse_status(line);
  if (!st)
    throw Pop3Error(FailureKind::protocol, t_.peer() + " answered " + what + " with garbage: \"" +
                                               display::safe(line, 120) + "\"");
  co_return *st;
}

asio::awaitable<StatusLine> Client::command(const std::string& line, const char* redacted) {
  log::debug("pop3 " + t_.peer() + " C: " + (redacted ? std::string(redacted) : line));
  std::string wire = line + "\r\n";
  co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(wire)); });
  co_return co_await read_status(redacted ? redacted : line.c_str());
}

asio::awaitable<std::vector<std::string>> Client::read_multiline() {
  std::vector<std::string> lines;
  std::size_t used = 0;
  for (;;) {
    std::string_view line = co_await guarded(t_, [&]() { return reader_.read_line(); });
    if (line == ".") break;
    if (!line.empty() && line.front() == '.') line.remove_prefix(1);  // RFC 1939 3
    used += sizeof(std::string) + line.size();
    if (used > kListingMaxBytes)
      throw Pop3Error(FailureKind::protocol, t_.peer() + " sent a listing larger than 64 MB; it looks endless");
    lines.emplace_back(line);
  }
  co_return lines;
}

asio::awaitable<void> Client::read_capa() {
  auto st = co_await command("CAPA");
  capa_ok_ = st.ok;
  caps_ = Capabilities{};
  if (st.ok) caps_ = parse_capa(co_await read_multiline());
}

asio::awaitable<void> Client::open() {
  t_.set_timeout(opt_.timeout);
  auto greet = co_await read_status("the greeting");
  if (!greet.ok) throw Pop3Error(FailureKind::temporary, t_.peer() + " refused the connection: " + describe(greet));
  greeting_ = greet.text;
  co_await read_capa();
  if (opt_.security == Security::stls && !t_.is_tls()) {
    // RFC 2595 4: STLS only when advertised; without it we stop rather than log in in clear text.
    if (!caps_.stls)
      throw Pop3Error(FailureKind::tls, t_.peer() + " does not offer STLS (STARTTLS); refusing to log in without "
                                                    "encryption. Use tls = \"implicit\" (port 995) if the provider offers it");
    auto st = co_await command("STLS");
    if (!st.ok) throw Pop3Error(FailureKind::tls, t_.peer() + " refused STLS: " + describe(st));
    co_await guarded(t_, [&]() { return t_.start_tls(); });
    reader_.discard_buffer();  // CVE-2011-0411: nothing sent before the handshake counts
    co_await read_capa();      // RFC 2595 4: capabilities may differ after STLS
  }
  if (!opt_.login) co_return;
  if (!t_.is_tls() && !opt_.allow_plaintext)
    throw Pop3Error(FailureKind::tls, "refusing to send the password to " + t_.peer() + " without TLS");
  co_await login();
}

void Client::fail_login(const StatusLine& st, const char* step) {
  std::string words = t_.peer() + " rejected the " + step + ": " + describe(st);
  switch (st.code) {
    case RespCode::in_use: throw Pop3Error(FailureKind::in_use, words + " (another program is reading this mailbox)");
    case RespCode::login_delay: throw Pop3Error(FailureKind::login_delay, words + " (the provider limits how often you may poll)");
    case RespCode::sys_temp: throw Pop3Error(FailureKind::temporary, words);
    case RespCode::sys_perm: throw Pop3Error(FailureKind::temporary, words + " (the provider reports a problem with the mailbox)");
    default: throw Pop3Error(FailureKind::auth, words);
  }
}

namespace {
bool is_continuation(const std::string& line) { return line == "+" || line.starts_with("+ "); }
}  // namespace

asio::awaitable<std::string> Client::read_auth_line(const char* what) {
  reader_.set_max_line(kStatusMaxLine);
  std::string_view line = co_await guarded(t_, [&]() { return reader_.read_line(); });
  // A continuation ("+ " challenge, RFC 5034 4) or a status line; anything else is garbage.
  if (line != "+" && !line.starts_with("+ ") && !parse_status(line))
    throw Pop3Error(FailureKind::protocol,
                    t_.peer() + " answered " + what + " with garbage: \"" + display::safe(line, 120) + "\"");
  co_return std::string(line);
}

asio::awaitable<void> Client::login_bearer() {
  auto mech = oauth::parse_mechanism(opt_.oauth_mechanism);
  if (!mech)
    throw Pop3Error(FailureKind::auth, "unknown OAuth mechanism \"" + display::safe(opt_.oauth_mechanism, 40) +
                                           "\" (XOAUTH2 or OAUTHBEARER); nothing was sent to " + t_.peer());
  const std::string name = oauth::mechanism_name(*mech);
  if (!caps_.has_sasl(name)) {
    std::string offered;
    for (const auto& m : caps_.sasl) offered += (offered.empty() ? "" : " ") + display::safe(m, 40);
    throw Pop3Error(FailureKind::unsupported, t_.peer() + " does not offer " + name + " login (its SASL mechanisms: " +
                                                  (offered.empty() ? std::string("none") : offered) +
                                                  "); the OAuth token was not sent");
  }
  if (opt_.bearer_token.empty())
    throw Pop3Error(FailureKind::auth, "no OAuth access token to log in to " + t_.peer() + " with " + name);
  login_method_ = "SASL " + name;
  std::string peer = t_.peer();
  std::string host = peer.substr(0, peer.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::uint16_t port = 0;
  if (auto colon = peer.rfind(':'); colon != std::string::npos) {
    unsigned long p = std::strtoul(peer.c_str() + colon + 1, nullptr, 10);
    if (p <= 65535) port = static_cast<std::uint16_t>(p);
  }
  std::string ir = oauth::initial_response(*mech, opt_.username, host, port, opt_.bearer_token);
  std::string shown = "AUTH " + name + " ****";
  log::debug("pop3 " + peer + " C: " + shown);
  // RFC 5034 4: an AUTH command with its initial response must not exceed 255 octets; a token
  // (1-2 KB) then goes after the server's empty "+" continuation instead.
  std::string wire = "AUTH " + name + " " + ir + "\r\n";
  bool separate = wire.size() > 255;
  if (separate) wire = "AUTH " + name + "\r\n";
  co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(wire)); });
  std::string line = co_await read_auth_line("AUTH");
  if (separate && is_continuation(line)) {
    std::string more = ir + "\r\n";
    co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(more)); });
    line = co_await read_auth_line("AUTH");
  }
  if (is_continuation(line)) {
    // RFC 7628 3.2.2: an error challenge; the dummy response brings the final -ERR.
    std::optional<oauth::ErrorChallenge> challenge;
    if (line.size() > 2) challenge = oauth::parse_error_challenge(std::string_view(line).substr(2));
    std::string dummy = std::string(oauth::kDummyResponse) + "\r\n";
    co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(dummy)); });
    line = co_await read_auth_line("AUTH");
    if (is_continuation(line)) {
      std::string cancel = "*\r\n";  // RFC 5034 4: "*" cancels the exchange
      co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(cancel)); });
      throw Pop3Error(FailureKind::protocol, peer + " asked for more after the OAuth error challenge");
    }
    auto st = parse_status(line);
    if (st->ok) co_return;  // accepted after all (no server should)
    std::string why = challenge ? challenge->describe() : std::string("no reason given");
    std::string words = peer + " rejected the OAuth access token (" + why + "): " + describe(*st);
    if (st->code == RespCode::in_use || st->code == RespCode::login_delay || st->code == RespCode::sys_temp) fail_login(*st, "OAuth login");
    throw Pop3Error(FailureKind::auth, words).set_token_rejected(challenge && challenge->token_rejected());
  }
  auto st = parse_status(line);
  if (!st->ok) fail_login(*st, ("login (AUTH " + name + ")").c_str());
}

asio::awaitable<void> Client::login() {
  if (!opt_.oauth_mechanism.empty()) {
    co_await login_bearer();
    co_return;
  }
  AuthMethod m = opt_.auth;
  std::string stamp = apop_timestamp(greeting_);
  if (m == AuthMethod::automatic) {
    if (caps_.has_sasl("PLAIN")) m = AuthMethod::sasl_plain;
    else if (!stamp.empty()) m = AuthMethod::apop;
    else m = AuthMethod::user_pass;
  }
  if (m == AuthMethod::sasl_plain) {
    login_method_ = "SASL PLAIN";
    std::string creds = base64::encode(std::string(1, '\0') + opt_.username + '\0' + opt_.password);
    // RFC 5034 4: initial response allowed; a server that wants it separately answers "+ ".
    std::string wire = "AUTH PLAIN " + creds + "\r\n";
    co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(wire)); });
    reader_.set_max_line(kStatusMaxLine);
    std::string_view line = co_await guarded(t_, [&]() { return reader_.read_line(); });
    if (line.starts_with("+ ") || line == "+") {
      std::string more = creds + "\r\n";
      co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(more)); });
      line = co_await guarded(t_, [&]() { return reader_.read_line(); });
    }
    auto st = parse_status(line);
    if (!st)
      throw Pop3Error(FailureKind::protocol,
                      t_.peer() + " answered AUTH with garbage: \"" + display::safe(line, 120) + "\"");
    if (!st->ok) fail_login(*st, "login (AUTH PLAIN)");
    co_return;
  }
  if (m == AuthMethod::apop) {
    if (stamp.empty()) throw Pop3Error(FailureKind::unsupported, t_.peer() + " does not support APOP (no timestamp in greeting)");
    login_method_ = "APOP";
    auto st = co_await command("APOP " + opt_.username + " " + md5_hex(stamp + opt_.password), "APOP user ****");
    if (!st.ok) fail_login(st, "login (APOP)");
    co_return;
  }
  login_method_ = "USER/PASS";
  auto st = co_await command("USER " + opt_.username);
  if (!st.ok) fail_login(st, "user name");
  st = co_await command("PASS " + opt_.password, "PASS ****");
  if (!st.ok) fail_login(st, "password");
}

asio::awaitable<std::optional<std::vector<UidlEntry>>> Client::uidl() {
  auto st = co_await command("UIDL");
  if (!st.ok) co_return std::nullopt;
  std::vector<UidlEntry> out;
  for (const auto& line : co_await read_multiline()) {
    auto e = parse_uidl_line(line);
    if (!e) throw Pop3Error(FailureKind::protocol, t_.peer() + " sent a malformed UIDL line: \"" + display::safe(line, 100) + "\"");
    out.push_back(std::move(*e));
  }
  co_return out;
}

asio::awaitable<std::vector<ListEntry>> Client::list() {
  auto st = co_await command("LIST");
  if (!st.ok) throw Pop3Error(FailureKind::protocol, t_.peer() + " refused LIST: " + describe(st));
  std::vector<ListEntry> out;
  for (const auto& line : co_await read_multiline()) {
    auto e = parse_list_line(line);
    if (!e) throw Pop3Error(FailureKind::protocol, t_.peer() + " sent a malformed LIST line: \"" + display::safe(line, 100) + "\"");
    out.push_back(*e);
  }
  co_return out;
}

asio::awaitable<void> Client::retrieve_one_reply(std::uint32_t number, RetrSink& sink) {
  auto st = co_await read_status("RETR");
  if (!st.ok) {
    sink.refused(number, describe(st));
    co_return;
  }
  sink.begin(number);
  Unstuffer unstuffer;
  std::string decoded;
  reader_.set_max_line(kBodyMaxLine);
  for (;;) {
    bool crlf = true;
    std::string_view line = co_await guarded(t_, [&]() { return reader_.read_line(crlf); });
    decoded.clear();
    if (!unstuffer.feed_line(line, crlf, decoded)) break;
    sink.data(decoded);
  }
  reader_.set_max_line(kStatusMaxLine);
  stats_.bare_lf_lines += unstuffer.bare_lf_lines();
  stats_.dropped_crs += unstuffer.dropped_crs();
  stats_.inner_crs += unstuffer.inner_crs();
  stats_.nul_bytes += unstuffer.nul_bytes();
  sink.end(number);
}

asio::awaitable<void> Client::retrieve(const std::vector<std::uint32_t>& numbers, RetrSink& sink) {
  // RFC 2449 6.6: with PIPELINING keep a window of RETRs in flight, so a mailbox of thousands of
  // messages streams instead of paying a round trip each. Commands are small, so the window can
  // never fill the server's receive buffer while we read its replies (no write/write deadlock).
  std::size_t window = caps_.pipelining ? static_cast<std::size_t>(std::max(1, opt_.pipeline_window)) : 1;
  std::size_t sent = 0, done = 0;
  while (done < numbers.size()) {
    std::string batch;
    while (sent < numbers.size() && sent - done < window) batch += "RETR " + std::to_string(numbers[sent++]) + "\r\n";
    if (!batch.empty()) co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(batch)); });
    co_await retrieve_one_reply(numbers[done++], sink);
  }
}

asio::awaitable<std::vector<std::uint32_t>> Client::dele(const std::vector<std::uint32_t>& numbers) {
  std::vector<std::uint32_t> accepted;
  std::size_t window = caps_.pipelining ? static_cast<std::size_t>(std::max(1, opt_.pipeline_window)) : 1;
  std::size_t sent = 0, done = 0;
  while (done < numbers.size()) {
    std::string batch;
    while (sent < numbers.size() && sent - done < window) batch += "DELE " + std::to_string(numbers[sent++]) + "\r\n";
    if (!batch.empty()) co_await guarded(t_, [&]() { return t_.write_all(asio::buffer(batch)); });
    auto st = co_await read_status("DELE");
    if (st.ok) accepted.push_back(numbers[done]);
    else log::warn("pop3 " + t_.peer() + " refused DELE " + std::to_string(numbers[done]) + ": " + describe(st));
    ++done;
  }
  co_return accepted;
}

asio::awaitable<bool> Client::quit() {
  try {
    auto st = co_await command("QUIT");
    if (!st.ok) log::warn("pop3 " + t_.peer() + " answered QUIT with " + describe(st) + ": deletions not confirmed");
    co_return st.ok;
  } catch (const Pop3Error& e) {
    log::warn(std::string("pop3 QUIT failed: ") + e.what() + "; deletions not confirmed");
    co_return false;
  }
}

}  // namespace pb::pop3
