// --ports: the usual ports of the protocol (465/587/25, 995/110, 993/143) tried without a login, and which
// one to configure.
#include "doctor/session.hpp"

#include <algorithm>

namespace pb::doctor {
namespace asio = boost::asio;

namespace {

asio::awaitable<PortResult> try_port(const Target& t, std::uint16_t port, config::TlsMode mode) {
  PortResult res{port, config::to_string(mode), Verdict::failed, {}};
  net::TlsClientOptions tls{t.verify, t.ca_file, t.host};
  try {
    auto tr = co_await net::connect(t.host, port, mode == config::TlsMode::implicit, tls, t.timeout);
    Unauthenticated u = co_await open_without_login(t, *tr, mode);
    res.verdict = Verdict::ok;
    res.detail = u.session.empty() ? std::string("no TLS") : u.session;
    const bool mailbox = t.protocol == Protocol::pop3 || t.protocol == Protocol::imap;
    if (!mailbox && u.logins.empty()) {
      res.verdict = Verdict::warning;
      res.detail += ", but no login offered (not a submission port: mail for others is refused there)";
    } else if (!mailbox) {
      res.detail += ", login: " + join(u.logins);
    }
  } catch (const net::NetFailure& e) {
    res.detail = e.kind() == net::NetError::timeout ? std::string("no answer (blocked by a firewall?)") : e.what();
  } catch (const std::exception& e) {
    res.detail = e.what();
  }
  co_return res;
}

}  // namespace

asio::awaitable<void> scan_ports(const Target& t, Report& r) {
  std::vector<std::pair<std::uint16_t, config::TlsMode>> candidates;
  if (t.protocol == Protocol::pop3) candidates = {{995, config::TlsMode::implicit}, {110, config::TlsMode::starttls}};
  else if (t.protocol == Protocol::imap) candidates = {{993, config::TlsMode::implicit}, {143, config::TlsMode::starttls}};
  else candidates = {{465, config::TlsMode::implicit}, {587, config::TlsMode::starttls}, {25, config::TlsMode::starttls}};
  // A port of the provider's own choosing is tried first: when it works, it stays configured.
  const bool usual = std::any_of(candidates.begin(), candidates.end(), [&](const auto& c) { return c.first == t.port; });
  if (!usual) candidates.insert(candidates.begin(), {t.port, t.tls});
  for (const auto& [port, mode] : candidates) r.ports.push_back(co_await try_port(t, port, mode));
  r.port_advice = port_recommendation(r.ports, t.port, t.tls);
  if (!r.port_advice.starts_with("the configured port")) r.advise(r.port_advice);
}

}  // namespace pb::doctor
