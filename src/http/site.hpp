// Which names the status page answers to: the defence against DNS rebinding, where a page of
// rebind.attacker.example, its name now pointing at this machine, reaches the socket as "same
// origin" with its own name in Host and Origin. Promise: pure, built once per start; only the
// names below pass, compared case-insensitively, without a trailing dot, IPv6 without brackets.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace pb::http {

// Host header (serves_host):
//   - any address literal, with any port: rebinding needs a DNS name whose answer changes, and
//     a browser sends an address in Host only for a page it loaded from that address, which is
//     then this server or a forwarding the admin set up (a wildcard listen address, a NAT);
//   - localhost, 127.0.0.1, [::1] and the listen address, each with the bound port;
//   - each [web] hostnames entry: with a port that port; without one the bound port and the
//     default ports 80 and 443 (a reverse proxy in front, whose scheme we cannot see).
//   A Host without a port means a default port (RFC 9110 4.2.1/4.2.2: clients omit 80 and 443).
// Origin (is_own_origin, the CSRF rule): the same names, with the port the page had (explicit or
// its scheme's default). Built-in names and address literals must also use this server's scheme;
// an address literal counts only with the bound port, and only the listen address unless the
// page listens on a wildcard address (then any of the machine's addresses is its own). A
// hostnames entry takes http and https: a proxy may end TLS before this server.
class Site {
 public:
  // `port`: the port actually bound (with listen port 0, as in tests, differs from cfg.listen).
  Site(const config::Web& cfg, std::uint16_t port);

  bool serves_host(std::string_view host) const;
  // `origin` as sent by the browser: "scheme://host[:port]" (RFC 6454 6.1); "null" is none of ours.
  bool is_own_origin(std::string_view origin) const;

 private:
  struct Name {
    std::string host;                 // as inet::parse_host_port writes it
    std::vector<std::uint16_t> ports;
    bool any_scheme = false;          // a hostnames entry
  };
  bool listed(const std::string& host, std::uint16_t port, bool own_scheme) const;

  std::vector<Name> names_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
  bool wildcard_ = false;  // listening on 0.0.0.0 or [::]
};

}  // namespace pb::http
