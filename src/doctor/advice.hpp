// The doctor's plain words: what a failure at each step most likely means and what the admin
// can change. Pure functions of what was observed, so each wording is unit-tested.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "doctor/report.hpp"
#include "net/transport.hpp"

namespace pb::doctor {

enum class Protocol { pop3, imap, smtp, lmtp };
const char* to_string(Protocol p);  // "POP3", "IMAP", "SMTP", "LMTP"

enum class ConnectFailure { timeout, refused, unreachable, other };

std::string dns_problem(const std::string& host, const std::string& error);
std::string dns_advice(const std::string& host);
std::string tcp_problem(const std::string& peer, ConnectFailure f, std::chrono::milliseconds timeout,
                        const std::string& error);
std::string tcp_advice(std::uint16_t port, Protocol p, ConnectFailure f);
// When the handshake or the greeting fails: does the port speak the other TLS mode? Judged from
// the error (a plain-text answer to a TLS hello; silence where a greeting was due), then from the
// port number. Empty when neither says anything.
std::string tls_mode_advice(std::uint16_t port, config::TlsMode configured, Protocol p, const std::string& error);

// The certificate step: details to show, a verdict and, when not ok, the problem and the fix.
struct CertificateAssessment {
  Verdict verdict = Verdict::ok;
  std::vector<std::string> details;
  std::string problem;
  std::string advice;
};
// `verify`: whether the config checks certificates (tls_verify); without it a bad certificate is
// a warning, not a failure. `now`: Unix seconds.
CertificateAssessment assess_certificate(const net::TlsPeerInfo& info, const std::string& host, bool verify,
                                         std::int64_t now);

// A handshake refused before any certificate was seen: what the server speaks, and what can be
// done. `seen`: what the doctor's diagnostic handshake (every version and cipher allowed) got,
// "TLSv1 ECDHE-RSA-AES256-SHA"; empty when it failed too. An empty problem: the error says it all.
struct HandshakeAssessment {
  std::string problem;
  std::string advice;
};
HandshakeAssessment assess_handshake(net::TlsFailure f, const std::string& seen, const std::string& host);

std::string login_advice(Protocol p, const std::string& host);
// "the server accepts at most 20 MB per message"
std::string size_limit_detail(std::optional<std::uint64_t> size);

// --ports: which port and TLS mode to configure, from the results in order of preference (the
// configured port first when it is not one of the usual ones).
std::string port_recommendation(const std::vector<PortResult>& results, std::uint16_t configured_port,
                                config::TlsMode configured_tls);

// What the doctor reports about UIDL: from CAPA when the server has it (RFC 2449), otherwise from
// trying the command after the login, as the fetcher does (RFC 1939 7: UIDL is optional, CAPA too).
enum class UidlSupport { announced, answered, refused, unknown };
std::string uidl_detail(UidlSupport u);

}  // namespace pb::doctor
