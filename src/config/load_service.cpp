// [service] and [local]: who postbridge is and where it delivers fetched mail.
#include "config/loaders.hpp"
#include "mail/address.hpp"

namespace pb::config::detail {

namespace stdfs = std::filesystem;

namespace {

std::string machine_hostname() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "localhost";
  return std::string(buf.data());
}

// hostname (default: this machine's) and postmaster (default: postmaster@hostname).
void load_identity(const Section& sec, Service& out) {
  if (!sec.node("hostname")) {
    out.hostname = machine_hostname();
    if (!valid_hostname(out.hostname)) {
      sec.missing("hostname", "this machine's name " + in_quotes(out.hostname) +
                                  " is not usable in mail; set hostname = \"gw.firma.local\"");
    }
  } else if (sec.get("hostname", out.hostname) && !valid_hostname(out.hostname)) {
    sec.problem("hostname", in_quotes(out.hostname) +
                                " is not a valid host name; use a name "
                                "like \"gw.firma.local\" (letters, digits, '-', '.')");
  }
  if (!sec.get("postmaster", out.postmaster)) {
    out.postmaster = "postmaster@" + out.hostname;
  } else if (!mail::Address::parse(out.postmaster)) {
    sec.problem("postmaster", in_quotes(out.postmaster) +
                                  " is not a valid mail address; use a "
                                  "plain address like \"admin@firma.local\"");
  }
}

// The office server login: username and password together, and never in clear text unless
// the admin says so.
void check_local_login(const Section& sec, const Local& l, bool has_password) {
  if (l.username.empty() && has_password) {
    sec.problem("username",
                "missing; a password is set, so postbridge would log in to the "
                "office server: set username too, or remove the password");
  } else if (!l.username.empty() && !has_password) {
    sec.problem("username",
                "is set but no password is; add password_file = \"/etc/postbridge/"
                "local.secret\" (or password_env / password), or remove username");
  }
  if (!l.username.empty() && has_password && l.tls == TlsMode::none && !l.allow_plaintext) {
    sec.problem(sec.node("tls") ? "tls" : "username",
                std::string("logging in without TLS: ") + kCleartextWarning +
                    "; use tls = \"starttls\" or \"implicit\", or set allow_plaintext = true "
                    "if the office server is on this machine or a trusted network");
  }
}

}  // namespace

void load_service(const Section& sec, const stdfs::path& base, Service& out) {
  std::string state_dir = "/var/lib/postbridge";
  if (sec.get("state_dir", state_dir) && state_dir.empty()) {
    sec.problem("state_dir", "is empty; give a folder such as \"/var/lib/postbridge\"");
  }
  out.state_dir = resolve(base, state_dir);

  load_identity(sec, out);
  sec.get_int("max_parallel_polls", out.max_parallel_polls, 1, 64);
  sec.get_size("min_free_space", out.min_free_space);
  std::string_view level;
  if (sec.get_enum("log_level", level, kLogLevels)) out.log_level = std::string(level);
}

void load_local(const Section& sec, const stdfs::path& base, Local& out) {
  if (sec.get("host", out.host) && !valid_host(out.host)) {
    sec.problem("host", in_quotes(out.host) + " is not a host name or IP address");
  }
  sec.get_port("port", out.port);
  sec.get_enum("protocol", out.protocol, kProtocolChoices);
  sec.get_enum("tls", out.tls, kTlsChoices);
  sec.get("tls_verify", out.tls_verify);
  read_ca_file(sec, base, out.ca_file);
  sec.get("username", out.username);
  bool has_password = read_secret(sec, base, "password", out.password);
  sec.get("allow_plaintext", out.allow_plaintext);
  sec.get_int("max_connections", out.max_connections, 1, 16);
  sec.get_duration("timeout", out.timeout, kMinTimeout);

  check_local_login(sec, out, has_password);
}

}  // namespace pb::config::detail
