// SMTP/LMTP client session: the dialog of RFC 5321 / RFC 2033 over a net::Transport. Promises: no
// plain-text fallback when STARTTLS is required, no password in logs or errors, pipelined envelopes
// in one write, no DSN parameter to a server without DSN, whole-buffer body writes, and
// per-recipient outcomes that are never lost or doubled.
#include "smtp/client.hpp"
#include "util/base64.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <memory>
#include <utility>

#include "mail/dsn.hpp"
#include "oauth/sasl.hpp"
#include "smtp/codes.hpp"
#include "smtp/stuffer.hpp"
#include "util/hex.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace pb::smtp {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kBodyChunk = 64 * 1024;   // one BodyReader call
constexpr std::size_t kWriteBatch = 64 * 1024;  // encoded body is written in buffers of this size
// QUIT is a courtesy: never hold a delivery worker for the full command timeout on it.
constexpr std::chrono::milliseconds kQuitTimeout = std::chrono::seconds(30);

// A reply we make up ourselves (local refusals, lost connections), shaped like a server's.
Reply synthetic(Code c, const std::string& text) {
  Reply r;
  r.code = c.basic;
  r.enhanced = std::string(c.enhanced);
  r.lines.push_back(r.enhanced + " " + text);
  return r;
}

Outcome outcome_of(const Reply& r) {
  if (r.positive()) return Outcome::accepted;
  return r.transient() ? Outcome::transient : Outcome::permanent;
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Every recipient gets the same outcome (MAIL refused, message refused before the dialog).
SendResult refuse_all(const Envelope& env, const Reply& reply, LocalRefusal here = LocalRefusal::none) {
  SendResult res;
  res.message = outcome_of(reply);
  res.reply = reply;
  res.refused_here = here;
  for (const auto& rcpt : env.recipients) res.recipients.push_back({rcpt, res.message, reply});
  return res;
}

// RFC 3461 4.1: "NEVER" or a comma list of SUCCESS, FAILURE, DELAY; anything else is not sent.
bool valid_notify(std::string_view v) {
  if (v == "NEVER") return true;
  bool any = false;
  for (std::size_t start = 0; start <= v.size();) {
    std::size_t comma = std::min(v.find(',', start), v.size());
    std::string_view item = v.substr(start, comma - start);
    if (item != "SUCCESS" && item != "FAILURE" && item != "DELAY") return false;
    any = true;
    start = comma + 1;
  }
  return any;
}

const std::string& entry(const std::vector<std::string>& v, std::size_t i) {
  static const std::string none;
  return i < v.size() ? v[i] : none;
}

// Message outcome from the recipients: accepted if any was, else transient if any may still be
// retried, else permanent. The deciding reply is `preferred` (DATA or end-of-data) when it agrees.
void summarise(SendResult& res, const Reply* preferred) {
  auto any = [&](Outcome o) {
    return std::any_of(res.recipients.begin(), res.recipients.end(), [o](const auto& r) { return r.outcome == o; });
  };
  res.message = any(Outcome::accepted)    ? Outcome::accepted
                : any(Outcome::transient) ? Outcome::transient
                                          : Outcome::permanent;
  if (preferred && outcome_of(*preferred) == res.message) {
    res.reply = *preferred;
    return;
  }
  for (const auto& r : res.recipients)
    if (r.outcome == res.message) {
      res.reply = r.reply;
      return;
    }
}

}  // namespace

struct Client::Transaction {
  Reply mail;
  std::vector<Reply> rcpt;    // in envelope order; empty when MAIL failed without pipelining
  std::optional<Reply> data;  // absent when DATA was not sent
};

Client::Client(net::Transport& transport, ClientOptions options)
    : t_(transport), reader_(transport), opt_(std::move(options)) {}

// ---- low level: every transport or parser failure leaves here as a SessionError -------------------

SessionError Client::broken(FailureKind kind, const std::string& what, Reply reply) {
  unusable_ = what;
  return SessionError(kind, false, what, std::move(reply));
}

asio::awaitable<void> Client::write(std::string_view bytes) {
  try {
    co_await t_.write_all(asio::buffer(bytes.data(), bytes.size()));
  } catch (const net::NetFailure& e) {
    throw broken(FailureKind::connection,
                 "connection to " + t_.peer() + " failed while sending " + step_ + ": " + e.what());
  } catch (const boost::system::system_error& e) {
    throw broken(FailureKind::connection,
                 "connection to " + t_.peer() + " failed while sending " + step_ + ": " + e.code().message());
  }
}

asio::awaitable<Reply> Client::read_reply() {
  ReplyParser parser;
  for (;;) {  // the parser bounds the number of lines (ReplyParser::kMaxLines)
    std::string_view line;
    try {
      line = co_await reader_.read_line();
    } catch (const net::NetFailure& e) {
      if (e.kind() == net::NetError::line_too_long)  // RFC 5321 4.5.3.1.5: 512 octets per reply line
        throw broken(FailureKind::protocol, t_.peer() + " sent an over-long reply line to " + step_ + ": " + e.what());
      throw broken(FailureKind::connection,
                   "connection to " + t_.peer() + " failed waiting for the reply to " + step_ + ": " + e.what());
    } catch (const boost::system::system_error& e) {
      std::string why = e.code() == asio::error::eof ? "the server closed the connection" : e.code().message();
      throw broken(FailureKind::connection,
                   "connection to " + t_.peer() + " failed waiting for the reply to " + step_ + ": " + why);
    }
    bool complete = false;
    try {
      complete = parser.feed(line);
    } catch (const std::runtime_error& e) {
      throw broken(FailureKind::protocol, t_.peer() + " sent a malformed reply to " + step_ + ": " + e.what() + " (\"" +
                                              text::printable(line, 120) + "\")");
    }
    if (complete) break;
  }
  Reply r = parser.take();
  log::debug(t_.peer() + " S: " + text::printable(r.text()));
  // RFC 5321 3.8: 421 means the server is closing the channel, whatever we asked.
  if (r.code == 421)
    throw broken(FailureKind::connection,
                 t_.peer() + " is closing the connection (reply to " + step_ + "): " + r.text(), r);
  co_return r;
}

asio::awaitable<Reply> Client::command(std::string_view line, std::string_view shown) {
  log::debug(t_.peer() + " C: " + std::string(shown.empty() ? line : shown));
  std::string out;
  out.reserve(line.size() + 2);
  out.append(line).append("\r\n");
  co_await write(out);
  co_return co_await read_reply();
}

// ---- session setup --------------------------------------------------------------------------------

asio::awaitable<void> Client::open() {
  t_.set_timeout(opt_.timeout);  // RFC 5321 4.5.3.2.1: 5 minutes for the greeting
  step_ = "greeting";
  Reply banner = co_await read_reply();
  if (banner.code != 220) {  // RFC 5321 4.3.2: 220, or 554 "no SMTP service here"
    if (banner.positive())
      throw broken(FailureKind::protocol, t_.peer() + " sent an unexpected greeting: " + banner.text(), banner);
    throw SessionError(FailureKind::greeting, banner.permanent(), t_.peer() + " refused the session: " + banner.text(),
                       banner);
  }
  greeting_ = banner.text();
  co_await hello();
  if (opt_.security == Security::starttls) co_await start_tls();
  if (opt_.security == Security::implicit && !t_.is_tls())
    throw broken(FailureKind::tls,
                 "implicit TLS was configured but the connection to " + t_.peer() + " is not encrypted");
  if (!opt_.username.empty()) co_await authenticate_or_quit();
}

// A refused login ends with QUIT, as Postfix's client ends it: the provider logs an orderly end of
// the session rather than a dropped connection. The refusal is what the caller hears.
asio::awaitable<void> Client::authenticate_or_quit() {
  std::exception_ptr refused;
  try {
    co_await authenticate();
  } catch (const SessionError& e) {
    if (e.kind() != FailureKind::auth) throw;
    refused = std::current_exception();
  }
  if (!refused) co_return;
  co_await quit();
  std::rethrow_exception(refused);
}

asio::awaitable<void> Client::hello() {
  step_ = opt_.lmtp ? "LHLO" : "EHLO";  // RFC 2033 4.1: LMTP has LHLO instead of EHLO and HELO
  Reply r = co_await command(step_ + " " + opt_.helo_name);
  if (r.code / 100 == 2) {
    ext_ = parse_ehlo(r);
    co_return;
  }
  if (!opt_.lmtp && r.permanent()) {  // RFC 5321 4.1.4 / 3.2: a server without ESMTP; try HELO
    step_ = "HELO";
    Reply helo = co_await command("HELO " + opt_.helo_name);
    if (helo.code / 100 == 2) {
      ext_ = Extensions{};  // HELO announces nothing
      co_return;
    }
    r = std::move(helo);
  }
  throw SessionError(FailureKind::greeting, r.permanent(), t_.peer() + " refused " + step_ + ": " + r.text(), r);
}

asio::awaitable<void> Client::start_tls() {
  if (!ext_.starttls)  // never fall back to plain text when TLS was asked for (RFC 3207 4 leaves it to policy)
    throw SessionError(FailureKind::tls, false,
                       t_.peer() + ": server does not offer STARTTLS; refusing to send in clear text");
  step_ = "STARTTLS";
  Reply r = co_await command("STARTTLS");
  if (r.code != 220)  // RFC 3207 4: 220 ready; 454 TLS not available; 501 syntax
    throw SessionError(FailureKind::tls, false, t_.peer() + " refused STARTTLS: " + r.text(), r);
  try {
    co_await t_.start_tls();
  } catch (const net::NetFailure& e) {
    throw broken(FailureKind::tls, "TLS with " + t_.peer() + " failed: " + e.what());
  } catch (const boost::system::system_error& e) {
    throw broken(FailureKind::tls, "TLS with " + t_.peer() + " failed: " + e.code().message());
  }
  // CVE-2011-0411: bytes that arrived in plain text before the handshake were not protected by it
  // and may have been injected; they must never be read as a reply to what we send over TLS.
  reader_.discard_buffer();
  log::debug(t_.peer() + " TLS: " + t_.tls_description());
  co_await hello();  // RFC 3207 4.2: forget what was learnt before TLS and ask again
}

asio::awaitable<void> Client::authenticate() {
  if (!t_.is_tls() && !opt_.allow_plaintext_auth)
    throw SessionError(FailureKind::auth, true,
                       t_.peer() +
                           ": refusing to send the password over an unencrypted connection: "
                           "set tls or allow_plaintext");
  // Over TLS PLAIN is as safe as any and needs one round trip (RFC 4616); CRAM-MD5 (RFC 2195) is
  // only chosen when forced: it needs the password in clear on the server and adds nothing over TLS.
  if (!opt_.oauth_mechanism.empty()) {
    co_await auth_bearer();
    co_return;
  }
  const std::string& want = opt_.mechanism;
  auto usable = [&](const char* m) { return (want.empty() || want == m) && ext_.has_auth(m); };
  if (usable("PLAIN")) {
    co_await auth_plain();
    co_return;
  }
  if (usable("LOGIN")) {
    co_await auth_login();
    co_return;
  }
  if (want == "CRAM-MD5" && ext_.has_auth("CRAM-MD5")) {
    co_await auth_cram_md5();
    co_return;
  }
  std::string offered;
  for (const auto& m : ext_.auth) offered += (offered.empty() ? "" : " ") + m;
  throw SessionError(FailureKind::auth, true,
                     t_.peer() + " offers no AUTH mechanism we can use (" +
                         (want.empty() ? std::string("PLAIN, LOGIN") : want) + "); it offers: " +
                         (offered.empty() ? "none" : offered));
}

namespace {
// RFC 4954 6: 235 success; 4xx (454 temporary failure) may pass; 5xx (535 credentials) will not.
void check_auth_reply(const Reply& r, const std::string& peer) {
  if (r.code / 100 == 2) return;
  if (r.transient())
    throw SessionError(FailureKind::auth, false, "login failed temporarily at " + peer + ": " + r.text(), r);
  throw SessionError(FailureKind::auth, true, "login rejected by " + peer + ": " + r.text(), r);
}
}  // namespace

asio::awaitable<void> Client::auth_plain() {
  step_ = "AUTH PLAIN";
  // RFC 4616 2: [authzid] NUL authcid NUL passwd, sent as the initial response (RFC 4954 4).
  std::string token = base64::encode(std::string(1, '\0') + opt_.username + '\0' + opt_.password);
  Reply r = co_await command("AUTH PLAIN " + token, "AUTH PLAIN ****");
  if (r.code == 334) {  // a challenge after a complete initial response: cancel (RFC 4954 4)
    co_await command("*");
    throw broken(FailureKind::protocol, t_.peer() + " asked for more after a complete AUTH PLAIN: " + r.text(), r);
  }
  check_auth_reply(r, t_.peer());
}

asio::awaitable<void> Client::auth_login() {
  // draft-murchison-sasl-login: 334 challenges for user name, then password, each base64.
  step_ = "AUTH LOGIN";
  Reply r = co_await command("AUTH LOGIN");
  if (r.code == 334) r = co_await command(base64::encode(opt_.username), "****");
  if (r.code == 334) r = co_await command(base64::encode(opt_.password), "****");
  if (r.code == 334) {
    co_await command("*");
    throw broken(FailureKind::protocol,
                 t_.peer() + " asked for more than user name and password in AUTH LOGIN: " + r.text(), r);
  }
  check_auth_reply(r, t_.peer());
}

asio::awaitable<void> Client::auth_cram_md5() {
  // RFC 2195 2: the server sends base64(challenge); we answer base64(user SP hex(HMAC-MD5(pw, challenge))).
  step_ = "AUTH CRAM-MD5";
  Reply r = co_await command("AUTH CRAM-MD5");
  if (r.code == 334) {
    auto challenge = base64::decode(r.lines.empty() ? std::string() : r.lines.front());
    if (!challenge) {
      co_await command("*");
      throw broken(FailureKind::protocol, t_.peer() + " sent an invalid CRAM-MD5 challenge", r);
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_md5(), opt_.password.data(), static_cast<int>(opt_.password.size()),
         reinterpret_cast<const unsigned char*>(challenge->data()), challenge->size(), mac, &len);
    std::string digest = hex::encode(mac, len, hex::Case::lower);
    r = co_await command(base64::encode(opt_.username + " " + digest), "****");
  }
  check_auth_reply(r, t_.peer());
}

namespace {
// "host:port" or "[v6]:port" of Transport::peer() split for OAUTHBEARER's host= and port= (RFC 7628 3.1).
std::pair<std::string, std::uint16_t> host_port(const std::string& peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string::npos) return {peer, 0};
  std::string host = peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::uint16_t port = 0;
  try {
    unsigned long p = std::stoul(peer.substr(colon + 1));
    if (p <= 65535) port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
  }
  return {host, port};
}

// The words of a refused OAuth login: the error challenge's status and scope, then the final reply.
std::string token_refusal(const std::string& peer, const std::optional<oauth::ErrorChallenge>& challenge,
                          const Reply& final_reply) {
  std::string why = challenge ? challenge->describe() : std::string("no reason given");
  return peer + " rejected the OAuth access token (" + why + "): " + final_reply.text();
}
}  // namespace

asio::awaitable<void> Client::auth_bearer() {
  auto mech = oauth::parse_mechanism(opt_.oauth_mechanism);
  if (!mech)
    throw SessionError(FailureKind::auth, true,
                       "unknown OAuth mechanism \"" + text::printable(opt_.oauth_mechanism, 40) +
                           "\" (XOAUTH2 or OAUTHBEARER); nothing was sent to " + t_.peer());
  const std::string name = oauth::mechanism_name(*mech);
  if (!ext_.has_auth(name)) {
    std::string offered;
    for (const auto& m : ext_.auth) offered += (offered.empty() ? "" : " ") + m;
    throw SessionError(FailureKind::auth, true,
                       t_.peer() + " does not offer " + name + " login (it offers: " +
                           (offered.empty() ? std::string("none") : offered) + "); the OAuth token was not sent");
  }
  if (opt_.bearer_token.empty())
    throw SessionError(FailureKind::auth, true, "no OAuth access token to log in to " + t_.peer() + " with " + name);
  step_ = "AUTH " + name;
  std::pair<std::string, std::uint16_t> hp = host_port(t_.peer());
  std::string ir = oauth::initial_response(*mech, opt_.username, hp.first, hp.second, opt_.bearer_token);
  // RFC 4954 4: AUTH with its initial response may be 12288 octets; longer, the response goes
  // after an empty 334 challenge instead (RFC 4422 5). Tokens are 1-2 KB, so this is rare.
  constexpr std::size_t kMaxAuthLine = 12288;
  Reply r;
  if (("AUTH " + name + " " + ir).size() + 2 <= kMaxAuthLine) {
    r = co_await command("AUTH " + name + " " + ir, "AUTH " + name + " ****");
  } else {
    r = co_await command("AUTH " + name);
    if (r.code == 334) r = co_await command(ir, "****");
  }
  if (r.code == 334) {
    // RFC 7628 3.2.2: an error challenge; answer with the dummy response to get the final reply.
    std::optional<oauth::ErrorChallenge> challenge;
    if (!r.lines.empty()) challenge = oauth::parse_error_challenge(r.lines.front());
    Reply final_reply = co_await command(oauth::kDummyResponse);
    if (final_reply.code == 334) {
      co_await command("*");
      throw broken(FailureKind::protocol, t_.peer() + " asked for more after the OAuth error challenge: " + final_reply.text(),
                   final_reply);
    }
    if (final_reply.code / 100 == 2)  // accepted after all (no server should): logged in
      co_return;
    bool rejected = challenge && challenge->token_rejected();
    throw SessionError(FailureKind::auth, !final_reply.transient(), token_refusal(t_.peer(), challenge, final_reply),
                       final_reply)
        .set_token_rejected(rejected);
  }
  check_auth_reply(r, t_.peer());
}

// ---- transactions ---------------------------------------------------------------------------------

std::optional<SendResult> Client::refuse_locally(const Envelope& env, std::uint64_t size) const {
  // CR/LF in an address would let it smuggle commands into the dialog.
  bool corrupt = has_control_chars(env.sender) || std::any_of(env.recipients.begin(), env.recipients.end(),
                                                              [](const auto& r) { return has_control_chars(r); });
  if (corrupt)
    return refuse_all(env, synthetic(code::bad_address, "envelope address contains control characters; not sent"),
                      LocalRefusal::control_chars);
  if (env.smtputf8 && !ext_.smtputf8)  // RFC 6531 3.4: must not be sent to a server without SMTPUTF8
    return refuse_all(env,
                      synthetic(code::utf8_required,
                                t_.peer() + " does not support SMTPUTF8, needed for this message; not sent"),
                      LocalRefusal::smtputf8);
  if (ext_.size && *ext_.size != 0 && size > *ext_.size)  // RFC 1870 6: do not send what will be refused
    return refuse_all(env,
                      synthetic(code::message_too_big,
                                "message of " + std::to_string(size) + " bytes exceeds the limit of " +
                                    std::to_string(*ext_.size) + " bytes announced by " + t_.peer() + "; not sent"),
                      LocalRefusal::size);
  return std::nullopt;
}

std::string Client::mail_command(const Envelope& env, std::uint64_t size) const {
  std::string cmd = "MAIL FROM:<" + env.sender + ">";
  if (ext_.size) cmd += " SIZE=" + std::to_string(size);            // RFC 1870 6
  if (env.eight_bit && ext_.eightbitmime) cmd += " BODY=8BITMIME";  // RFC 6152 2
  if (env.smtputf8 && ext_.smtputf8) cmd += " SMTPUTF8";            // RFC 6531 3.4
  if (!ext_.dsn) return cmd;  // RFC 3461 5.2.2 (a): no DSN parameter for a server without DSN
  if (env.ret == "FULL" || env.ret == "HDRS") cmd += " RET=" + env.ret;  // RFC 3461 4.3
  // RFC 3461 4.4: ENVID is xtext of at most 100 characters. A longer one is left out rather than
  // have the whole message refused for it.
  if (std::string envid = mail::xtext_encode(env.envid); !envid.empty() && envid.size() <= 100)
    cmd += " ENVID=" + envid;
  return cmd;
}

std::string Client::rcpt_command(const Envelope& env, std::size_t i) const {
  std::string cmd = "RCPT TO:<" + env.recipients[i] + ">";
  if (!ext_.dsn) return cmd;  // RFC 3461 5.2.2 (a)
  // RFC 3461 5.2.1: NOTIFY and ORCPT go on as they came (ORCPT xtext-encoded again, 4.2).
  if (const std::string& notify = entry(env.notify, i); valid_notify(notify)) cmd += " NOTIFY=" + notify;
  if (std::string orcpt = mail::orcpt_parameter(entry(env.orcpt, i)); !orcpt.empty()) cmd += " ORCPT=" + orcpt;
  return cmd;
}

asio::awaitable<void> Client::envelope_pipelined(const Envelope& env, std::uint64_t size, Transaction& tx) {
  // RFC 2920 3.1: MAIL, every RCPT and DATA (the last command of the group) in one write, then
  // the replies in order. One write also means one TCP segment train, not a round trip per command.
  std::string batch;
  auto add = [&](const std::string& cmd) {
    log::debug(t_.peer() + " C: " + cmd);
    batch.append(cmd).append("\r\n");
  };
  add(mail_command(env, size));
  for (std::size_t i = 0; i < env.recipients.size(); ++i) add(rcpt_command(env, i));
  add("DATA");
  step_ = "MAIL FROM";
  co_await write(batch);
  tx.mail = co_await read_reply();
  step_ = "RCPT TO";
  for (std::size_t i = 0; i < env.recipients.size(); ++i) tx.rcpt.push_back(co_await read_reply());
  step_ = "DATA";
  tx.data = co_await read_reply();
}

asio::awaitable<void> Client::envelope_stepwise(const Envelope& env, std::uint64_t size, Transaction& tx) {
  step_ = "MAIL FROM";
  tx.mail = co_await command(mail_command(env, size));
  if (!tx.mail.positive()) co_return;
  step_ = "RCPT TO";
  for (std::size_t i = 0; i < env.recipients.size(); ++i) tx.rcpt.push_back(co_await command(rcpt_command(env, i)));
  if (std::none_of(tx.rcpt.begin(), tx.rcpt.end(), [](const Reply& r) { return r.positive(); })) co_return;
  step_ = "DATA";
  tx.data = co_await command("DATA");
}

asio::awaitable<void> Client::abort_data() {
  // The server said 354 although there is nothing to deliver (MAIL or every RCPT refused, RFC 2920
  // 3.1 says it should not): end the empty message so the dialog stays in step.
  step_ = "end of empty data";
  co_await write(".\r\n");
  if (opt_.lmtp) {  // RFC 2033 4.2: no accepted recipient, so no reply will come: nothing is reliable now
    unusable_ = t_.peer() + " accepted DATA without recipients (RFC 2033 4.2)";
    co_return;
  }
  co_await read_reply();
}

// Always DATA through the encoder, also where the next hop offers CHUNKING and BINARYMIME (RFC
// 3030): nothing postbridge queues is declared binary (the listener does not announce BINARYMIME,
// POP3 hands out lines), so every message is text whose lines must fit SMTP; and so the office
// and the smarthost route get the same bytes.
asio::awaitable<BodyChanges> Client::send_body(BodyReader& body) {
  t_.set_timeout(opt_.data_timeout);  // RFC 5321 4.5.3.2.5: data block
  step_ = "message body";
  Stuffer stuffer;
  auto chunk = std::make_unique<char[]>(kBodyChunk);
  std::string out;
  out.reserve(kWriteBatch + kBodyChunk / 8);
  for (;;) {
    std::size_t n = 0;
    try {
      n = body(chunk.get(), kBodyChunk);
    } catch (...) {  // the peer is in the middle of DATA: this connection cannot be used again
      unusable_ = "reading the message failed in the middle of DATA";
      throw;
    }
    if (n == 0) break;
    stuffer.feed(std::string_view(chunk.get(), std::min(n, kBodyChunk)), out);
    if (out.size() >= kWriteBatch) {  // whole buffers, never a write per line (DESIGN: Nagle)
      co_await write(out);
      out.clear();
    }
  }
  stuffer.finish(out);  // RFC 5321 4.1.1.4: CRLF.CRLF
  co_await write(out);
  co_return stuffer.changes();
}

asio::awaitable<void> Client::final_replies(SendResult& res, const std::vector<std::size_t>& accepted) {
  t_.set_timeout(opt_.data_timeout);  // RFC 5321 4.5.3.2.6: 10 minutes for the end-of-data reply
  step_ = "end of data";
  auto settle = [&](std::size_t i, Reply r) {
    res.recipients[i].outcome = outcome_of(r);
    res.recipients[i].reply = std::move(r);
  };
  if (!opt_.lmtp) {  // SMTP: one reply decides for every accepted recipient
    Reply r = co_await read_reply();
    for (std::size_t i : accepted) settle(i, r);
    summarise(res, &r);
    co_return;
  }
  // RFC 2033 4.2: one reply per accepted recipient, in RCPT order.
  for (std::size_t k = 0; k < accepted.size(); ++k) {
    std::string lost;
    try {
      settle(accepted[k], co_await read_reply());
      continue;
    } catch (const SessionError& e) {
      if (k == 0) throw;  // nothing decided yet: the whole message is simply retried
      lost = e.what();
    }
    // Some recipients already have their final reply: report them rather than throw, so they are
    // neither delivered twice nor lost; the rest is retried. The connection is unusable now.
    for (std::size_t j = k; j < accepted.size(); ++j)
      settle(accepted[j], synthetic(code::bad_connection, "no LMTP reply for this recipient: " + lost));
    break;
  }
  summarise(res, nullptr);
}

asio::awaitable<SendResult> Client::send(const Envelope& env, std::uint64_t size, BodyReader body) {
  if (env.recipients.empty()) throw std::invalid_argument("smtp::Client::send: envelope without recipients");
  if (!unusable_.empty())
    throw SessionError(FailureKind::connection, false,
                       "connection to " + t_.peer() + " is no longer usable: " + unusable_);
  if (auto refused = refuse_locally(env, size)) co_return std::move(*refused);
  if (needs_reset_) co_await reset();  // the caller skipped reset() after a failed transaction
  t_.set_timeout(opt_.timeout);        // RFC 5321 4.5.3.2.2-4: MAIL, RCPT, DATA initiation
  needs_reset_ = true;                 // until end-of-data closes the transaction (RFC 5321 4.1.4)

  Transaction tx;
  if (ext_.pipelining)
    co_await envelope_pipelined(env, size, tx);
  else
    co_await envelope_stepwise(env, size, tx);

  bool want_data =
      tx.mail.positive() && std::any_of(tx.rcpt.begin(), tx.rcpt.end(), [](const Reply& r) { return r.positive(); });
  if (tx.data && tx.data->code == 354 && !want_data) co_await abort_data();
  if (!tx.mail.positive()) co_return refuse_all(env, tx.mail);  // recipients share the MAIL refusal

  SendResult res;
  std::vector<std::size_t> accepted;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    res.recipients.push_back({env.recipients[i], outcome_of(tx.rcpt[i]), tx.rcpt[i], !tx.rcpt[i].positive()});
    if (tx.rcpt[i].positive()) accepted.push_back(i);
  }
  if (accepted.empty()) {
    summarise(res, nullptr);  // also the DATA reply (503/554) was read above, so RSET is all it takes
    co_return res;
  }
  const Reply& data = *tx.data;
  if (data.code != 354) {
    if (data.positive())
      throw broken(FailureKind::protocol, t_.peer() + " answered DATA with " + data.text() + " instead of 354", data);
    for (std::size_t i : accepted) res.recipients[i] = {env.recipients[i], outcome_of(data), data};
    summarise(res, &data);
    co_return res;
  }
  res.body_changes = co_await send_body(body);
  co_await final_replies(res, accepted);
  if (unusable_.empty()) needs_reset_ = false;
  t_.set_timeout(opt_.timeout);
  co_return res;
}

asio::awaitable<void> Client::reset() {
  t_.set_timeout(opt_.timeout);
  step_ = "RSET";
  Reply r = co_await command("RSET");  // RFC 5321 4.1.1.5: must be answered with 250
  if (!r.positive()) throw broken(FailureKind::protocol, t_.peer() + " refused RSET: " + r.text(), r);
  needs_reset_ = false;
}

asio::awaitable<void> Client::quit() {
  if (!unusable_.empty()) co_return;
  unusable_ = "the session was ended with QUIT";
  t_.set_timeout(std::min(opt_.timeout, kQuitTimeout));
  step_ = "QUIT";
  try {
    co_await command("QUIT");  // RFC 5321 4.1.1.10: 221 expected, but the session is over either way
  } catch (const SessionError&) {
  }
}

}  // namespace pb::smtp
