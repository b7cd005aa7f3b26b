// TOML -> typed Config. One pass collects every problem (sorted by position in the file) before
// anything is thrown, so an admin fixes the whole file at once; secrets never enter a message.
#include "config/config.hpp"

#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <tuple>

#include "config/presets.hpp"
#include "config/section.hpp"
#include "mail/address.hpp"
#include "util/inet.hpp"
#include "util/password.hpp"
#include "util/text.hpp"

namespace pb::config {
namespace {

namespace stdfs = std::filesystem;
using namespace detail;


stdfs::path resolve(const stdfs::path& base, const std::string& p) {
  return (base / p).lexically_normal();  // an absolute p replaces base
}

std::string errno_text(int err) { return std::strerror(err); }

// Host for TCP connections: a DNS name or an IP address (IPv6 without brackets); getaddrinfo
// does no IDN conversion, so only ASCII is useful here.
bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '.' || c == '-' || c == ':' || c == '_';
  });
}

// RFC 5321 4.1.1.1: the EHLO name is a Domain or address literal; ASCII so that it works
// without SMTPUTF8.
bool valid_hostname(std::string_view h) {
  auto a = mail::Address::parse("postmaster@" + std::string(h));
  return a && a->is_ascii();
}

bool valid_account_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::string machine_hostname() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "localhost";
  return std::string(buf.data());
}


constexpr std::array<Choice<TlsMode>, 3> kTlsChoices{
    {{"none", TlsMode::none}, {"starttls", TlsMode::starttls}, {"implicit", TlsMode::implicit}}};
constexpr std::array<Choice<LocalProtocol>, 2> kProtocolChoices{
    {{"smtp", LocalProtocol::smtp}, {"lmtp", LocalProtocol::lmtp}}};
constexpr std::array<Choice<BareLineFeeds>, 2> kBareLineFeedChoices{
    {{"normalize", BareLineFeeds::normalize}, {"reject", BareLineFeeds::reject}}};
constexpr std::array<Choice<Pop3Auth>, 6> kAuthChoices{{{"auto", Pop3Auth::automatic},
                                                        {"plain", Pop3Auth::sasl_plain},
                                                        {"apop", Pop3Auth::apop},
                                                        {"user", Pop3Auth::user_pass},
                                                        {"xoauth2", Pop3Auth::xoauth2},
                                                        {"oauthbearer", Pop3Auth::oauthbearer}}};
constexpr std::array<Choice<SmarthostAuth>, 8> kSmarthostAuthChoices{
    {{"auto", SmarthostAuth::automatic},
     {"plain", SmarthostAuth::plain},
     {"login", SmarthostAuth::login},
     {"cram-md5", SmarthostAuth::cram_md5},
     {"pop-before-smtp", SmarthostAuth::pop_before_smtp},
     {"none", SmarthostAuth::none},
     {"xoauth2", SmarthostAuth::xoauth2},
     {"oauthbearer", SmarthostAuth::oauthbearer}}};
constexpr std::array<Choice<std::string_view>, 5> kLogLevels{{{"error", "error"},
                                                              {"warning", "warning"},
                                                              {"notice", "notice"},
                                                              {"info", "info"},
                                                              {"debug", "debug"}}};


// ---------------------------------------------------------------------------------------------
// Secrets and files

// A file a key names: a path (relative to the config folder) or "credential:NAME", a systemd
// credential (systemd.exec(5) "Credentials"): LoadCredential=NAME:PATH in the unit puts a copy of
// PATH at $CREDENTIALS_DIRECTORY/NAME, on a private file system only the service can read.
struct FileRef {
  stdfs::path path;
  std::string credential;  // NAME, or empty for a plain path
  bool is_credential() const { return !credential.empty(); }
};

constexpr std::string_view kCredentialPrefix = "credential:";

// systemd's rule for credential names (a valid file name); control characters are refused too,
// since a unit file could not name them either.
bool valid_credential_name(std::string_view n) {
  if (n.empty() || n.size() > 255 || n == "." || n == "..") return false;
  return std::none_of(n.begin(), n.end(), [](char c) {
    return c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
}

// "credential:NAME" -> $CREDENTIALS_DIRECTORY/NAME, or a problem saying which unit line is missing.
// The LoadCredential= hint points at /etc/postbridge/NAME plus `suffix` (".secret" for passwords).
std::optional<FileRef> credential_file(const Section& sec, std::string_view key, std::string_view name,
                                       std::string_view suffix) {
  if (!valid_credential_name(name)) {
    sec.problem(key, in_quotes(name) +
                         " is not a credential name; write \"credential:NAME\" with the NAME of a "
                         "LoadCredential=NAME:PATH line of the unit (a file name: not \".\" or "
                         "\"..\", no '/', no control characters)");
    return std::nullopt;
  }
  const std::string n(name);
  const std::string unit_line = "add LoadCredential=" + n + ":/etc/postbridge/" + n +
                                std::string(suffix) +
                                " to the [Service] section of postbridge.service (systemctl edit "
                                "postbridge) and restart it";
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (!dir || !*dir) {
    sec.problem(key, "credential " + n +
                         " needs systemd's LoadCredential, but CREDENTIALS_DIRECTORY is not set "
                         "(postbridge was not started by a unit with credentials); " + unit_line +
                         ", or give the path of a file instead");
    return std::nullopt;
  }
  stdfs::path p = stdfs::path(dir) / n;
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    sec.problem(key, "credential " + n + " is not in " + dir + " (" + errno_text(errno) + "); " +
                         unit_line);
    return std::nullopt;
  }
  return FileRef{p, n};
}

// The file `value` of `key` names; `suffix` as for credential_file.
std::optional<FileRef> file_ref(const Section& sec, const stdfs::path& base, std::string_view key,
                                const std::string& value, std::string_view suffix) {
  if (!value.starts_with(kCredentialPrefix)) return FileRef{resolve(base, value), {}};
  return credential_file(sec, key, std::string_view(value).substr(kCredentialPrefix.size()), suffix);
}

// The password of a password file: its first line, exactly (spaces included), without the line
// break (LF or CRLF). Later lines must be blank: a second line is a mistake (a note, a pasted
// user name, an old password), and using the whole file would send it as part of the password,
// to fail at the provider's login without saying why. No protocol can send a password with a
// line break anyway (POP3 PASS and SMTP AUTH are one line each). `problem` never quotes the file.
struct FilePassword {
  std::string value;
  std::string problem;  // follows the file name in the message; empty if value is the password
  bool ok() const { return problem.empty(); }
};

FilePassword first_line_password(std::string_view text) {
  FilePassword out;
  std::size_t end = text.find('\n');
  std::string_view first = text.substr(0, end);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  int line = 1, filled = 0;  // filled: the first later line that is not blank
  for (std::size_t at = end; at != std::string_view::npos && filled == 0;) {
    ++line;
    std::size_t next = text.find('\n', at + 1);
    std::string_view rest =
        text.substr(at + 1, next == std::string_view::npos ? next : next - at - 1);
    if (!std::all_of(rest.begin(), rest.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; }))
      filled = line;
    at = next;
  }
  if (first.empty() && filled == 0) {
    out.problem = " is empty; put the password on its first line";
  } else if (first.empty()) {
    out.problem = " has an empty first line (line " + std::to_string(filled) +
                  " is not empty); put the password on the first line, and nothing else in the "
                  "file";
  } else if (filled != 0) {
    out.problem = " has more than one line (line " + std::to_string(filled) +
                  " is not empty); postbridge reads the password from the first line only, so "
                  "put nothing else in the file";
  } else {
    out.value = std::string(first);
  }
  return out;
}

// Mode bits as "0644" for messages.
std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// How every "this file must be protected" problem begins (password files, keys, the config).
std::string open_file_words(const std::string& shown, mode_t mode) {
  return shown + " is accessible by other users (mode " + mode_text(mode) + ")";
}

// Reads a password file, refusing files other users can read or change. A credential is not
// checked for its mode: systemd creates it (read-only, for the service only) at every start, so
// a chmod would not last; the admin protects the file LoadCredential= reads instead.
void read_secret_file(const Section& sec, std::string_view key, const FileRef& file, Secret& out) {
  std::string shown = file.path.string();
  struct stat st {};
  if (::stat(file.path.c_str(), &st) != 0) {
    sec.problem(key, "cannot use " + shown + ": " + errno_text(errno));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    sec.problem(key, shown + " is not a regular file");
    return;
  }
  if (!file.is_credential() && (st.st_mode & 077) != 0) {
    sec.problem(key, open_file_words(shown, st.st_mode) + "; restrict it with: chmod 600 " + shown);
    return;
  }
  std::ifstream in(file.path, std::ios::binary);
  if (!in) {
    sec.problem(key, "cannot read " + shown + ": " + errno_text(errno) +
                                     " (the file must belong to the user running postbridge)");
    return;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto password = first_line_password(ss.str());
  if (!password.ok()) {
    sec.problem(key, shown + password.problem);
    return;
  }
  out.value = std::move(password.value);
  out.source = file.is_credential() ? "credential " + file.credential : "file " + shown;
}

// Several sources for one secret: report each later one, naming the first, so the message
// points at the line to delete. `key` is the secret's base key ("password", "client_secret").
void report_extra_secrets(const Section& sec, std::string_view key, std::vector<std::string_view> present) {
  std::sort(present.begin(), present.end(), [&](auto a, auto b) {
    return sec.node(a)->source().begin < sec.node(b)->source().begin;
  });
  const std::string k(key);
  const std::string what = key == "password" ? "the password" : "the " + k;
  std::string first_line = std::to_string(sec.node(present[0])->source().begin.line);
  for (std::size_t i = 1; i < present.size(); ++i) {
    sec.problem(present[i], what + " is already given by '" + std::string(present[0]) + "' (line " + first_line +
                                "); use only one of " + k + ", " + k + "_file, " + k + "_env");
  }
}

// A secret written into the config file is as private as the file: like a password file, it is
// refused when others can read the file. The group may read it: the package installs the file
// 0640 root:postbridge, which is how the service reads it. `key`: "password", "client_secret".
void check_inline_secret(const Section& sec, std::string_view key) {
  const auto mode = static_cast<mode_t>(sec.problems().file_mode());
  if ((mode & 007) == 0) return;
  const std::string& shown = sec.problems().file();
  const std::string what = key == "password" ? "password" : "client secret";
  sec.problem(key, open_file_words(shown, mode) + " and holds this " + what + "; restrict it with: chmod 640 " + shown +
                       " (its group may still read it: postbridge, for the service), or move the " + what +
                       " to a file of its own (chmod 600) named by " + std::string(key) + "_file");
}

void read_secret_env(const Section& sec, std::string_view key, const std::string& name, Secret& out) {
  const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
  if (name.empty())
    sec.problem(key, "is empty; give the name of an environment variable");
  else if (!v || !*v)
    sec.problem(key, "environment variable " + name + " is not set or empty");
  else {
    out.value = v;
    out.source = "env " + name;
  }
}

}  // namespace

namespace detail {

// Exactly one of KEY / KEY_file / KEY_env (KEY: "password", "client_secret"). Returns true if
// one was given (even if reading it failed, so callers do not also report "missing").
bool read_secret(const Section& sec, const stdfs::path& base, std::string_view key, Secret& out) {
  const std::string k(key), file_key = k + "_file", env_key = k + "_env";
  std::vector<std::string_view> present;
  for (std::string_view name : {std::string_view(k), std::string_view(file_key), std::string_view(env_key)}) {
    if (sec.node(name)) present.push_back(name);
  }
  if (present.empty()) return false;
  if (present.size() > 1) {
    report_extra_secrets(sec, key, present);
    return true;
  }
  const std::string used(present[0]);
  const std::string* s = sec.string(used);
  if (!s) return true;
  if (used == k) {
    if (s->empty()) sec.problem(used, "is empty");
    else check_inline_secret(sec, used);
    out.value = *s;
    out.source = "inline";
  } else if (used == file_key) {
    if (s->empty())
      sec.problem(used, "is empty; give the path of a file holding the " + std::string(key == "password" ? "password" : "secret"));
    else if (auto file = file_ref(sec, base, used, *s, ".secret"))
      read_secret_file(sec, used, *file, out);
  } else {
    read_secret_env(sec, used, *s, out);
  }
  return true;
}

}  // namespace detail

namespace {

// ca_file: optional; resolved against the config folder; must be a readable file.
void read_ca_file(const Section& sec, const stdfs::path& base, std::string& out) {
  const std::string* s = sec.string("ca_file");
  if (!s || s->empty()) return;
  stdfs::path p = resolve(base, *s);
  std::error_code ec;
  if (!stdfs::is_regular_file(p, ec)) {
    sec.problem("ca_file", p.string() +
                               " does not exist or is not a file; give a PEM file with "
                               "the CA certificate(s), or remove the key to use the "
                               "system trust store");
    return;
  }
  if (::access(p.c_str(), R_OK) != 0) {
    sec.problem("ca_file", "cannot read " + p.string() + ": " + errno_text(errno));
    return;
  }
  out = p.string();
}

// ---------------------------------------------------------------------------------------------
// Sections

const std::vector<std::string_view> kServiceKeys{"state_dir", "hostname", "postmaster",
                                                 "max_parallel_polls", "log_level",
                                                 "min_free_space"};
const std::vector<std::string_view> kLocalKeys{
    "host",     "port",     "protocol",      "tls",          "tls_verify",      "ca_file",
    "username", "password", "password_file", "password_env", "allow_plaintext", "max_connections",
    "timeout"};
const std::vector<std::string_view> kAccountKeys{
    "provider",
    "name",         "enabled",         "host",    "port",     "tls",       "ca_file",
    "tls_verify",   "allow_plaintext", "auth",    "username", "password",  "password_file",
    "password_env", "poll_interval",   "timeout", "keep",     "keep_days", "max_message_size",
    "deliver_to",   "multidrop",       "oauth2"};

const std::vector<std::string_view> kRelayKeys{
    "listen",          "allow_networks",  "max_message_size",   "max_recipients",
    "max_connections", "max_connections_per_address",           "command_timeout",
    "data_timeout",    "tls_cert_file",   "tls_key_file",       "max_queue_time",
    "delay_notice_after", "user",          "listen_tls",         "bare_line_feeds"};
// password*: recognised only to explain that plain-text passwords do not belong here.
const std::vector<std::string_view> kRelayUserKeys{"name", "password_hash", "password",
                                                   "password_file", "password_env", "senders"};
const std::vector<std::string_view> kWebKeys{"listen", "tls_cert_file", "tls_key_file", "user", "hostnames"};
const std::vector<std::string_view> kWebUserKeys{"name", "password_hash", "password", "password_file",
                                                 "password_env"};
// clang-format off
const std::vector<std::string_view> kSmarthostKeys{
    "name", "provider", "host", "port", "tls", "ca_file", "tls_verify", "allow_plaintext", "max_connections",
    "timeout", "auth", "pop_account", "username", "password", "password_file", "password_env",
    "senders", "default", "rewrite_sender", "rewrite_from_header", "max_per_hour", "max_per_day",
    "max_message_size", "oauth2"};
// clang-format on

constexpr Duration kMinTimeout = std::chrono::seconds(1);
constexpr Duration kMinPollInterval = std::chrono::seconds(1);

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

// RFC 4954 4 / RFC 3207 6: AUTH over an unencrypted connection exposes the password.
const char* kCleartextWarning =
    "the password would travel over the network in clear text, readable by anyone on the way";

void check_local_login(const Section& sec, const Local& l, bool has_password);

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

void load_deliver_to(const Section& sec, Account& out) {
  const toml::node* n = sec.node("deliver_to");
  if (!n) {
    sec.missing("deliver_to",
                "list the local address(es) that receive this mailbox's mail, "
                "e.g. deliver_to = [\"info@firma.local\"], or add [account.multidrop] to route a "
                "catch-all mailbox by its envelope headers");
    return;
  }
  if (auto* s = n->as_string()) {  // a lone address is accepted as a one-element list
    if (mail::Address::parse(s->get()))
      out.deliver_to.push_back(s->get());
    else
      sec.problem("deliver_to", in_quotes(s->get()) + " is not a valid mail address");
    return;
  }
  auto* arr = n->as_array();
  if (!arr) {
    sec.wrong_type("deliver_to", "a list of addresses like [\"info@firma.local\"]");
    return;
  }
  if (arr->empty()) {
    sec.problem("deliver_to", "is empty; list at least one address like [\"info@firma.local\"]");
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    std::string key = "deliver_to[" + std::to_string(i) + "]";
    auto* s = e.as_string();
    if (!s) {
      sec.problem_at(e, key, std::string("expected an address string, got ") + type_name(e.type()));
    } else if (!mail::Address::parse(s->get())) {
      sec.problem_at(e, key,
                     in_quotes(s->get()) +
                         " is not a valid mail address; use a plain "
                         "address like \"info@firma.local\" (no name, no <>)");
    } else if (std::find(out.deliver_to.begin(), out.deliver_to.end(), s->get()) !=
               out.deliver_to.end()) {
      sec.problem_at(e, key, in_quotes(s->get()) + " is listed twice");
    } else {
      out.deliver_to.push_back(s->get());
    }
  }
}

// RFC 8314 3.3: POP3 over implicit TLS is port 995; plain/STARTTLS POP3 is 110 (RFC 1939 3).
std::uint16_t pop3_port(TlsMode tls) { return tls == TlsMode::implicit ? 995 : 110; }

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
                         std::string(what == "POP3 server" ? "pop3" : "smtp") +
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

// Where and how to connect to the provider.
void load_account_connection(const Section& sec, const stdfs::path& base, Account& out) {
  const ProviderPreset* preset = load_provider(sec, out.preset);
  load_server(sec, preset, preset ? &preset->pop3 : nullptr, "POP3 server", pop3_port, out);
  read_ca_file(sec, base, out.ca_file);
  sec.get("tls_verify", out.tls_verify);
  sec.get("allow_plaintext", out.allow_plaintext);
  sec.get_duration("timeout", out.timeout, kMinTimeout);
}

// auth = "xoauth2" / "oauthbearer": [NAME.oauth2] instead of a password; false (and problems
// reported) when the table is missing. Other auth values: the table must not be there.
bool load_oauth_login(const Section& sec, const stdfs::path& base, bool oauth, std::string_view auth_name,
                      std::string_view section_name, const PresetUse& preset, std::optional<OAuth2>& out) {
  const toml::node* table = sec.node("oauth2");
  if (!oauth) {
    if (table)
      sec.problem("oauth2", "is only used with auth = \"xoauth2\" or \"oauthbearer\"; set one of those, or "
                            "remove [" + std::string(section_name) + ".oauth2]");
    return false;
  }
  const std::string why = std::string("is not used with auth = \"") + std::string(auth_name) +
                          "\", which logs in with an OAuth token (run postbridge oauth login NAME once); remove it";
  for (std::string_view k : {"password", "password_file", "password_env"})
    if (sec.node(k)) sec.problem(k, why);
  if (!table) {
    sec.missing("oauth2", "auth = \"" + std::string(auth_name) + "\" needs an [" + std::string(section_name) +
                              ".oauth2] table with at least provider and client_id");
    return true;
  }
  OAuth2 o;
  load_oauth2(*table, sec, base, preset.provider, o);
  out = std::move(o);
  return true;
}

void load_account_login(const Section& sec, const stdfs::path& base, Account& out) {
  sec.get_enum("auth", out.auth, kAuthChoices);
  sec.required("username", out.username, "give the mailbox login, often the full address");
  if (load_oauth_login(sec, base, !oauth_mechanism(out.auth).empty(), to_string(out.auth), "account", out.preset,
                       out.oauth2))
    return;
  if (!read_secret(sec, base, "password", out.password)) {
    sec.missing("password", "set password_file = \"/etc/postbridge/" +
                                (out.name.empty() ? std::string("NAME") : out.name) +
                                ".secret\" (recommended), password_env or password");
  }
}

// Rules that tie keys together; checked after every key was read.
void check_account_rules(const Section& sec, const Account& a) {
  if (a.tls == TlsMode::none && !a.allow_plaintext) {
    sec.problem("tls", std::string("tls = \"none\": ") + kCleartextWarning +
                           "; use tls = \"implicit\" (port 995) or \"starttls\", or set "
                           "allow_plaintext = true if you accept that");
  }
  if (a.keep_days > 0 && !a.keep) {
    sec.problem("keep_days",
                "only works with keep = true (without keep, mail is deleted from "
                "the provider right after delivery); set keep = true or remove it");
  }
}

// Single-drop (deliver_to) or multidrop ([account.multidrop]): exactly one of them.
void load_recipients(const Section& sec, const std::string& postmaster, Problems& probs, Account& out) {
  const toml::node* md = sec.node("multidrop");
  if (!md) {
    load_deliver_to(sec, out);
    return;
  }
  if (sec.node("deliver_to"))
    sec.problem("deliver_to",
                "an account with [account.multidrop] routes each message by its headers; remove deliver_to "
                "(or remove [account.multidrop] to deliver everything to deliver_to)");
  Multidrop m;
  load_multidrop(*md, sec, postmaster, probs, m);
  out.multidrop = std::move(m);
}

void load_account(const Section& sec, const stdfs::path& base, const std::string& postmaster, Problems& probs,
                  Account& out) {
  out.source_line = static_cast<int>(sec.table().source().begin.line);
  if (sec.required("name", out.name, "give each account a short unique name like \"info\"") &&
      !valid_account_name(out.name)) {
    sec.problem("name", in_quotes(out.name) +
                            " is not allowed; use 1 to 64 letters, digits, "
                            "'.', '_' or '-'");
  }
  sec.get("enabled", out.enabled);
  load_account_connection(sec, base, out);
  load_account_login(sec, base, out);
  sec.get_duration("poll_interval", out.poll_interval, kMinPollInterval);
  sec.get("keep", out.keep);
  sec.get_int("keep_days", out.keep_days, 0, 36500);
  sec.get_size("max_message_size", out.max_message_size);
  load_recipients(sec, postmaster, probs, out);
  check_account_rules(sec, out);
}

void load_accounts(const toml::node& n, const stdfs::path& base, Config& cfg, Problems& probs) {
  auto* arr = n.as_array();
  if (!arr) {
    probs.add(n.source(), "account",
              std::string("expected [[account]] sections (an array of tables), got ") +
                  type_name(n.type()) + "; write each mailbox as [[account]] with two brackets");
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    std::string path = "account[" + std::to_string(i) + "]";
    auto* t = e.as_table();
    if (!t) {
      probs.add(e.source(), path, std::string("expected a table, got ") + type_name(e.type()));
      continue;
    }
    Section sec(*t, path, probs, kAccountKeys);
    Account acc;
    load_account(sec, base, cfg.service.postmaster, probs, acc);
    // Names key the state database: "Info" and "info" would be confusingly different.
    for (const Account& prev : cfg.accounts) {
      if (!acc.name.empty() && text::iequals(prev.name, acc.name)) {
        sec.problem("name", in_quotes(acc.name) + " is already used by the account at line " +
                                std::to_string(prev.source_line) + "; names must be unique");
        break;
      }
    }
    cfg.accounts.push_back(std::move(acc));
  }
}

// ---------------------------------------------------------------------------------------------
// [relay] and [[smarthost]]

std::optional<std::string> read_text_file(const stdfs::path& file, std::string& error);

// Calls each(node, key, value) for every string of a list; a lone string counts as a
// one-element list (like deliver_to). key is "listen[2]" for list elements. Non-strings are
// reported. False if the key is absent or holds neither a string nor a list.
template <class F>
bool for_each_string(const Section& sec, std::string_view key, std::string_view example, F each) {
  const toml::node* n = sec.node(key);
  if (!n) return false;
  if (auto* s = n->as_string()) {
    each(*n, std::string(key), s->get());
    return true;
  }
  auto* arr = n->as_array();
  if (!arr) {
    sec.wrong_type(key, "a list like " + std::string(example));
    return false;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    std::string element = std::string(key) + "[" + std::to_string(i) + "]";
    if (auto* s = e.as_string())
      each(e, element, s->get());
    else
      sec.problem_at(e, element, std::string("expected a string, got ") + type_name(e.type()));
  }
  return true;
}

// What load_relay learned beyond the Relay values, for the rules that tie keys together.
struct RelayInput {
  std::vector<const toml::node*> listen_nodes;      // parallel to Relay::listen
  std::vector<const toml::node*> listen_tls_nodes;  // parallel to Relay::listen_tls
  std::vector<const toml::node*> network_nodes;     // parallel to Relay::allow_networks
  bool networks_given = false;
};

// listen or listen_tls: "address:port" strings into `out`, each at most once in both lists (one
// port speaks either plain SMTP or TLS from the first byte, never both).
void load_listen_list(const Section& sec, std::string_view key, std::vector<inet::Endpoint>& out,
                      std::vector<const toml::node*>& nodes, const std::vector<inet::Endpoint>& other,
                      std::string_view other_key) {
  if (!sec.node(key)) return;
  out.clear();  // an empty list switches these addresses off
  for_each_string(
      sec, key, key == "listen" ? "[\"127.0.0.1:2525\"]" : "[\"0.0.0.0:465\"]",
      [&](const toml::node& n, const std::string& at, const std::string& v) {
        auto ep = inet::parse_endpoint(v);
        if (!ep) {
          sec.problem_at(n, at,
                         in_quotes(v) +
                             " is not an address with a port; use \"127.0.0.1:2525\", "
                             "\"[::1]:2525\", \"192.168.1.5:25\" or \"localhost:2525\"");
        } else if (std::find(out.begin(), out.end(), *ep) != out.end()) {
          sec.problem_at(n, at, in_quotes(v) + " is listed twice");
        } else if (std::find(other.begin(), other.end(), *ep) != other.end()) {
          sec.problem_at(n, at, in_quotes(v) + " is in " + std::string(other_key) +
                                    " as well; one port speaks either plain SMTP with STARTTLS "
                                    "(listen) or implicit TLS (listen_tls), so give each its own port");
        } else {
          out.push_back(*ep);
          nodes.push_back(&n);
        }
      });
}

void load_listen(const Section& sec, Relay& out, RelayInput& in) {
  load_listen_list(sec, "listen", out.listen, in.listen_nodes, {}, "");
  load_listen_list(sec, "listen_tls", out.listen_tls, in.listen_tls_nodes, out.listen, "listen");
}

// RFC 8314 3.3: implicit TLS starts with the handshake, which needs the certificate and key.
void check_listen_tls(const Section& sec, const Relay& r, const RelayInput& in) {
  if (r.listen_tls.empty() || r.tls()) return;
  const toml::node* given_cert = sec.node("tls_cert_file");
  if (given_cert && given_cert->as_string() && !given_cert->as_string()->get().empty())
    return;  // tls_cert_file is set but broken: that key names the problem already
  sec.problem_at(*in.listen_tls_nodes.front(), sec.node("listen_tls")->is_array() ? "listen_tls[0]" : "listen_tls",
                 "implicit TLS starts with the TLS handshake, which needs a certificate: set "
                 "tls_cert_file = \"/etc/postbridge/relay.pem\" and tls_key_file = "
                 "\"/etc/postbridge/relay.key\"");
}

void load_allow_networks(const Section& sec, Relay& out, RelayInput& in) {
  if (!sec.node("allow_networks")) return;
  in.networks_given = true;
  out.allow_networks.clear();  // an empty list: every client must log in
  for_each_string(
      sec, "allow_networks", "[\"127.0.0.1/32\", \"192.168.1.0/24\"]",
      [&](const toml::node& n, const std::string& key, const std::string& v) {
        auto cidr = inet::Cidr::parse(v);
        if (!cidr) {
          auto masked = inet::Cidr::parse_masked(v);
          sec.problem_at(n, key,
                         masked ? in_quotes(v) + " has address bits set beyond the /" +
                                      std::to_string(masked->prefix_length()) +
                                      " prefix; did you mean \"" + masked->str() + "\"?"
                                : in_quotes(v) +
                                      " is not an address or address range; use a range like "
                                      "\"192.168.1.0/24\" or \"fd00::/8\", or one address like "
                                      "\"192.168.1.10\"");
        } else if (std::find(out.allow_networks.begin(), out.allow_networks.end(), *cidr) !=
                   out.allow_networks.end()) {
          sec.problem_at(n, key, in_quotes(v) + " is listed twice");
        } else {
          out.allow_networks.push_back(*cidr);
          in.network_nodes.push_back(&n);
        }
      });
}

// A PEM file for STARTTLS or HTTPS (a path or a systemd "credential:NAME"): must exist, be
// readable and hold a certificate or key. Private keys must not be accessible by group or others
// (like password files; a credential is exempt for the same reason).
std::optional<std::string> read_pem_file(const Section& sec, const stdfs::path& base,
                                         std::string_view key, bool private_key) {
  const std::string* s = sec.string(key);
  if (!s || s->empty()) return std::nullopt;
  auto file = file_ref(sec, base, key, *s, private_key ? ".key" : ".pem");
  if (!file) return std::nullopt;
  const stdfs::path& p = file->path;
  std::string shown = p.string();
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    sec.problem(key, shown + " does not exist or is not a file");
    return std::nullopt;
  }
  if (private_key && !file->is_credential() && (st.st_mode & 077) != 0) {
    sec.problem(key, open_file_words(shown, st.st_mode) + "; a private key must stay private: chmod 600 " + shown);
    return std::nullopt;
  }
  std::string error;
  auto text = read_text_file(p, error);
  if (!text) {
    sec.problem(key, "cannot read " + shown + ": " + error +
                         " (the file must be readable by the user running postbridge)");
    return std::nullopt;
  }
  bool ok = private_key ? text->find("PRIVATE KEY-----") != std::string::npos
                        : text->find("-----BEGIN CERTIFICATE-----") != std::string::npos;
  bool encrypted = text->find("ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
                   text->find("Proc-Type: 4,ENCRYPTED") != std::string::npos;
  std::fill(text->begin(), text->end(), '\0');  // key material does not linger
  if (!ok) {
    sec.problem(key, shown + (private_key ? " holds no PEM private key (\"-----BEGIN ... PRIVATE "
                                            "KEY-----\"); are tls_cert_file and tls_key_file "
                                            "swapped?"
                                          : " holds no PEM certificate (\"-----BEGIN "
                                            "CERTIFICATE-----\")"));
    return std::nullopt;
  }
  if (private_key && encrypted) {
    sec.problem(key, shown +
                         " is protected by a passphrase, which postbridge cannot ask for; "
                         "write an unprotected copy with: openssl pkey -in " +
                         shown + " -out NEW.key  (then chmod 600 NEW.key)");
    return std::nullopt;
  }
  return p.string();
}

// tls_cert_file and tls_key_file: both or neither (RFC 3207: STARTTLS needs both).
void load_relay_tls(const Section& sec, const stdfs::path& base, Relay& out) {
  auto cert = read_pem_file(sec, base, "tls_cert_file", false);
  auto key = read_pem_file(sec, base, "tls_key_file", true);
  auto given = [&](std::string_view k) {
    const toml::node* n = sec.node(k);
    return n && n->as_string() && !n->as_string()->get().empty();
  };
  if (given("tls_cert_file") && !given("tls_key_file")) {
    sec.problem("tls_cert_file",
                "is set but tls_key_file is not; STARTTLS needs the certificate and its "
                "private key: add tls_key_file = \"/etc/postbridge/relay.key\"");
  } else if (given("tls_key_file") && !given("tls_cert_file")) {
    sec.problem("tls_key_file",
                "is set but tls_cert_file is not; STARTTLS needs the certificate and its "
                "private key: add tls_cert_file = \"/etc/postbridge/relay.pem\"");
  } else if (cert && key) {
    out.tls_cert_file = *cert;
    out.tls_key_file = *key;
  }
}

// AUTH user names: what scanners and scripts type in; no spaces or controls (RFC 4616 2 allows
// more, but a name that cannot be typed or logged safely only causes trouble).
bool valid_user_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '@' || c == '+';
  });
}

constexpr const char* kHashHint =
    "create one with `postbridge hash-password` (or `mkpasswd -m yescrypt`, or `openssl passwd "
    "-6`) and paste the whole output";

struct PatternAt;
using PatternNodes = std::vector<PatternAt>;
// Reads the "senders" list of `sec` into `out`; with `nodes`, also where each pattern stands.
void load_sender_list(const Section& sec, std::vector<SenderPattern>& out, PatternNodes* nodes);

void load_relay_user(const Section& sec, RelayUser& out) {
  out.source_line = static_cast<int>(sec.table().source().begin.line);
  if (sec.node("senders")) load_sender_list(sec, out.senders, nullptr);
  if (sec.required("name", out.name, "give the login name, e.g. name = \"scanner\"") &&
      !valid_user_name(out.name)) {
    sec.problem("name", in_quotes(out.name) +
                            " is not allowed; use 1 to 64 letters, digits, '.', '_', '-', "
                            "'@' or '+'");
  }
  bool plain = false;
  for (std::string_view k : {"password", "password_file", "password_env"}) {
    if (!sec.node(k)) continue;
    plain = true;
    sec.problem(k,
                "relay logins are checked against a password hash, so no plain-text "
                "password is kept; put password_hash = \"$y$...\" here instead: " +
                    std::string(kHashHint));
  }
  std::string hash;
  if (!sec.node("password_hash")) {
    if (!plain) sec.missing("password_hash", kHashHint);
    return;
  }
  if (!sec.get("password_hash", hash)) return;
  // The value is never echoed: a plain-text password pasted here must not reach the log.
  if (!password::looks_like_hash(hash)) {
    sec.problem("password_hash",
                hash.starts_with("$")
                    ? std::string("is not a complete password hash of a supported kind "
                                  "(yescrypt \"$y$\", bcrypt \"$2b$\", SHA-512-crypt \"$6$\", "
                                  "SHA-256-crypt \"$5$\", scrypt \"$7$\"); ") +
                          kHashHint
                    : std::string("is not a password hash; a plain-text password is refused "
                                  "here: ") +
                          kHashHint);
    return;
  }
  out.password_hash = std::move(hash);
}

void load_relay_users(const Section& relay, Relay& out, Problems& probs) {
  const toml::node* n = relay.node("user");
  if (!n) return;
  auto* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables()) {
    relay.problem("user", std::string("expected [[relay.user]] sections, got ") +
                              type_name(n->type()) +
                              "; write each login as [[relay.user]] with two brackets");
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    Section sec(*arr->get(i)->as_table(), "relay.user[" + std::to_string(i) + "]", probs,
                kRelayUserKeys);
    RelayUser user;
    load_relay_user(sec, user);
    for (const RelayUser& prev : out.users) {
      if (!user.name.empty() && text::iequals(prev.name, user.name)) {
        sec.problem("name", in_quotes(user.name) + " is already used by the login at line " +
                                std::to_string(prev.source_line) + "; names must be unique");
        break;
      }
    }
    out.users.push_back(std::move(user));
  }
}

// Lets in a large part of the internet: as many public IPv4 addresses as a /8 (every private
// IPv4 range is /8 or smaller and counts nothing), or a /32's worth of global IPv6 (what a registry
// allocates to a whole provider; an office gets a /48 to /64). Judged on the union, so neither
// splitting a range ("0.0.0.0/1" + "128.0.0.0/1") nor writing IPv4 as IPv4-mapped IPv6
// ("::ffff:0.0.0.0/97") gets past it.
bool reaches_internet(const inet::Reach& r) {
  return r.public_ipv4 >= (std::uint64_t{1} << 24) || r.global_ipv6_64s >= (std::uint64_t{1} << 32);
}

constexpr const char* kOpenRelayAdvice =
    " send mail through your smarthosts without a login while postbridge listens on ";
constexpr const char* kOpenRelayFix =
    ": that would be an open relay, abused by spammers within hours; list only your office "
    "network(s), e.g. \"192.168.1.0/24\", and let other clients log in as [[relay.user]]";

// The first listen or listen_tls address other machines can reach, if any: where it is, its node
// and its key ("listen[1]", "listen_tls").
struct OpenAddress {
  std::string where;
  const toml::node* node = nullptr;
  std::string key;
};

std::optional<OpenAddress> first_open_address(const Section& sec, const Relay& r, const RelayInput& in) {
  const std::pair<std::string_view, const std::vector<inet::Endpoint>*> lists[] = {{"listen", &r.listen},
                                                                                  {"listen_tls", &r.listen_tls}};
  for (const auto& [key, list] : lists) {
    const auto& nodes = key == "listen" ? in.listen_nodes : in.listen_tls_nodes;
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (inet::is_loopback_literal((*list)[i].host)) continue;
      std::string k = sec.node(key)->is_array() ? std::string(key) + "[" + std::to_string(i) + "]" : std::string(key);
      return OpenAddress{(*list)[i].str(), nodes[i], k};
    }
  }
  return std::nullopt;
}

// Never an open relay: who may send without AUTH must be a trusted network, and a listener
// other machines can reach must have someone it is meant for. Plain and implicit-TLS addresses
// alike: TLS keeps nobody out.
void check_relay_access(const Section& sec, const Relay& r, const RelayInput& in) {
  auto open = first_open_address(sec, r, in);
  if (!open) return;  // loopback only: just this machine can connect
  const std::string& where = open->where;
  bool internet = false;
  std::string reaching;  // the entries that let in any of the internet, for the union's message
  for (std::size_t i = 0; i < r.allow_networks.size(); ++i) {
    auto reach = inet::internet_reach({r.allow_networks[i]});
    if (reach.public_ipv4 > 0 || reach.global_ipv6_64s > 0)
      reaching += (reaching.empty() ? "" : ", ") + in_quotes(r.allow_networks[i].str());
    if (!reaches_internet(reach)) continue;
    internet = true;
    sec.problem_at(*in.network_nodes[i], "allow_networks[" + std::to_string(i) + "]",
                   in_quotes(r.allow_networks[i].str()) + " lets anyone on the internet (or a large part of it)" +
                       kOpenRelayAdvice + where + kOpenRelayFix);
  }
  if (!internet && reaches_internet(inet::internet_reach(r.allow_networks))) {
    internet = true;
    sec.problem("allow_networks", reaching + " together let anyone on a large part of the internet" +
                                      kOpenRelayAdvice + where + kOpenRelayFix);
  }
  if (internet || in.networks_given) return;
  const toml::node& at = *open->node;
  const std::string& key = open->key;
  if (r.users.empty()) {
    sec.problem_at(at, key,
                   in_quotes(where) +
                       " is not a loopback address, but no other machine could send through "
                       "it: allow_networks is loopback only (the default) and no "
                       "[[relay.user]] login is defined; set allow_networks = "
                       "[\"192.168.1.0/24\"] for your office network, or add [[relay.user]] "
                       "logins");
  } else if (!r.tls()) {
    sec.problem_at(at, key,
                   in_quotes(where) +
                       " is not a loopback address, and other machines could only send by "
                       "logging in, which is offered over TLS only (RFC 4954 4: no password "
                       "in clear text); set tls_cert_file and tls_key_file, or allow your "
                       "office network with allow_networks = [\"192.168.1.0/24\"]");
  }
}

// delay_notice_after: a duration of at least 1s, or 0 for no notice (as duplicate_window).
void load_delay_notice(const Section& sec, Relay& out) {
  sec.get_duration("delay_notice_after", out.delay_notice_after, std::chrono::seconds(1),
                   Section::Zero::off);
  if (out.delay_notice_after != Duration::zero() && out.delay_notice_after >= out.max_queue_time) {
    sec.problem("delay_notice_after",
                "'" + format_duration(out.delay_notice_after) +
                    "' is not shorter than max_queue_time ('" +
                    format_duration(out.max_queue_time) +
                    "'), so the notice would never be sent; make it shorter, or \"0\" for no "
                    "notice");
  }
}

// max_connections_per_address: half of max_connections unless given (10 of the default 20), so
// one client never holds every slot; more than max_connections could never apply.
void load_per_address_limit(const Section& sec, Relay& out) {
  out.max_connections_per_address = (out.max_connections + 1) / 2;
  if (!sec.get_int("max_connections_per_address", out.max_connections_per_address, 1, 1000)) return;
  if (out.max_connections_per_address > out.max_connections)
    sec.problem("max_connections_per_address",
                std::to_string(out.max_connections_per_address) + " is more than max_connections (" +
                    std::to_string(out.max_connections) + "), so it would never apply; make it at most " +
                    std::to_string(out.max_connections) + " (or raise max_connections)");
}

void load_relay(const Section& sec, const stdfs::path& base, Relay& out, Problems& probs) {
  RelayInput in;
  load_listen(sec, out, in);
  load_allow_networks(sec, out, in);
  sec.get_size("max_message_size", out.max_message_size);
  // RFC 5321 4.5.3.1.8: a server MUST accept at least 100 recipients per message.
  sec.get_int("max_recipients", out.max_recipients, 100, 100'000);
  sec.get_int("max_connections", out.max_connections, 1, 1000);
  load_per_address_limit(sec, out);
  sec.get_duration("command_timeout", out.command_timeout, kMinTimeout);
  sec.get_duration("data_timeout", out.data_timeout, kMinTimeout);
  sec.get_enum("bare_line_feeds", out.bare_line_feeds, kBareLineFeedChoices);
  load_relay_tls(sec, base, out);
  check_listen_tls(sec, out, in);
  sec.get_duration("max_queue_time", out.max_queue_time, std::chrono::minutes(1));
  load_delay_notice(sec, out);
  load_relay_users(sec, out, probs);
  check_relay_access(sec, out, in);
}

// A sender pattern, or nullopt with `why` explaining what is wrong in an admin's words.
std::optional<SenderPattern> parse_sender_pattern(std::string_view text, std::string& why) {
  constexpr const char* kForms = "use an address like \"info@firma.de\" or \"*@firma.de\"";
  bool blank = std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) <= ' ' || c == 0x7F;
  });
  std::size_t at = text.rfind('@');
  if (text.empty()) {
    why = std::string("is empty; ") + kForms;
  } else if (blank) {
    why = std::string(
              "contains a space or control character; write one address or pattern "
              "per string: ") +
          kForms;
  } else if (text == "*" || text == "*@*") {
    why =
        "would match every sender; to send every other sender through this smarthost, set "
        "default = true instead";
  } else if (at == std::string_view::npos) {
    why = std::string("is not an address; ") + kForms;
  } else if (at + 1 == text.size()) {
    why = "has no domain; use \"*@firma.de\" for every address of a domain";
  } else if (at == 0) {
    why = "has nothing before the '@'; did you mean \"*" + std::string(text) + "\"?";
  } else if (text.substr(at + 1).find('*') != std::string_view::npos) {
    why =
        "has a '*' in the domain; a '*' may only stand for the whole part before the '@', as "
        "in \"*@firma.de\"; list each domain and subdomain separately";
  } else if (text.substr(0, at) != "*" && text.substr(0, at).find('*') != std::string_view::npos) {
    why =
        "has a '*' inside the part before the '@'; a '*' may only stand for that whole part, "
        "as in \"*@firma.de\"";
  } else {
    std::string_view local = text.substr(0, at);
    std::string candidate = local == "*" ? "x" + std::string(text.substr(at)) : std::string(text);
    if (!mail::Address::parse(candidate)) {
      why = local == "*" ? "has an invalid domain '" + std::string(text.substr(at + 1)) + "'"
                         : std::string("is not a valid mail address; ") + kForms;
      return std::nullopt;
    }
    // Lower-cased for matching: domains are case-insensitive (RFC 5321 2.4); local parts are
    // matched the same way, see routing/sender_route.hpp.
    return SenderPattern{local == "*" ? std::string() : text::to_lower(local),
                         text::to_lower(text.substr(at + 1))};
  }
  return std::nullopt;
}

// A smarthost's sender patterns with the node and key ("senders[1]") of each, so a pattern that
// another smarthost already has can be reported where it is.
struct PatternAt {
  SenderPattern pattern;
  const toml::node* node;
  std::string key;
};

void load_sender_list(const Section& sec, std::vector<SenderPattern>& out, PatternNodes* nodes) {
  for_each_string(
      sec, "senders", "[\"*@firma.de\", \"chef@firma.de\"]",
      [&](const toml::node& n, const std::string& key, const std::string& v) {
        std::string why;
        auto p = parse_sender_pattern(v, why);
        if (!p) {
          sec.problem_at(n, key, in_quotes(v) + " " + why);
        } else if (std::find(out.begin(), out.end(), *p) != out.end()) {
          sec.problem_at(n, key, in_quotes(v) + " is listed twice");
        } else {
          out.push_back(*p);
          if (nodes) nodes->push_back({*p, &n, key});
        }
      });
}

void load_senders(const Section& sec, Smarthost& out, PatternNodes& nodes) { load_sender_list(sec, out.senders, &nodes); }

const ProviderPreset* load_smarthost_connection(const Section& sec, const stdfs::path& base,
                                                Smarthost& out) {
  const ProviderPreset* preset = load_provider(sec, out.preset);
  load_server(sec, preset, preset ? &preset->submission : nullptr, "SMTP server", submission_port,
              out);
  read_ca_file(sec, base, out.ca_file);
  sec.get("tls_verify", out.tls_verify);
  sec.get("allow_plaintext", out.allow_plaintext);
  sec.get_int("max_connections", out.max_connections, 1, 16);
  sec.get_duration("timeout", out.timeout, kMinTimeout);
  return preset;
}

// auth decides which of username / password / pop_account belong.
void load_smarthost_login(const Section& sec, const stdfs::path& base, const Config& cfg,
                          Smarthost& out) {
  sec.get_enum("auth", out.auth, kSmarthostAuthChoices);
  sec.get("username", out.username);
  const bool oauth = !oauth_mechanism(out.auth).empty();
  bool has_password = !oauth && read_secret(sec, base, "password", out.password);
  sec.get("pop_account", out.pop_account);
  const bool logs_in =
      out.auth != SmarthostAuth::none && out.auth != SmarthostAuth::pop_before_smtp;
  load_oauth_login(sec, base, oauth, to_string(out.auth), "smarthost", out.preset, out.oauth2);
  if (logs_in && oauth) {
    if (out.username.empty())
      sec.missing("username", "give the mailbox the token belongs to, usually its full address");
  } else if (logs_in) {
    constexpr const char* kLogin =
        "give the smarthost login, usually the full address of the mailbox used for sending";
    if (out.username.empty() && sec.node("username"))
      sec.problem("username", std::string("is empty; ") + kLogin);
    else if (out.username.empty())
      sec.missing("username", kLogin);
    if (!has_password)
      sec.missing("password", "set password_file = \"/etc/postbridge/" +
                                  (out.name.empty() ? std::string("NAME") : out.name) +
                                  ".secret\" (recommended), password_env or password");
  } else {
    std::string why = std::string("is not used with auth = \"") + to_string(out.auth) +
                      "\", which sends no SMTP login; remove it, or use auth = \"auto\"";
    for (std::string_view k : {"username", "password", "password_file", "password_env"}) {
      if (sec.node(k)) sec.problem(k, why);
    }
  }
  if (out.auth == SmarthostAuth::pop_before_smtp) {
    if (out.pop_account.empty())
      sec.missing("pop_account",
                  "auth = \"pop-before-smtp\" needs the [[account]] whose POP3 login unlocks "
                  "sending, e.g. pop_account = \"info\"");
    else if (!cfg.find_account(out.pop_account))
      sec.problem("pop_account", "there is no [[account]] named " + in_quotes(out.pop_account) +
                                     "; give the name of the account whose POP3 login "
                                     "unlocks sending");
  } else if (sec.node("pop_account")) {
    sec.problem("pop_account", "is only used with auth = \"pop-before-smtp\"; remove it");
  }
}

// max_per_hour / max_per_day: written values win, 0 included (it switches a preset's limit off).
void load_send_limits(const Section& sec, const ProviderPreset* preset, Smarthost& out) {
  if (preset && !sec.node("max_per_hour") && preset->limits.per_hour > 0) {
    out.max_per_hour = preset->limits.per_hour;
    out.preset.keys.emplace_back("max_per_hour");
  }
  if (preset && !sec.node("max_per_day") && preset->limits.per_day > 0) {
    out.max_per_day = preset->limits.per_day;
    out.preset.keys.emplace_back("max_per_day");
  }
  sec.get_int("max_per_hour", out.max_per_hour, 0, 1'000'000);
  sec.get_int("max_per_day", out.max_per_day, 0, 10'000'000);
}

void load_smarthost_sending(const Section& sec, Smarthost& out, PatternNodes& nodes) {
  load_senders(sec, out, nodes);
  sec.get("default", out.is_default);
  if (sec.get("rewrite_sender", out.rewrite_sender) && !out.rewrite_sender.empty() &&
      !mail::Address::parse(out.rewrite_sender)) {
    sec.problem("rewrite_sender", in_quotes(out.rewrite_sender) +
                                      " is not a valid mail address; use a plain address the "
                                      "provider accepts, like \"info@firma.de\", or \"\"");
  }
  sec.get("rewrite_from_header", out.rewrite_from_header);
  const toml::node* size = sec.node("max_message_size");
  if (size && size->as_string() && size->as_string()->get().empty()) return;  // "" = from SIZE
  ByteSize limit;
  if (sec.get_size("max_message_size", limit)) out.max_message_size = limit;
}

void check_smarthost_rules(const Section& sec, const Smarthost& h) {
  if (h.tls == TlsMode::none && !h.allow_plaintext) {
    sec.problem("tls",
                std::string("tls = \"none\": ") +
                    (h.auth == SmarthostAuth::none || h.auth == SmarthostAuth::pop_before_smtp
                         ? "every message would travel over the network in clear text"
                         : kCleartextWarning) +
                    "; use tls = \"implicit\" (port 465) or \"starttls\" (port 587), or "
                    "set allow_plaintext = true if you accept that");
  }
  if (h.rewrite_from_header && h.rewrite_sender.empty()) {
    sec.problem("rewrite_from_header",
                "needs rewrite_sender: the From: header is rewritten to that address; set "
                "rewrite_sender = \"info@firma.de\" or remove rewrite_from_header");
  }
  // With invalid entries only, those were reported already.
  const toml::node* senders = sec.node("senders");
  bool empty_list = senders && senders->as_array() && senders->as_array()->empty();
  if (h.senders.empty() && !h.is_default && (!senders || empty_list)) {
    std::string what =
        "this smarthost would relay no mail; list the envelope senders it takes, "
        "e.g. senders = [\"*@firma.de\"], or set default = true";
    if (empty_list)
      sec.problem("senders", "is empty: " + what);
    else
      sec.missing("senders", what);
  }
}

void load_smarthost(const Section& sec, const stdfs::path& base, const Config& cfg, Smarthost& out,
                    PatternNodes& nodes) {
  out.source_line = static_cast<int>(sec.table().source().begin.line);
  if (sec.required("name", out.name, "give each smarthost a short unique name like \"strato\"") &&
      !valid_account_name(out.name)) {
    sec.problem("name", in_quotes(out.name) +
                            " is not allowed; use 1 to 64 letters, digits, '.', '_' or '-'");
  }
  const ProviderPreset* preset = load_smarthost_connection(sec, base, out);
  load_smarthost_login(sec, base, cfg, out);
  load_smarthost_sending(sec, out, nodes);
  load_send_limits(sec, preset, out);
  check_smarthost_rules(sec, out);
}

// Rules across smarthosts: unique names, one default, each sender pattern on one smarthost.
void check_against_earlier(const Section& sec, const Smarthost& h, const PatternNodes& nodes,
                           const std::vector<Smarthost>& earlier) {
  auto where = [](const Smarthost& s) {
    return in_quotes(s.name) + " (line " + std::to_string(s.source_line) + ")";
  };
  for (const Smarthost& prev : earlier) {
    if (!h.name.empty() && text::iequals(prev.name, h.name)) {
      sec.problem("name", in_quotes(h.name) + " is already used by the smarthost at line " +
                              std::to_string(prev.source_line) + "; names must be unique");
      break;
    }
  }
  for (const Smarthost& prev : earlier) {
    if (h.is_default && prev.is_default) {
      sec.problem("default", "smarthost " + in_quotes(h.name) +
                                 " cannot also be the default: smarthost " + where(prev) +
                                 " already has default = true; only one smarthost may");
      break;
    }
  }
  for (const PatternAt& p : nodes) {
    for (const Smarthost& prev : earlier) {
      if (std::find(prev.senders.begin(), prev.senders.end(), p.pattern) == prev.senders.end())
        continue;
      sec.problem_at(*p.node, p.key,
                     in_quotes(p.pattern.str()) + " is already routed to smarthost " + where(prev) +
                         "; each sender pattern may belong to one smarthost only");
      break;
    }
  }
}

void load_smarthosts(const toml::node& n, const stdfs::path& base, Config& cfg, Problems& probs) {
  auto* arr = n.as_array();
  if (!arr || !arr->is_array_of_tables()) {
    probs.add(n.source(), "smarthost",
              std::string("expected [[smarthost]] sections (an array of tables), got ") +
                  type_name(n.type()) +
                  "; write each smarthost as [[smarthost]] with two brackets");
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    Section sec(*arr->get(i)->as_table(), "smarthost[" + std::to_string(i) + "]", probs,
                kSmarthostKeys);
    Smarthost host;
    PatternNodes nodes;
    load_smarthost(sec, base, cfg, host, nodes);
    check_against_earlier(sec, host, nodes, cfg.smarthosts);
    cfg.smarthosts.push_back(std::move(host));
  }
}

// ---------------------------------------------------------------------------------------------
// [web]: the status page. Never open to the network without a login over HTTPS.

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

// tls_cert_file and tls_key_file: both or neither.
void load_web_tls(const Section& sec, const stdfs::path& base, Web& out) {
  auto cert = read_pem_file(sec, base, "tls_cert_file", false);
  auto key = read_pem_file(sec, base, "tls_key_file", true);
  auto given = [&](std::string_view k) {
    const toml::node* n = sec.node(k);
    return n && n->as_string() && !n->as_string()->get().empty();
  };
  if (given("tls_cert_file") && !given("tls_key_file")) {
    sec.problem("tls_cert_file",
                "is set but tls_key_file is not; HTTPS needs the certificate and its private "
                "key: add tls_key_file = \"/etc/postbridge/web.key\"");
  } else if (given("tls_key_file") && !given("tls_cert_file")) {
    sec.problem("tls_key_file",
                "is set but tls_cert_file is not; HTTPS needs the certificate and its private "
                "key: add tls_cert_file = \"/etc/postbridge/web.pem\"");
  } else if (cert && key) {
    out.tls_cert_file = *cert;
    out.tls_key_file = *key;
  }
}

void load_web_user(const Section& sec, WebUser& out) {
  out.source_line = static_cast<int>(sec.table().source().begin.line);
  if (sec.required("name", out.name, "give the login name, e.g. name = \"admin\"") &&
      !valid_user_name(out.name)) {
    sec.problem("name", in_quotes(out.name) +
                            " is not allowed; use 1 to 64 letters, digits, '.', '_', '-', "
                            "'@' or '+'");
  }
  bool plain = false;
  for (std::string_view k : {"password", "password_file", "password_env"}) {
    if (!sec.node(k)) continue;
    plain = true;
    sec.problem(k,
                "status page logins are checked against a password hash, so no plain-text "
                "password is kept; put password_hash = \"$y$...\" here instead: " +
                    std::string(kHashHint));
  }
  std::string hash;
  if (!sec.node("password_hash")) {
    if (!plain) sec.missing("password_hash", kHashHint);
    return;
  }
  if (!sec.get("password_hash", hash)) return;
  // The value is never echoed: a plain-text password pasted here must not reach the log.
  if (!password::looks_like_hash(hash)) {
    sec.problem("password_hash",
                std::string(hash.starts_with("$") ? "is not a complete password hash of a supported kind; "
                                                  : "is not a password hash; a plain-text password is "
                                                    "refused here: ") +
                    kHashHint);
    return;
  }
  out.password_hash = std::move(hash);
}

void load_web_users(const Section& web, Web& out, Problems& probs) {
  const toml::node* n = web.node("user");
  if (!n) return;
  auto* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables()) {
    web.problem("user", std::string("expected [[web.user]] sections, got ") + type_name(n->type()) +
                            "; write each login as [[web.user]] with two brackets");
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    Section sec(*arr->get(i)->as_table(), "web.user[" + std::to_string(i) + "]", probs, kWebUserKeys);
    WebUser user;
    load_web_user(sec, user);
    for (const WebUser& prev : out.users) {
      if (!user.name.empty() && text::iequals(prev.name, user.name)) {
        sec.problem("name", in_quotes(user.name) + " is already used by the login at line " +
                                std::to_string(prev.source_line) + "; names must be unique");
        break;
      }
    }
    out.users.push_back(std::move(user));
  }
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

void load_web(const Section& sec, const stdfs::path& base, Web& out, Problems& probs) {
  load_web_listen(sec, out);
  load_web_hostnames(sec, out);
  load_web_tls(sec, base, out);
  load_web_users(sec, out, probs);
  check_web_access(sec, out);
}

// Top level: known sections, and a hint when a section's key is written outside any section.
void check_top_level(const toml::table& root, Problems& probs) {
  const std::vector<std::string_view> sections{"service", "local", "account", "relay", "smarthost", "web"};
  for (auto&& [key, node] : root) {
    if (std::find(sections.begin(), sections.end(), key.str()) != sections.end()) continue;
    // A section's key written above every section header: say where it belongs.
    std::vector<std::string_view> homes;
    // A named copy: clang before 16 cannot capture a structured binding in a lambda.
    const std::string_view name = key.str();
    auto knows = [&](const auto& keys) { return std::find(keys.begin(), keys.end(), name) != keys.end(); };
    if (knows(kServiceKeys)) homes.push_back("[service]");
    if (knows(kLocalKeys)) homes.push_back("[local]");
    if (knows(kAccountKeys)) homes.push_back("[[account]]");
    if (knows(kRelayKeys) && key.str() != "user") homes.push_back("[relay]");
    if (knows(kSmarthostKeys)) homes.push_back("[[smarthost]]");
    if (knows(kWebKeys) && key.str() != "user") homes.push_back("[web]");
    if (key.str() == "user") homes.push_back("[relay] (as [[relay.user]])");
    if (key.str() == "user") homes.push_back("[web] (as [[web.user]])");
    std::string hint;
    for (std::size_t i = 0; i < homes.size(); ++i) {
      hint += (i == 0 ? "; it belongs under " : " or ") + std::string(homes[i]);
    }
    if (hint.empty()) hint = suggestion(key.str(), sections);
    if (hint.empty()) hint = "; allowed: [service], [local], [[account]], [relay], [[smarthost]], [web]";
    bool is_section = node.is_table() || node.is_array_of_tables();
    probs.add(key.source(), key.str(),
              (is_section ? "unknown section" : "unknown key outside any section") + hint);
  }
}

const toml::table& table_or_empty(const toml::table& root, std::string_view key, Problems& probs) {
  static const toml::table empty;
  const toml::node* n = root.get(key);
  if (!n) return empty;
  if (auto* t = n->as_table()) return *t;
  probs.add(
      n->source(), key,
      std::string("expected a section [") + std::string(key) + "], got " + type_name(n->type()));
  return empty;
}

std::optional<std::string> read_text_file(const stdfs::path& file, std::string& error) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    error = errno_text(errno);
    return std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "it is a folder, not a file";
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = errno_text(errno);
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------------
// Rendering

// TOML basic string (TOML 1.0 "Basic strings"): escapes quote, backslash and control characters.
std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

// Exact, re-parseable duration ("1500ms" stays 1500ms; format_duration rounds to seconds).
std::string duration_text(Duration d) {
  if (d.count() % 1000 != 0) return std::to_string(d.count()) + "ms";
  return format_duration(d);
}

// A duration key where 0 means off (Section::Zero::off), as a TOML value: "0" says off in the
// form the example config writes it, rather than "0s", which reads like a very short time.
std::string off_duration_text(Duration d) {
  return toml_string(d == Duration::zero() ? std::string("0") : duration_text(d));
}

// Exact, re-parseable size: the largest unit that divides evenly.
std::string size_text(ByteSize s) {
  constexpr std::array<std::pair<std::uint64_t, const char*>, 6> units{
      {{1024ULL * 1024 * 1024, "GiB"},
       {1000ULL * 1000 * 1000, "GB"},
       {1024ULL * 1024, "MiB"},
       {1000ULL * 1000, "MB"},
       {1024, "KiB"},
       {1000, "KB"}}};
  for (auto [mult, name] : units) {
    if (s.bytes >= mult && s.bytes % mult == 0) return std::to_string(s.bytes / mult) + name;
  }
  return std::to_string(s.bytes);
}

std::string secret_line(const Secret& s, const stdfs::path& config_file) {
  std::string from =
      s.source == "inline" ? "inline in " + config_file.string() : "from " + s.source;
  return "password = \"****\"  # " + text::printable(from, 400) + "\n";
}

class Writer {
 public:
  void comment(std::string_view c) { out_ += "# " + text::printable(c, 400) + "\n"; }
  void header(std::string_view h) { out_ += "\n" + std::string(h) + "\n"; }
  void str(std::string_view k, std::string_view v) { kv(k, toml_string(v)); }
  void boolean(std::string_view k, bool v) { kv(k, v ? "true" : "false"); }
  void integer(std::string_view k, std::int64_t v) { kv(k, std::to_string(v)); }
  void raw(std::string_view line) { out_ += line; }
  void kv(std::string_view k, std::string_view v) {
    out_ += std::string(k) + " = " + std::string(v);
    if (preset_ && preset_->filled(k)) out_ += "  # from provider preset " + preset_->provider;
    out_ += "\n";
  }
  // Until the next call: values of the keys `use` filled get a comment naming the preset.
  void preset(const PresetUse* use) {
    preset_ = use && !use->provider.empty() ? use : nullptr;
    if (preset_) str("provider", preset_->provider);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  const PresetUse* preset_ = nullptr;
};

template <class T, class F>
std::string toml_list(const std::vector<T>& items, F text) {
  std::string list = "[";
  for (std::size_t i = 0; i < items.size(); ++i)
    list += (i ? ", " : "") + toml_string(text(items[i]));
  return list + "]";
}

void render_local(Writer& w, const Config& cfg) {
  const Local& l = cfg.local;
  w.header("[local]");
  w.str("host", l.host);
  w.integer("port", l.port);
  w.str("protocol", to_string(l.protocol));
  w.str("tls", to_string(l.tls));
  w.boolean("tls_verify", l.tls_verify);
  w.str("ca_file", l.ca_file);
  w.str("username", l.username);
  if (!l.username.empty()) w.raw(secret_line(l.password, cfg.file));
  w.boolean("allow_plaintext", l.allow_plaintext);
  w.integer("max_connections", l.max_connections);
  w.str("timeout", duration_text(l.timeout));
}

void render_oauth2(Writer& w, const Config& cfg, std::string_view header, const OAuth2& o) {
  w.header(header);
  w.comment("defined at line " + std::to_string(o.source_line));
  w.str("provider", o.provider);
  w.str("client_id", o.client_id);
  if (!o.client_secret.empty()) {
    std::string line = secret_line(o.client_secret, cfg.file);
    w.raw("client_secret" + line.substr(std::string_view("password").size()));
  }
  if (!o.tenant.empty()) w.str("tenant", o.tenant);
  w.str("token_url", o.token_url);
  w.str("device_authorization_url", o.device_authorization_url);
  w.str("authorization_url", o.authorization_url);
  w.str("scopes", o.scopes);
}

void render_account(Writer& w, const Config& cfg, const Account& a) {
  w.header("[[account]]");
  w.comment("defined at line " + std::to_string(a.source_line));
  w.str("name", a.name);
  w.boolean("enabled", a.enabled);
  w.preset(&a.preset);
  w.str("host", a.host);
  w.integer("port", a.port);
  w.str("tls", to_string(a.tls));
  w.preset(nullptr);
  w.str("ca_file", a.ca_file);
  w.boolean("tls_verify", a.tls_verify);
  w.boolean("allow_plaintext", a.allow_plaintext);
  w.str("auth", to_string(a.auth));
  w.str("username", a.username);
  if (!a.oauth2) w.raw(secret_line(a.password, cfg.file));
  w.str("poll_interval", duration_text(a.poll_interval));
  w.str("timeout", duration_text(a.timeout));
  w.boolean("keep", a.keep);
  w.integer("keep_days", a.keep_days);
  w.str("max_message_size", size_text(a.max_message_size));
  auto same = [](const std::string& x) { return x; };
  if (!a.multidrop) {
    w.kv("deliver_to", toml_list(a.deliver_to, same));
    if (a.oauth2) render_oauth2(w, cfg, "[account.oauth2]", *a.oauth2);
    return;
  }
  if (a.oauth2) render_oauth2(w, cfg, "[account.oauth2]", *a.oauth2);
  const Multidrop& m = *a.multidrop;
  w.header("[account.multidrop]");
  w.kv("domains", toml_list(m.domains, same));
  w.str("rewrite_domain", m.rewrite_domain);
  std::string map = "{";
  for (std::size_t i = 0; i < m.map.size(); ++i)
    map += std::string(i ? ", " : " ") + toml_string(m.map[i].address) + " = " + toml_list(m.map[i].targets, same);
  w.kv("map", map + (m.map.empty() ? "}" : " }"));
  w.str("default_recipient", m.default_recipient);
  w.kv("envelope_headers", toml_list(m.envelope_headers, same));
  w.integer("loop_limit", m.loop_limit);
  w.kv("duplicate_window", off_duration_text(m.duplicate_window));
}

void render_relay(Writer& w, const Relay& r) {
  w.header("[relay]");
  w.kv("listen", toml_list(r.listen, [](const inet::Endpoint& e) { return e.str(); }));
  w.kv("listen_tls", toml_list(r.listen_tls, [](const inet::Endpoint& e) { return e.str(); }));
  w.kv("allow_networks", toml_list(r.allow_networks, [](const inet::Cidr& c) { return c.str(); }));
  w.str("max_message_size", size_text(r.max_message_size));
  w.integer("max_recipients", r.max_recipients);
  w.integer("max_connections", r.max_connections);
  w.integer("max_connections_per_address", r.max_connections_per_address);
  w.str("command_timeout", duration_text(r.command_timeout));
  w.str("data_timeout", duration_text(r.data_timeout));
  w.str("bare_line_feeds", to_string(r.bare_line_feeds));
  w.str("tls_cert_file", r.tls_cert_file);
  w.str("tls_key_file", r.tls_key_file);
  w.str("max_queue_time", duration_text(r.max_queue_time));
  w.kv("delay_notice_after", off_duration_text(r.delay_notice_after));
  for (const RelayUser& u : r.users) {
    w.header("[[relay.user]]");
    w.comment("defined at line " + std::to_string(u.source_line));
    w.str("name", u.name);
    // Hashes invite offline guessing: shown as ****, so this output does not load as is.
    w.raw("password_hash = \"****\"  # hidden\n");
    if (!u.senders.empty()) w.kv("senders", toml_list(u.senders, [](const SenderPattern& p) { return p.str(); }));
  }
}

void render_smarthost(Writer& w, const Config& cfg, const Smarthost& h) {
  w.header("[[smarthost]]");
  w.comment("defined at line " + std::to_string(h.source_line));
  w.str("name", h.name);
  w.preset(&h.preset);
  w.str("host", h.host);
  w.integer("port", h.port);
  w.str("tls", to_string(h.tls));
  w.str("ca_file", h.ca_file);
  w.boolean("tls_verify", h.tls_verify);
  w.boolean("allow_plaintext", h.allow_plaintext);
  w.str("auth", to_string(h.auth));
  if (h.auth == SmarthostAuth::pop_before_smtp) w.str("pop_account", h.pop_account);
  if (!h.username.empty()) {
    w.str("username", h.username);
    if (!h.oauth2) w.raw(secret_line(h.password, cfg.file));
  }
  w.kv("senders", toml_list(h.senders, [](const SenderPattern& p) { return p.str(); }));
  w.boolean("default", h.is_default);
  w.str("rewrite_sender", h.rewrite_sender);
  w.boolean("rewrite_from_header", h.rewrite_from_header);
  w.integer("max_per_hour", h.max_per_hour);
  w.integer("max_per_day", h.max_per_day);
  w.preset(nullptr);
  w.str("max_message_size", h.max_message_size ? size_text(*h.max_message_size) : "");
  w.integer("max_connections", h.max_connections);
  w.str("timeout", duration_text(h.timeout));
  if (h.oauth2) render_oauth2(w, cfg, "[smarthost.oauth2]", *h.oauth2);
}

void render_web(Writer& w, const Web& web) {
  w.header("[web]");
  w.str("listen", web.listen ? web.listen->str() : "");
  w.str("tls_cert_file", web.tls_cert_file);
  w.str("tls_key_file", web.tls_key_file);
  w.kv("hostnames", toml_list(web.hostnames, [](const inet::HostPort& h) { return h.str(); }));
  for (const WebUser& u : web.users) {
    w.header("[[web.user]]");
    w.comment("defined at line " + std::to_string(u.source_line));
    w.str("name", u.name);
    w.raw("password_hash = \"****\"  # hidden\n");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error([&] {
        std::string all;
        for (auto& p : problems) all += (all.empty() ? "" : "\n") + p;
        return all;
      }()),
      problems_(std::move(problems)) {}

const Account* Config::find_account(std::string_view name) const {
  for (const Account& a : accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const Smarthost* Config::find_smarthost(std::string_view name) const {
  for (const Smarthost& h : smarthosts) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

const WebUser* Web::find_user(std::string_view name) const {
  for (const WebUser& u : users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

// Names are unique regardless of case (load_relay_users), so a client typing "Laptop@Office.Test"
// for "laptop@office.test" is the same login; the password still compares exactly.
const RelayUser* Relay::find_user(std::string_view name) const {
  for (const RelayUser& u : users) {
    if (text::iequals(u.name, name)) return &u;
  }
  return nullptr;
}

Config load(const stdfs::path& file) {
  const std::string shown = file.string();
  std::string error;
  auto content = read_text_file(file, error);
  if (!content) throw ConfigError({shown + ": cannot read the configuration file: " + error});

  struct stat st {};
  Problems probs(shown, ::stat(file.c_str(), &st) == 0 ? st.st_mode : 0);
  toml::table root;
  try {
    root = toml::parse(std::string_view(*content), std::string_view(shown));
  } catch (const toml::parse_error& e) {
    probs.add(e.source(), "", "TOML syntax error: " + std::string(e.description()));
    probs.raise();
  }

  Config cfg;
  cfg.file = stdfs::absolute(file).lexically_normal();
  const stdfs::path base = cfg.file.parent_path();

  check_top_level(root, probs);
  load_service(Section(table_or_empty(root, "service", probs), "service", probs, kServiceKeys),
               base, cfg.service);
  load_local(Section(table_or_empty(root, "local", probs), "local", probs, kLocalKeys), base,
             cfg.local);
  if (const toml::node* accounts = root.get("account")) load_accounts(*accounts, base, cfg, probs);
  load_relay(Section(table_or_empty(root, "relay", probs), "relay", probs, kRelayKeys), base,
             cfg.relay, probs);
  // After the accounts: pop_account must name one of them.
  if (const toml::node* hosts = root.get("smarthost")) load_smarthosts(*hosts, base, cfg, probs);
  load_web(Section(table_or_empty(root, "web", probs), "web", probs, kWebKeys), base, cfg.web, probs);

  if (!probs.empty()) probs.raise();
  return cfg;
}

std::string render_masked(const Config& cfg) {
  Writer w;
  w.comment("postbridge configuration as loaded from " + cfg.file.string());
  w.comment("(defaults filled in, paths absolute, passwords masked)");
  w.header("[service]");
  w.str("state_dir", cfg.service.state_dir.string());
  w.str("hostname", cfg.service.hostname);
  w.str("postmaster", cfg.service.postmaster);
  w.integer("max_parallel_polls", cfg.service.max_parallel_polls);
  w.str("log_level", cfg.service.log_level);
  w.str("min_free_space", size_text(cfg.service.min_free_space));
  render_local(w, cfg);
  for (const Account& a : cfg.accounts) render_account(w, cfg, a);
  render_relay(w, cfg.relay);
  for (const Smarthost& h : cfg.smarthosts) render_smarthost(w, cfg, h);
  render_web(w, cfg.web);
  return w.take();
}

const char* to_string(TlsMode m) {
  for (auto& c : kTlsChoices)
    if (c.value == m) return c.name.data();
  return "?";
}

const char* to_string(LocalProtocol p) {
  for (auto& c : kProtocolChoices)
    if (c.value == p) return c.name.data();
  return "?";
}

const char* to_string(BareLineFeeds b) {
  for (auto& c : kBareLineFeedChoices)
    if (c.value == b) return c.name.data();
  return "?";
}

const char* to_string(Pop3Auth a) {
  for (auto& c : kAuthChoices)
    if (c.value == a) return c.name.data();
  return "?";
}

std::string oauth_mechanism(Pop3Auth a) {
  return a == Pop3Auth::xoauth2 ? "XOAUTH2" : a == Pop3Auth::oauthbearer ? "OAUTHBEARER" : "";
}

std::string oauth_mechanism(SmarthostAuth a) {
  return a == SmarthostAuth::xoauth2 ? "XOAUTH2" : a == SmarthostAuth::oauthbearer ? "OAUTHBEARER" : "";
}

const char* to_string(SmarthostAuth a) {
  for (auto& c : kSmarthostAuthChoices)
    if (c.value == a) return c.name.data();
  return "?";
}

}  // namespace pb::config
