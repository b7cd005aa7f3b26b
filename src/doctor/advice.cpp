#include "doctor/advice.hpp"

#include <cstdio>
#include <ctime>

#include "util/units.hpp"

namespace pb::doctor {

const char* to_string(Protocol p) {
  switch (p) {
    case Protocol::pop3: return "POP3";
    case Protocol::imap: return "IMAP";
    case Protocol::smtp: return "SMTP";
    case Protocol::lmtp: return "LMTP";
  }
  return "SMTP";
}

std::string dns_problem(const std::string& host, const std::string& error) {
  return "the name " + host + " was not found (" + error + ")";
}

std::string dns_advice(const std::string& host) {
  return "check the spelling of host = \"" + host + "\": a typo, or the wrong host (the provider's help pages "
         "name its POP3 and SMTP servers; config/postbridge.toml lists the common ones). If the name is "
         "right, this machine's DNS is not working: try `getent hosts " + host + "`";
}

std::string tcp_problem(const std::string& peer, ConnectFailure f, std::chrono::milliseconds timeout,
                        const std::string& error) {
  switch (f) {
    case ConnectFailure::timeout:
      return "no answer from " + peer + " within " + format_duration(timeout) + ": the connection attempt is dropped";
    case ConnectFailure::refused: return peer + " refused the connection: nothing listens on that port";
    case ConnectFailure::unreachable: return "no route to " + peer + " from this machine (" + error + ")";
    case ConnectFailure::other: break;
  }
  return "cannot connect to " + peer + ": " + error;
}

std::string tcp_advice(std::uint16_t port, Protocol p, ConnectFailure f) {
  if (f == ConnectFailure::timeout && port == 25 && p == Protocol::smtp)
    return "outbound port 25 is often blocked by firewalls and providers (to stop infected PCs from sending "
           "spam): use port 587 with tls = \"starttls\" or port 465 with tls = \"implicit\"; both carry the "
           "login encrypted. `postbridge test --ports` shows which ones get through";
  if (f == ConnectFailure::timeout)
    return "a firewall drops connections to port " + std::to_string(port) +
           " (this machine's, the office router's, or the provider's), or the host is wrong. "
           "`postbridge test --ports` tries the other usual ports";
  if (f == ConnectFailure::refused) {
    if (p == Protocol::pop3)
      return "check the port: POP3 is 995 with tls = \"implicit\" or 110 with tls = \"starttls\"";
    if (p == Protocol::imap)
      return "check the port: IMAP is 993 with tls = \"implicit\" or 143 with tls = \"starttls\"";
    if (p == Protocol::lmtp) return "check [local] port: the office server's LMTP port (Dovecot: often 24)";
    return "check the port: submission is 465 with tls = \"implicit\" or 587 with tls = \"starttls\"; "
           "for [local], the office server's SMTP port (Exchange: 25); is that server running?";
  }
  if (f == ConnectFailure::unreachable)
    return "the network has no route there: an IPv6 address without IPv6 connectivity is harmless when "
           "another address works; otherwise check this machine's network and gateway";
  return {};
}

std::string tls_mode_advice(std::uint16_t port, config::TlsMode configured, Protocol p, const std::string& error) {
  const char* upgrade = p == Protocol::pop3 ? "STLS" : "STARTTLS";
  const bool plain_answer = error.find("wrong version number") != std::string::npos ||
                            error.find("packet length too long") != std::string::npos ||
                            error.find("unknown protocol") != std::string::npos;
  if (configured == config::TlsMode::implicit && plain_answer)
    return std::string("the server answered the TLS hello in plain text: port ") + std::to_string(port) +
           " starts without TLS and switches with " + upgrade + ": set tls = \"starttls\"";
  const bool silent = error.find("no answer") != std::string::npos || error.find("timeout") != std::string::npos;
  if (configured != config::TlsMode::implicit && silent)
    return "the server sent no greeting: port " + std::to_string(port) +
           " probably expects TLS from the first byte: set tls = \"implicit\"";
  const bool implicit_port = port == 465 || port == 995 || port == 993;
  const bool starttls_port = port == 587 || port == 25 || port == 110 || port == 143 || port == 24;
  if (configured == config::TlsMode::implicit && starttls_port)
    return "port " + std::to_string(port) + " usually starts in plain text and switches to TLS with " +
           (p == Protocol::pop3 ? "STLS" : "STARTTLS") + ": set tls = \"starttls\" (or use port " +
           (p == Protocol::pop3 ? "995" : p == Protocol::imap ? "993" : "465") + " with tls = \"implicit\")";
  if (configured == config::TlsMode::starttls && implicit_port)
    return "port " + std::to_string(port) + " expects TLS from the first byte: set tls = \"implicit\"";
  if (configured == config::TlsMode::none && implicit_port)
    return "port " + std::to_string(port) + " expects TLS from the first byte: set tls = \"implicit\"";
  return {};
}

namespace {

std::string date_of(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string names_of(const net::TlsPeerInfo& info) {
  std::string out;
  std::size_t shown = 0;
  for (const auto& n : info.names) {
    if (shown++ == 6) {
      out += ", … (" + std::to_string(info.names.size()) + " names)";
      break;
    }
    out += (out.empty() ? "" : ", ") + n;
  }
  return out.empty() ? info.subject : out;
}

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kExpiryWarningDays = 14;

}  // namespace

CertificateAssessment assess_certificate(const net::TlsPeerInfo& info, const std::string& host, bool verify,
                                         std::int64_t now) {
  CertificateAssessment a;
  if (!info.session.empty()) a.details.push_back(info.session);
  if (!info.have_certificate) {
    a.verdict = Verdict::failed;
    a.problem = "the server sent no certificate";
    return a;
  }
  a.details.push_back("certificate for " + names_of(info));
  a.details.push_back("issued by " + info.issuer);
  std::int64_t days_left = (info.not_after - now) / kDay;
  a.details.push_back("valid until " + date_of(info.not_after) +
                      (info.not_after > now ? " (" + std::to_string(days_left) + " days left)" : " (expired)"));
  a.details.push_back(info.name_matches ? "host name " + host + " matches" : "host name " + host + " does NOT match");
  if (info.chain_trusted) a.details.push_back("signed by a trusted authority");

  const Verdict bad = verify ? Verdict::failed : Verdict::warning;
  const std::string off = verify ? "" : " (tls_verify = false: postbridge connects anyway, but anyone on the path "
                                         "could pose as the server and read the password)";
  if (!info.name_matches) {
    a.verdict = bad;
    a.problem = "the certificate is for " + names_of(info) + ", not " + host + off;
    a.advice = "use the host name the certificate is for, if it belongs to your provider (providers often have "
               "several names for one server); otherwise this is not the server you meant";
  } else if (!info.chain_trusted) {
    a.verdict = bad;
    a.problem = "the certificate is not trusted: " + info.chain_problem + off;
    a.advice = info.not_after <= now ? "the certificate has expired: the server's operator must renew it"
                                     : "a self-signed or private CA: set ca_file to the issuing CA's certificate "
                                       "(PEM) instead of turning tls_verify off";
  } else if (!verify) {
    a.verdict = Verdict::warning;
    a.problem = "the certificate is valid: set tls_verify = true (the default) again";
  } else if (days_left < kExpiryWarningDays) {
    a.verdict = Verdict::warning;
    a.problem = "the certificate expires in " + std::to_string(days_left) +
                " days: connections will fail after " + date_of(info.not_after) + " unless it is renewed";
  }
  return a;
}

namespace {

// OpenSSL's names ("TLSv1", "TLSv1.1") as people say them ("TLS 1.0", "TLS 1.1").
std::string version_words(const std::string& v) {
  if (v == "TLSv1") return "TLS 1.0";
  if (v.starts_with("TLSv")) return "TLS " + v.substr(4);
  if (v == "SSLv3") return "SSL 3.0";
  return v;
}

bool older_than_1_2(const std::string& version) {
  return version == "TLSv1" || version == "TLSv1.1" || version == "SSLv3";
}

std::string old_version_advice(const std::string& host) {
  return "ask whoever runs " + host + " to switch on TLS 1.2 or 1.3: TLS 1.0 and 1.1 are retired (RFC 8996) "
         "and postbridge has no setting to allow them. A server of your own (or stunnel in front of one) "
         "needs a current OpenSSL or its minimum TLS version raised. Until then another host name or port "
         "of the same provider may offer current TLS: `postbridge test --ports` tries the usual ports";
}

}  // namespace

HandshakeAssessment assess_handshake(net::TlsFailure f, const std::string& seen, const std::string& host) {
  const auto space = seen.find(' ');
  const std::string version = seen.substr(0, space);
  const std::string cipher = space == std::string::npos ? std::string() : seen.substr(space + 1);
  if (older_than_1_2(version))
    return {"the server speaks only " + version_words(version) + " (postbridge requires 1.2 or later)",
            old_version_advice(host)};
  if (f == net::TlsFailure::old_version)
    return {"the server speaks only a TLS version older than 1.2 (postbridge requires 1.2 or later)",
            old_version_advice(host)};
  if (f != net::TlsFailure::no_shared_cipher) return {};
  std::string problem = "the server found no cipher it shares with postbridge";
  if (!cipher.empty())
    problem += ": it offers only outdated ones (" + version_words(version) + " " + cipher +
               " when every cipher was allowed)";
  return {problem, "ask whoever runs " + host + " to update its TLS settings to current ciphers (TLS 1.2 or 1.3); "
                   "postbridge has no setting to allow outdated ones"};
}

std::string uidl_detail(UidlSupport u) {
  switch (u) {
    case UidlSupport::announced: return "UIDL: yes";
    case UidlSupport::answered: return "UIDL: yes (not announced, but the server answers it, and the fetcher uses it)";
    case UidlSupport::refused: return "UIDL: no (the server refuses it): every message is deleted once it is delivered";
    case UidlSupport::unknown: break;
  }
  return "UIDL: not announced (tried after the login)";
}

std::string login_advice(Protocol p, const std::string& host) {
  std::string what = to_string(p);
  return "check the user name (most providers want the full e-mail address) and the password; was it changed "
         "in the provider's web interface? Some providers need " + what + " access switched on first (GMX, "
         "web.de: settings, POP3/IMAP) or an app password instead of the account password (Gmail, Microsoft "
         "365, any account with two-step login). Many failed logins can lock the account for a while at " + host;
}

std::string size_limit_detail(std::optional<std::uint64_t> size) {
  if (!size) return "no SIZE announced: the size limit shows only when a message is refused";
  if (*size == 0) return "SIZE announced without a limit";
  return "the server accepts at most " + format_size(ByteSize{*size}) + " per message";
}

std::string port_recommendation(const std::vector<PortResult>& results, std::uint16_t configured_port,
                                config::TlsMode configured_tls) {
  const PortResult* best = nullptr;
  for (const auto& r : results) {
    if (r.verdict == Verdict::ok) {
      best = &r;
      break;
    }
  }
  const char* mode = configured_tls == config::TlsMode::implicit ? "implicit"
                     : configured_tls == config::TlsMode::starttls ? "starttls" : "none";
  if (!best) {
    const bool usual = configured_port == 465 || configured_port == 587 || configured_port == 25 ||
                       configured_port == 995 || configured_port == 110;
    return std::string("none of the usual ports works from here") +
           (usual ? "" : ", nor the configured port " + std::to_string(configured_port)) +
           ": check the host name and the firewall";
  }
  for (const auto& r : results)
    if (r.verdict == Verdict::ok && r.port == configured_port && r.tls == mode)
      return "the configured port " + std::to_string(configured_port) + " (tls = \"" + mode + "\") works";
  return "configure port = " + std::to_string(best->port) + " and tls = \"" + best->tls + "\"";
}

}  // namespace pb::doctor
