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

}  // namespace

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

}  // namespace pb::config::detail
