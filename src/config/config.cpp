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

#include "mail/address.hpp"
#include "util/text.hpp"

namespace pb::config {
namespace {

namespace stdfs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Problem collection

class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}

  void add(const toml::source_region& at, std::string_view key, std::string_view what) {
    add(static_cast<int>(at.begin.line), static_cast<int>(at.begin.column), key, what);
  }
  // line 0: no position (e.g. a default that does not work, with the section absent).
  void add(int line, int col, std::string_view key, std::string_view what) {
    std::string text = file_ + ":";
    if (line > 0) text += std::to_string(line) + ":" + std::to_string(col) + ":";
    text += " ";
    if (!key.empty()) text += std::string(key) + ": ";
    text += what;
    items_.push_back({line, col, items_.size(), std::move(text)});
  }
  bool empty() const { return items_.empty(); }

  // In file order, so the list reads top to bottom like the file.
  [[noreturn]] void raise() {
    std::sort(items_.begin(), items_.end());
    std::vector<std::string> lines;
    for (auto& item : items_) lines.push_back(std::get<3>(item));
    throw ConfigError(std::move(lines));
  }

 private:
  std::string file_;
  std::vector<std::tuple<int, int, std::size_t, std::string>> items_;
};

// ---------------------------------------------------------------------------------------------
// Small helpers

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "floating-point number";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string in_quotes(std::string_view s) { return "'" + text::printable(s, 80) + "'"; }

// "did you mean" for typos: the closest candidate within edit distance 2, or one that the
// word is a prefix of (or that is a prefix of the word).
std::string suggestion(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_distance = 3;
  for (auto c : candidates) {
    std::size_t d = text::edit_distance(word, c);
    bool prefix = word.size() >= 3 && (c.starts_with(word) || word.starts_with(c));
    if (prefix && d > 2) d = 2;
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  if (best.empty()) return "";
  return "; did you mean '" + std::string(best) + "'?";
}

std::string join_quoted(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += i + 1 == names.size() ? " or " : ", ";
    out += "\"" + std::string(names[i]) + "\"";
  }
  return out;
}

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

template <class E>
struct Choice {
  std::string_view name;
  E value;
};

constexpr std::array<Choice<TlsMode>, 3> kTlsChoices{
    {{"none", TlsMode::none}, {"starttls", TlsMode::starttls}, {"implicit", TlsMode::implicit}}};
constexpr std::array<Choice<LocalProtocol>, 2> kProtocolChoices{
    {{"smtp", LocalProtocol::smtp}, {"lmtp", LocalProtocol::lmtp}}};
constexpr std::array<Choice<Pop3Auth>, 4> kAuthChoices{{{"auto", Pop3Auth::automatic},
                                                        {"plain", Pop3Auth::sasl_plain},
                                                        {"apop", Pop3Auth::apop},
                                                        {"user", Pop3Auth::user_pass}}};
constexpr std::array<Choice<std::string_view>, 5> kLogLevels{{{"error", "error"},
                                                              {"warning", "warning"},
                                                              {"notice", "notice"},
                                                              {"info", "info"},
                                                              {"debug", "debug"}}};

// ---------------------------------------------------------------------------------------------
// Section: typed access to one TOML table; reports unknown keys and wrong types. Getters leave
// the output untouched (the default) when the key is absent or its value is invalid.

class Section {
 public:
  Section(const toml::table& t, std::string path, Problems& problems,
          std::vector<std::string_view> known)
      : table_(t), path_(std::move(path)), problems_(problems), known_(std::move(known)) {
    for (auto&& [key, node] : table_) {
      if (std::find(known_.begin(), known_.end(), key.str()) != known_.end()) continue;
      problems_.add(key.source(), key_path(key.str()),
                    "unknown key" + suggestion(key.str(), known_));
    }
  }

  const toml::table& table() const { return table_; }
  const toml::node* node(std::string_view key) const { return table_.get(key); }
  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  void problem(std::string_view key, std::string_view what) const {
    const toml::node* n = node(key);
    if (n)
      problems_.add(n->source(), key_path(key), what);
    else
      problems_.add(table_.source(), key_path(key), what);
  }
  void problem_at(const toml::node& n, std::string_view key, std::string_view what) const {
    problems_.add(n.source(), key_path(key), what);
  }
  void wrong_type(std::string_view key, std::string_view expected) const {
    problem(key, "expected " + std::string(expected) + ", got " + type_name(node(key)->type()));
  }
  void missing(std::string_view key, std::string_view hint) const {
    problems_.add(table_.source(), key_path(key), "missing; " + std::string(hint));
  }

  const std::string* string(std::string_view key, std::string_view expected = "a string") const {
    const toml::node* n = node(key);
    if (!n) return nullptr;
    if (auto* v = n->as_string()) return &v->get();
    wrong_type(key, expected);
    return nullptr;
  }

  bool get(std::string_view key, std::string& out) const {
    if (auto* s = string(key)) {
      out = *s;
      return true;
    }
    return false;
  }

  // A string that must be present and non-empty; true if `out` holds one.
  bool required(std::string_view key, std::string& out, std::string_view hint) const {
    if (!node(key)) {
      missing(key, hint);
      return false;
    }
    if (!get(key, out)) return false;
    if (out.empty()) {
      problem(key, "is empty; " + std::string(hint));
      return false;
    }
    return true;
  }

  bool get(std::string_view key, bool& out) const {
    const toml::node* n = node(key);
    if (!n) return false;
    if (auto* v = n->as_boolean()) {
      out = v->get();
      return true;
    }
    wrong_type(key, "true or false");
    return false;
  }

  template <class Int>
  bool get_int(std::string_view key, Int& out, std::int64_t lo, std::int64_t hi) const {
    const toml::node* n = node(key);
    if (!n) return false;
    std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    auto* v = n->as_integer();
    if (!v) {
      wrong_type(key, "a whole number " + range);
      return false;
    }
    if (v->get() < lo || v->get() > hi) {
      problem(key, std::to_string(v->get()) + " is out of range; allowed " + range);
      return false;
    }
    out = static_cast<Int>(v->get());
    return true;
  }

  bool get_port(std::string_view key, std::uint16_t& out) const {
    return get_int(key, out, 1, 65535);
  }

  bool get_duration(std::string_view key, Duration& out, Duration min) const {
    const std::string* s = string(key, "a string like \"5m\"");
    if (!s) return false;
    auto d = parse_duration(*s);
    if (!d) {
      problem(key, in_quotes(*s) +
                       " is not a duration; use a number with a unit: \"500ms\", "
                       "\"30s\", \"5m\", \"1h\", \"2d\" or combined like \"1h30m\"");
      return false;
    }
    if (*d < min) {
      problem(key, in_quotes(*s) + " is too short; the minimum is " + format_duration(min));
      return false;
    }
    out = *d;
    return true;
  }

  bool get_size(std::string_view key, ByteSize& out) const {
    const toml::node* n = node(key);
    if (!n) return false;
    std::optional<ByteSize> size;
    std::string shown;
    if (auto* i = n->as_integer()) {  // a bare integer counts bytes
      if (i->get() >= 0) size = ByteSize{static_cast<std::uint64_t>(i->get())};
      shown = std::to_string(i->get());
    } else if (auto* s = n->as_string()) {
      size = parse_size(s->get());
      shown = in_quotes(s->get());
    } else {
      wrong_type(key, "a string like \"50MB\"");
      return false;
    }
    if (!size) {
      problem(key, shown +
                       " is not a size; use bytes or a unit: \"512KB\", \"50MB\", "
                       "\"1GB\" (powers of 1000) or \"64MiB\" (powers of 1024)");
      return false;
    }
    if (size->bytes == 0) {
      problem(key, "must be at least 1 byte");
      return false;
    }
    out = *size;
    return true;
  }

  template <class E, std::size_t N>
  bool get_enum(std::string_view key, E& out, const std::array<Choice<E>, N>& choices) const {
    std::vector<std::string_view> names;
    for (auto& c : choices) names.push_back(c.name);
    const std::string* s = string(key, "one of " + join_quoted(names));
    if (!s) return false;
    for (auto& c : choices) {
      if (c.name == *s) {
        out = c.value;
        return true;
      }
    }
    problem(key,
            in_quotes(*s) + " is not allowed; use " + join_quoted(names) + suggestion(*s, names));
    return false;
  }

 private:
  const toml::table& table_;
  std::string path_;
  Problems& problems_;
  std::vector<std::string_view> known_;
};

// ---------------------------------------------------------------------------------------------
// Secrets and files

// Reads a password file, refusing files other users can read or change.
void read_secret_file(const Section& sec, const stdfs::path& file, Secret& out) {
  std::string shown = file.string();
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    sec.problem("password_file", "cannot use " + shown + ": " + errno_text(errno));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    sec.problem("password_file", shown + " is not a regular file");
    return;
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    sec.problem("password_file", shown + " is accessible by other users (mode " + mode +
                                     "); restrict it with: chmod 600 " + shown);
    return;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    sec.problem("password_file", "cannot read " + shown + ": " + errno_text(errno) +
                                     " (the file must belong to the user running postbridge)");
    return;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string value = ss.str();
  // Editors add one final newline; strip exactly that (and a CR before it), nothing else.
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  if (value.empty()) {
    sec.problem("password_file", shown + " is empty; put the password on its first line");
    return;
  }
  out.value = std::move(value);
  out.source = "file " + shown;
}

// Several password sources: report each later one, naming the first, so the message points
// at the line to delete.
void report_extra_secrets(const Section& sec, std::vector<std::string_view> present) {
  std::sort(present.begin(), present.end(), [&](auto a, auto b) {
    return sec.node(a)->source().begin < sec.node(b)->source().begin;
  });
  std::string first_line = std::to_string(sec.node(present[0])->source().begin.line);
  for (std::size_t i = 1; i < present.size(); ++i) {
    sec.problem(present[i], "the password is already given by '" + std::string(present[0]) +
                                "' (line " + first_line +
                                "); use only one of password, password_file, password_env");
  }
}

void read_secret_env(const Section& sec, const std::string& name, Secret& out) {
  const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
  if (name.empty())
    sec.problem("password_env", "is empty; give the name of an environment variable");
  else if (!v || !*v)
    sec.problem("password_env", "environment variable " + name + " is not set or empty");
  else {
    out.value = v;
    out.source = "env " + name;
  }
}

// Exactly one of password / password_file / password_env. Returns true if one was given
// (even if reading it failed, so callers do not also report "missing").
bool read_secret(const Section& sec, const stdfs::path& base, Secret& out) {
  std::vector<std::string_view> present;
  for (std::string_view k : {"password", "password_file", "password_env"}) {
    if (sec.node(k)) present.push_back(k);
  }
  if (present.empty()) return false;
  if (present.size() > 1) {
    report_extra_secrets(sec, present);
    return true;
  }
  std::string_view key = present[0];
  const std::string* s = sec.string(key);
  if (!s) return true;
  if (key == "password") {
    if (s->empty()) sec.problem(key, "is empty");
    out.value = *s;
    out.source = "inline";
  } else if (key == "password_file") {
    if (s->empty())
      sec.problem(key, "is empty; give the path of a file holding the password");
    else
      read_secret_file(sec, resolve(base, *s), out);
  } else {
    read_secret_env(sec, *s, out);
  }
  return true;
}

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
                                                 "max_parallel_polls", "log_level"};
const std::vector<std::string_view> kLocalKeys{
    "host",     "port",     "protocol",      "tls",          "tls_verify",      "ca_file",
    "username", "password", "password_file", "password_env", "allow_plaintext", "max_connections",
    "timeout"};
const std::vector<std::string_view> kAccountKeys{
    "name",         "enabled",         "host",    "port",     "tls",       "ca_file",
    "tls_verify",   "allow_plaintext", "auth",    "username", "password",  "password_file",
    "password_env", "poll_interval",   "timeout", "keep",     "keep_days", "max_message_size",
    "deliver_to"};

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
  bool has_password = read_secret(sec, base, out.password);
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
                "e.g. deliver_to = [\"info@firma.local\"]");
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

// Where and how to connect to the provider.
void load_account_connection(const Section& sec, const stdfs::path& base, Account& out) {
  if (sec.required("host", out.host,
                   "give the provider's POP3 server, e.g. host = \"pop3.example.net\"") &&
      !valid_host(out.host)) {
    sec.problem("host", in_quotes(out.host) + " is not a host name or IP address");
  }
  sec.get_enum("tls", out.tls, kTlsChoices);
  // RFC 8314 3.3: POP3 over implicit TLS is port 995; plain/STARTTLS POP3 is 110 (RFC 1939 3).
  out.port = out.tls == TlsMode::implicit ? 995 : 110;
  sec.get_port("port", out.port);
  read_ca_file(sec, base, out.ca_file);
  sec.get("tls_verify", out.tls_verify);
  sec.get("allow_plaintext", out.allow_plaintext);
  sec.get_duration("timeout", out.timeout, kMinTimeout);
}

void load_account_login(const Section& sec, const stdfs::path& base, Account& out) {
  sec.get_enum("auth", out.auth, kAuthChoices);
  sec.required("username", out.username, "give the mailbox login, often the full address");
  if (!read_secret(sec, base, out.password)) {
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

void load_account(const Section& sec, const stdfs::path& base, Account& out) {
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
  load_deliver_to(sec, out);
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
    load_account(sec, base, acc);
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

// Top level: known sections, and a hint when a section's key is written outside any section.
void check_top_level(const toml::table& root, Problems& probs) {
  const std::vector<std::string_view> sections{"service", "local", "account"};
  for (auto&& [key, node] : root) {
    if (std::find(sections.begin(), sections.end(), key.str()) != sections.end()) continue;
    // A section's key written above every section header: say where it belongs.
    std::vector<std::string_view> homes;
    auto knows = [&](const auto& keys) {
      return std::find(keys.begin(), keys.end(), key.str()) != keys.end();
    };
    if (knows(kServiceKeys)) homes.push_back("[service]");
    if (knows(kLocalKeys)) homes.push_back("[local]");
    if (knows(kAccountKeys)) homes.push_back("[[account]]");
    std::string hint;
    for (std::size_t i = 0; i < homes.size(); ++i) {
      hint += (i == 0 ? "; it belongs under " : " or ") + std::string(homes[i]);
    }
    if (hint.empty()) hint = suggestion(key.str(), sections);
    if (hint.empty()) hint = "; allowed: [service], [local], [[account]]";
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
    out_ += std::string(k) + " = " + std::string(v) + "\n";
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

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

void render_account(Writer& w, const Config& cfg, const Account& a) {
  w.header("[[account]]");
  w.comment("defined at line " + std::to_string(a.source_line));
  w.str("name", a.name);
  w.boolean("enabled", a.enabled);
  w.str("host", a.host);
  w.integer("port", a.port);
  w.str("tls", to_string(a.tls));
  w.str("ca_file", a.ca_file);
  w.boolean("tls_verify", a.tls_verify);
  w.boolean("allow_plaintext", a.allow_plaintext);
  w.str("auth", to_string(a.auth));
  w.str("username", a.username);
  w.raw(secret_line(a.password, cfg.file));
  w.str("poll_interval", duration_text(a.poll_interval));
  w.str("timeout", duration_text(a.timeout));
  w.boolean("keep", a.keep);
  w.integer("keep_days", a.keep_days);
  w.str("max_message_size", size_text(a.max_message_size));
  std::string list = "[";
  for (std::size_t i = 0; i < a.deliver_to.size(); ++i) {
    list += (i ? ", " : "") + toml_string(a.deliver_to[i]);
  }
  w.kv("deliver_to", list + "]");
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

Config load(const stdfs::path& file) {
  const std::string shown = file.string();
  std::string error;
  auto content = read_text_file(file, error);
  if (!content) throw ConfigError({shown + ": cannot read the configuration file: " + error});

  Problems probs(shown);
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
  render_local(w, cfg);
  for (const Account& a : cfg.accounts) render_account(w, cfg, a);
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

const char* to_string(Pop3Auth a) {
  for (auto& c : kAuthChoices)
    if (c.value == a) return c.name.data();
  return "?";
}

}  // namespace pb::config
