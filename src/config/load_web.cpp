// [web]: the status page. Never open to the network without a login over HTTPS.
#include "config/loaders.hpp"

namespace pb::config::detail {

namespace stdfs = std::filesystem;

namespace {

void load_web_listen(const Section& sec, Web& out) {
  const std::string* v = sec.string("listen");
  if (!v) return;
  if (v->empty()) {  // "" switches the status page off
    out.listen.reset();
    return;
  }
  auto ep = inet::parse_endpoint(*v);
  if (!ep) {
    sec.problem("listen", in_quotes(*v) +
                              " is not an address with a port; use \"127.0.0.1:8025\", "
                              "\"[::1]:8025\", \"192.168.1.5:8443\", or \"\" for no status page");
    out.listen.reset();
    return;
  }
  out.listen = *ep;
}

// The page shows mail subjects, addresses and queue actions: another machine may reach it only
// with a login, and the password of that login only over HTTPS (RFC 7617 4: Basic is clear text).
void check_web_access(const Section& sec, const Web& w) {
  if (!w.listen || inet::is_loopback_literal(w.listen->host)) return;
  const std::string where = in_quotes(w.listen->str());
  if (w.users.empty() && !w.tls()) {
    sec.problem("listen", where +
                              " is not a loopback address and there is neither a login nor HTTPS: "
                              "the status page would be open to the network; add [[web.user]] "
                              "logins and set tls_cert_file and tls_key_file, or listen on "
                              "\"127.0.0.1:8025\"");
  } else if (w.users.empty()) {
    sec.problem("listen", where +
                              " is not a loopback address and no [[web.user]] login is defined: "
                              "the status page would be open to the network; add [[web.user]] "
                              "logins (password_hash from `postbridge hash-password`)");
  } else if (!w.tls()) {
    sec.problem("listen", where +
                              " is not a loopback address and HTTPS is not set up: the status page "
                              "would be open to the network, its passwords readable by anyone "
                              "on the way; set tls_cert_file and tls_key_file");
  }
}

// hostnames: "gw.firma.local" or "gw.firma.local:8443", as the browser's address bar shows the
// name (an IP address works too, e.g. the outside address of a port forwarding). Only names:
// no scheme, path or wildcard, so an entry means exactly one name.
std::string hostname_problem(const std::string& v) {
  const std::string example = "; write the name as in the browser's address bar without http://, e.g. "
                              "\"gw.firma.local\" or \"gw.firma.local:8443\"";
  if (v.empty()) return "is empty" + example;
  if (v.find("://") != std::string::npos) return in_quotes(v) + " has a scheme" + example;
  if (v.find('/') != std::string::npos) return in_quotes(v) + " has a path" + example;
  if (v.find('*') != std::string::npos)
    return in_quotes(v) + " is a wildcard; list each name the page is opened under, e.g. \"gw.firma.local\"";
  return in_quotes(v) + " is not a host name or address with an optional port" + example;
}

void load_web_hostnames(const Section& sec, Web& out) {
  for_each_string(sec, "hostnames", "[\"gw.firma.local\"]",
                  [&](const toml::node& n, const std::string& key, const std::string& v) {
                    auto hp = inet::parse_host_port(v);
                    if (!hp) {
                      sec.problem_at(n, key, hostname_problem(v));
                    } else if (std::find(out.hostnames.begin(), out.hostnames.end(), *hp) != out.hostnames.end()) {
                      sec.problem_at(n, key, in_quotes(v) + " is listed twice");
                    } else {
                      out.hostnames.push_back(std::move(*hp));
                    }
                  });
}

}  // namespace

void load_web(const Section& sec, const stdfs::path& base, Web& out, Problems& probs) {
  load_web_listen(sec, out);
  load_web_hostnames(sec, out);
  load_tls_key_pair(sec, base, {.protocol = "HTTPS", .file_stem = "web"}, out.tls_cert_file, out.tls_key_file);
  load_logins(sec,
              {.section = "web", .who = "status page logins", .example = "admin", .senders = false},
              probs, out.users);
  check_web_access(sec, out);
}

}  // namespace pb::config::detail
