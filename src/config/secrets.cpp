// Secrets and the files keys name: passwords (a key, a file, an environment variable or a systemd
// credential), CA files, PEM certificates and keys. A secret never enters a problem message.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/loaders.hpp"

namespace pb::config::detail {

namespace stdfs = std::filesystem;

namespace {

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

// The text of a file that holds a secret (a password, a private key), refusing files other users
// can read or change. A credential is not checked for its mode: systemd creates it (read-only,
// for the service only) at every start, so a chmod would not last; the admin protects the file
// LoadCredential= reads instead. nullopt when reported.
std::optional<std::string> protected_file_text(const Section& sec, std::string_view key, const FileRef& file) {
  std::string shown = file.path.string();
  struct stat st {};
  if (::stat(file.path.c_str(), &st) != 0) {
    sec.problem(key, "cannot use " + shown + ": " + errno_text(errno));
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    sec.problem(key, shown + " is not a regular file");
    return std::nullopt;
  }
  if (!file.is_credential() && (st.st_mode & 077) != 0) {
    sec.problem(key, open_file_words(shown, st.st_mode) + "; restrict it with: chmod 600 " + shown);
    return std::nullopt;
  }
  std::ifstream in(file.path, std::ios::binary);
  if (!in) {
    sec.problem(key, "cannot read " + shown + ": " + errno_text(errno) +
                                     " (the file must belong to the user running postbridge)");
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string source_of(const FileRef& file) {
  return file.is_credential() ? "credential " + file.credential : "file " + file.path.string();
}

// Reads a password file: its first line (first_line_password says why nothing else).
void read_secret_file(const Section& sec, std::string_view key, const FileRef& file, Secret& out) {
  auto text = protected_file_text(sec, key, file);
  if (!text) return;
  auto password = first_line_password(*text);
  std::fill(text->begin(), text->end(), '\0');
  if (!password.ok()) {
    sec.problem(key, file.path.string() + password.problem);
    return;
  }
  out.value = std::move(password.value);
  out.source = source_of(file);
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

bool read_private_file(const Section& sec, const stdfs::path& base, std::string_view key, Secret& out) {
  const std::string* s = sec.string(key);
  if (!s) return sec.node(key) != nullptr;
  if (s->empty()) {
    sec.problem(key, "is empty; give the path of the file");
    return true;
  }
  auto file = file_ref(sec, base, key, *s, ".key");
  if (!file) return true;
  if (auto text = protected_file_text(sec, key, *file)) {
    out.value = std::move(*text);
    out.source = source_of(*file);
  }
  return true;
}

// ca_file: optional; resolved against the config folder; must be a readable file.
void read_ca_file(const Section& sec, const stdfs::path& base, std::string& out) {
  read_ca_file(sec, base, "ca_file", out);
}

void read_ca_file(const Section& sec, const stdfs::path& base, std::string_view key, std::string& out) {
  const std::string* s = sec.string(key);
  if (!s || s->empty()) return;
  stdfs::path p = resolve(base, *s);
  std::error_code ec;
  if (!stdfs::is_regular_file(p, ec)) {
    sec.problem(key, p.string() +
                               " does not exist or is not a file; give a PEM file with "
                               "the CA certificate(s), or remove the key to use the "
                               "system trust store");
    return;
  }
  if (::access(p.c_str(), R_OK) != 0) {
    sec.problem(key, "cannot read " + p.string() + ": " + errno_text(errno));
    return;
  }
  out = p.string();
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

}  // namespace pb::config::detail
