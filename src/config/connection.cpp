// Where an [[account]] or [[smarthost]] connects: host, port and tls, written or filled in by
// its provider preset.
#include "config/loaders.hpp"
#include "config/presets.hpp"

namespace pb::config::detail {

// RFC 8314 3.3: POP3 over implicit TLS is port 995; plain/STARTTLS POP3 is 110 (RFC 1939 3).
std::uint16_t pop3_port(TlsMode tls) { return tls == TlsMode::implicit ? 995 : 110; }

// RFC 8314 3.3: IMAP over implicit TLS is port 993; plain/STARTTLS IMAP is 143 (RFC 9051 2.1).
std::uint16_t imap_port(TlsMode tls) { return tls == TlsMode::implicit ? 993 : 143; }

// RFC 8314 3.3: submission over implicit TLS is 465; RFC 6409 3.1: submission (STARTTLS) 587;
// RFC 5321 4.5.4.2: plain SMTP 25.
std::uint16_t submission_port(TlsMode tls) {
  return tls == TlsMode::implicit ? 465 : tls == TlsMode::starttls ? 587 : 25;
}

// `provider`: the preset, or nullptr (absent or unknown, which is reported).
const ProviderPreset* load_provider(const Section& sec, PresetUse& use) {
  std::string_view name;
  if (!sec.get_name("provider", provider_names(), name)) return nullptr;
  use.provider = std::string(name);
  return find_provider(name);
}

namespace {

// "tls = \"implicit\" (port 465) or tls = \"starttls\" (port 587)": what a preset documents.
std::string documented_modes(const ServerPreset& server) {
  std::string out;
  for (TlsMode m : {TlsMode::implicit, TlsMode::starttls}) {
    if (auto p = server.port_for(m))
      out += std::string(out.empty() ? "" : " or ") + "tls = \"" + to_string(m) + "\" (port " +
             std::to_string(*p) + ")";
  }
  return out;
}

// The port when the table has none: the preset's port for the resolved tls, else the standard
// port of that mode. A tls the provider documents no port for, with no port given, is an error
// rather than a guess at a port the provider may not serve.
std::uint16_t default_port(const Section& sec, const ProviderPreset* preset, const ServerPreset* server,
                           std::string_view what, std::uint16_t (*standard_port)(TlsMode),
                           TlsMode tls, PresetUse& use) {
  if (!server) return standard_port(tls);
  if (auto p = server->port_for(tls)) {
    use.keys.emplace_back("port");
    return *p;
  }
  sec.problem("tls", std::string("provider \"") + std::string(preset->name) + "\": " +
                         std::string(preset->label) + " documents its " + std::string(what) +
                         " only with " + documented_modes(*server) +
                         "; remove tls to use that, or give the port too");
  return standard_port(tls);
}

}  // namespace

// host, tls and port, from the table's keys and, for those it leaves out, the provider preset.
// Rules (documented in config/postbridge.toml): a key written in the table always wins; without
// tls, a written port the provider documents picks its mode (port = 587 means STARTTLS), else
// the preset's mode; without port, the port the provider documents for the resolved tls.
template <class Server>
void load_server(const Section& sec, const ProviderPreset* preset, const ServerPreset* server,
                 std::string_view what, std::uint16_t (*standard_port)(TlsMode), Server& out) {
  PresetUse& use = out.preset;
  if (server && !sec.node("host")) {
    out.host = std::string(server->host);
    use.keys.emplace_back("host");
  } else if (server || !sec.node("provider") || sec.node("host")) {  // unknown provider: said once
    if (sec.required("host", out.host,
                     "give the provider's " + std::string(what) + ", e.g. host = \"" +
                         std::string(what == "POP3 server" ? "pop3" : what == "IMAP server" ? "imap" : "smtp") +
                         ".example.net\", or a provider = \"...\" preset") &&
        !valid_host(out.host))
      sec.problem("host", in_quotes(out.host) + " is not a host name or IP address");
  }
  bool tls_ok = sec.get_enum("tls", out.tls, kTlsChoices);
  std::uint16_t port = 0;
  bool port_ok = sec.get_port("port", port);
  if (server && !sec.node("tls")) {
    auto by_port = port_ok ? server->tls_for_port(port) : std::nullopt;
    out.tls = by_port.value_or(server->tls);
    use.keys.emplace_back("tls");
  }
  if (port_ok)
    out.port = port;
  else if (sec.node("port") || (sec.node("tls") && !tls_ok))  // reported already
    out.port = standard_port(out.tls);
  else
    out.port = default_port(sec, preset, server, what, standard_port, out.tls, use);
}

template void load_server(const Section&, const ProviderPreset*, const ServerPreset*, std::string_view,
                          std::uint16_t (*)(TlsMode), Account&);
template void load_server(const Section&, const ProviderPreset*, const ServerPreset*, std::string_view,
                          std::uint16_t (*)(TlsMode), Smarthost&);

}  // namespace pb::config::detail
