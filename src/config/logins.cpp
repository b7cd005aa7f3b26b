// What [relay] and [web] share: a TLS certificate and key pair, and the [[relay.user]] /
// [[web.user]] logins checked against password hashes.
#include "config/loaders.hpp"
#include "util/password.hpp"

namespace pb::config::detail {

namespace stdfs = std::filesystem;

namespace {

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

// A tls_*_file key that holds a non-empty string, whether or not the file is usable.
bool given(const Section& sec, std::string_view key) {
  const toml::node* n = sec.node(key);
  return n && n->as_string() && !n->as_string()->get().empty();
}

// password_hash: a complete crypt(3) string of a kind password::verify_password() knows. The
// value is never echoed: a plain-text password pasted here must not reach the log.
void load_password_hash(const Section& sec, bool plain, Login& out) {
  std::string hash;
  if (!sec.node("password_hash")) {
    if (!plain) sec.missing("password_hash", kHashHint);
    return;
  }
  if (!sec.get("password_hash", hash)) return;
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

void load_login(const Section& sec, const LoginKind& kind, Login& out) {
  out.source_line = static_cast<int>(sec.table().source().begin.line);
  if (kind.senders && sec.node("senders")) load_sender_list(sec, out.senders, nullptr);
  if (sec.required("name", out.name, "give the login name, e.g. name = \"" + std::string(kind.example) + "\"") &&
      !valid_user_name(out.name)) {
    sec.problem("name", in_quotes(out.name) +
                            " is not allowed; use 1 to 64 letters, digits, '.', '_', '-', "
                            "'@' or '+'");
  }
  // password*: recognised only to explain that plain-text passwords do not belong here.
  bool plain = false;
  for (std::string_view k : {"password", "password_file", "password_env"}) {
    if (!sec.node(k)) continue;
    plain = true;
    sec.problem(k, std::string(kind.who) +
                       " are checked against a password hash, so no plain-text "
                       "password is kept; put password_hash = \"$y$...\" here instead: " +
                       kHashHint);
  }
  load_password_hash(sec, plain, out);
}

}  // namespace

// tls_cert_file and tls_key_file: both or neither (RFC 3207: STARTTLS needs both; so does HTTPS).
void load_tls_key_pair(const Section& sec, const stdfs::path& base, const TlsKeyPairUse& use,
                       std::string& cert_file, std::string& key_file) {
  auto cert = read_pem_file(sec, base, "tls_cert_file", false);
  auto key = read_pem_file(sec, base, "tls_key_file", true);
  const std::string needs = "; " + std::string(use.protocol) + " needs the certificate and its private key: add ";
  if (given(sec, "tls_cert_file") && !given(sec, "tls_key_file")) {
    sec.problem("tls_cert_file", "is set but tls_key_file is not" + needs + "tls_key_file = \"/etc/postbridge/" +
                                     std::string(use.file_stem) + ".key\"");
  } else if (given(sec, "tls_key_file") && !given(sec, "tls_cert_file")) {
    sec.problem("tls_key_file", "is set but tls_cert_file is not" + needs + "tls_cert_file = \"/etc/postbridge/" +
                                    std::string(use.file_stem) + ".pem\"");
  } else if (cert && key) {
    cert_file = *cert;
    key_file = *key;
  }
}

void load_logins(const Section& owner, const LoginKind& kind, Problems& probs, std::vector<Login>& out) {
  const toml::node* n = owner.node("user");
  if (!n) return;
  const std::string header = "[[" + std::string(kind.section) + ".user]]";
  auto* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables()) {
    owner.problem("user", "expected " + header + " sections, got " + type_name(n->type()) +
                              "; write each login as " + header + " with two brackets");
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    Section sec(*arr->get(i)->as_table(), std::string(kind.section) + ".user[" + std::to_string(i) + "]", probs,
                kind.senders ? kRelayUserKeys : kWebUserKeys);
    Login login;
    load_login(sec, kind, login);
    // Unique regardless of case: find_login() matches a name typed in any case.
    for (const Login& prev : out) {
      if (!login.name.empty() && text::iequals(prev.name, login.name)) {
        sec.problem("name", in_quotes(login.name) + " is already used by the login at line " +
                                std::to_string(prev.source_line) + "; names must be unique");
        break;
      }
    }
    out.push_back(std::move(login));
  }
}

}  // namespace pb::config::detail
