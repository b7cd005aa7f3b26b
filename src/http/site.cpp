// The status page's own names (site.hpp has the rules and why): a list of names with their ports,
// and the two questions asked of it, one per request (Host) and one per POST (Origin).
#include "http/site.hpp"

#include <algorithm>

#include "util/inet.hpp"
#include "util/text.hpp"

namespace pb::http {

namespace {

constexpr std::uint16_t kHttpPort = 80, kHttpsPort = 443;  // RFC 9110 4.2.1, 4.2.2

std::string canonical_host(const std::string& host) {
  auto hp = inet::parse_host_port(host.find(':') != std::string::npos ? "[" + host + "]" : host);
  return hp ? hp->host : text::to_lower(host);
}

}  // namespace

Site::Site(const config::Web& cfg, std::uint16_t port) : port_(port), tls_(cfg.tls()) {
  for (const char* own : {"localhost", "127.0.0.1", "::1"}) names_.push_back({own, {port}, false});
  if (cfg.listen) {
    const std::string host = canonical_host(cfg.listen->host);
    wildcard_ = host == "0.0.0.0" || host == "::";
    if (!wildcard_) names_.push_back({host, {port}, false});
  }
  for (const auto& h : cfg.hostnames) {
    if (h.port)
      names_.push_back({h.host, {*h.port}, true});
    else
      names_.push_back({h.host, {port, kHttpPort, kHttpsPort}, true});
  }
}

bool Site::listed(const std::string& host, std::uint16_t port, bool own_scheme) const {
  return std::any_of(names_.begin(), names_.end(), [&](const Name& n) {
    return n.host == host && (own_scheme || n.any_scheme) &&
           std::find(n.ports.begin(), n.ports.end(), port) != n.ports.end();
  });
}

bool Site::serves_host(std::string_view host) const {
  auto hp = inet::parse_host_port(host);
  if (!hp) return false;
  if (hp->ip) return true;
  if (hp->port) return listed(hp->host, *hp->port, true);
  return listed(hp->host, kHttpPort, true) || listed(hp->host, kHttpsPort, true);
}

bool Site::is_own_origin(std::string_view origin) const {
  const auto sep = origin.find("://");
  if (sep == std::string_view::npos) return false;  // "null" and anything malformed
  const std::string scheme = text::to_lower(origin.substr(0, sep));
  if (scheme != "http" && scheme != "https") return false;
  auto hp = inet::parse_host_port(origin.substr(sep + 3));
  if (!hp) return false;
  const bool own_scheme = scheme == (tls_ ? "https" : "http");
  const std::uint16_t port = hp->port.value_or(scheme == "https" ? kHttpsPort : kHttpPort);
  if (listed(hp->host, port, own_scheme)) return true;
  return hp->ip && wildcard_ && own_scheme && port == port_;
}

}  // namespace pb::http
