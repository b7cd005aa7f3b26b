// What the config loaders share (internal to src/config): each file reads some sections
// (load_service.cpp, load_accounts.cpp, load_relay.cpp, ...); load() in config.cpp calls them in
// file order. Everything here reports through Section/Problems (section.hpp) and never throws.
#pragma once
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/presets.hpp"
#include "config/section.hpp"
#include "mail/address.hpp"

namespace pb::config::detail {

// ---------------------------------------------------------------------------------------------
// Small helpers

inline std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  return (base / p).lexically_normal();  // an absolute p replaces base
}

inline std::string errno_text(int err) { return std::strerror(err); }

// Host for TCP connections: a DNS name or an IP address (IPv6 without brackets); getaddrinfo
// does no IDN conversion, so only ASCII is useful here.
inline bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '.' || c == '-' || c == ':' || c == '_';
  });
}

// RFC 5321 4.1.1.1: the EHLO name is a Domain or address literal; ASCII so that it works
// without SMTPUTF8.
inline bool valid_hostname(std::string_view h) {
  auto a = mail::Address::parse("postmaster@" + std::string(h));
  return a && a->is_ascii();
}

inline bool valid_account_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

inline constexpr std::array<Choice<TlsMode>, 3> kTlsChoices{
    {{"none", TlsMode::none}, {"starttls", TlsMode::starttls}, {"implicit", TlsMode::implicit}}};
inline constexpr std::array<Choice<LocalProtocol>, 2> kProtocolChoices{
    {{"smtp", LocalProtocol::smtp}, {"lmtp", LocalProtocol::lmtp}}};
inline constexpr std::array<Choice<FetchProtocol>, 2> kFetchProtocolChoices{
    {{"pop3", FetchProtocol::pop3}, {"imap", FetchProtocol::imap}}};
inline constexpr std::array<Choice<BareLineFeeds>, 2> kBareLineFeedChoices{
    {{"normalize", BareLineFeeds::normalize}, {"reject", BareLineFeeds::reject}}};
inline constexpr std::array<Choice<Pop3Auth>, 6> kAuthChoices{{{"auto", Pop3Auth::automatic},
                                                        {"plain", Pop3Auth::sasl_plain},
                                                        {"apop", Pop3Auth::apop},
                                                        {"user", Pop3Auth::user_pass},
                                                        {"xoauth2", Pop3Auth::xoauth2},
                                                        {"oauthbearer", Pop3Auth::oauthbearer}}};
inline constexpr std::array<Choice<SmarthostAuth>, 8> kSmarthostAuthChoices{
    {{"auto", SmarthostAuth::automatic},
     {"plain", SmarthostAuth::plain},
     {"login", SmarthostAuth::login},
     {"cram-md5", SmarthostAuth::cram_md5},
     {"pop-before-smtp", SmarthostAuth::pop_before_smtp},
     {"none", SmarthostAuth::none},
     {"xoauth2", SmarthostAuth::xoauth2},
     {"oauthbearer", SmarthostAuth::oauthbearer}}};
inline constexpr std::array<Choice<std::string_view>, 5> kLogLevels{{{"error", "error"},
                                                              {"warning", "warning"},
                                                              {"notice", "notice"},
                                                              {"info", "info"},
                                                              {"debug", "debug"}}};

// ---------------------------------------------------------------------------------------------
// Keys of each section

inline const std::vector<std::string_view> kServiceKeys{"state_dir", "hostname", "postmaster",
                                                 "max_parallel_polls", "log_level",
                                                 "min_free_space"};
inline const std::vector<std::string_view> kLocalKeys{
    "host",     "port",     "protocol",      "tls",          "tls_verify",      "ca_file",
    "username", "password", "password_file", "password_env", "allow_plaintext", "max_connections",
    "timeout"};
inline const std::vector<std::string_view> kAccountKeys{
    "provider",
    "name",         "enabled",         "host",    "port",     "tls",       "ca_file",
    "tls_verify",   "allow_plaintext", "auth",    "username", "password",  "password_file",
    "password_env", "poll_interval",   "timeout", "keep",     "keep_days", "max_message_size",
    "deliver_to",   "multidrop",       "oauth2",  "protocol", "folders",   "move_to"};

inline const std::vector<std::string_view> kRelayKeys{
    "listen",          "allow_networks",  "max_message_size",   "max_recipients",
    "max_connections", "max_connections_per_address",           "command_timeout",
    "data_timeout",    "tls_cert_file",   "tls_key_file",       "max_queue_time",
    "delay_notice_after", "user",          "listen_tls",         "bare_line_feeds"};
// password*: recognised only to explain that plain-text passwords do not belong here.
inline const std::vector<std::string_view> kRelayUserKeys{"name", "password_hash", "password",
                                                   "password_file", "password_env", "senders"};
inline const std::vector<std::string_view> kWebKeys{"listen", "tls_cert_file", "tls_key_file", "user", "hostnames"};
inline const std::vector<std::string_view> kWebUserKeys{"name", "password_hash", "password", "password_file",
                                                 "password_env"};
inline const std::vector<std::string_view> kAlertsKeys{
    "recipients",     "remind_every",    "after",         "resolve_after",      "webhook_url",
    "webhook_format", "webhook_ca_file", "webhook_token", "webhook_token_file", "webhook_token_env",
    "daily_report",   "language"};
inline constexpr std::array<Choice<Alerts::Language>, 2> kLanguageChoices{
    {{"en", Alerts::Language::en}, {"de", Alerts::Language::de}}};
inline constexpr std::array<Choice<WebhookFormat>, 3> kWebhookFormatChoices{
    {{"json", WebhookFormat::json}, {"ntfy", WebhookFormat::ntfy}, {"gotify", WebhookFormat::gotify}}};
// clang-format off
inline const std::vector<std::string_view> kSmarthostKeys{
    "name", "provider", "host", "port", "tls", "ca_file", "tls_verify", "allow_plaintext", "max_connections",
    "timeout", "auth", "pop_account", "username", "password", "password_file", "password_env",
    "senders", "default", "rewrite_sender", "rewrite_from_header", "max_per_hour", "max_per_day",
    "max_message_size", "oauth2"};
// clang-format on

inline constexpr Duration kMinTimeout = std::chrono::seconds(1);
inline constexpr Duration kMinPollInterval = std::chrono::seconds(1);

// RFC 4954 4 / RFC 3207 6: AUTH over an unencrypted connection exposes the password.
inline constexpr const char* kCleartextWarning =
    "the password would travel over the network in clear text, readable by anyone on the way";

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

// ---------------------------------------------------------------------------------------------
// Files and secrets (secrets.cpp)

// The whole file, or nullopt with `error` saying why (errno text, "it is a folder").
std::optional<std::string> read_text_file(const std::filesystem::path& file, std::string& error);

// Exactly one of KEY / KEY_file / KEY_env (KEY: "password", "client_secret") read into `out`.
// True when one was given, even if reading it failed.
bool read_secret(const Section& sec, const std::filesystem::path& base, std::string_view key, Secret& out);

// A whole file that holds a secret other than a password (a private key, a service account's
// JSON key), named by `key` (a path or "credential:NAME"), checked like a password file (not
// accessible by other users). True when the key was given, even if reading it failed; out.value
// is the text only when it could be read.
bool read_private_file(const Section& sec, const std::filesystem::path& base, std::string_view key, Secret& out);

// ca_file: optional; resolved against the config folder; must be a readable file.
void read_ca_file(const Section& sec, const std::filesystem::path& base, std::string& out);
// The same for another key than "ca_file" ([alerts] webhook_ca_file).
void read_ca_file(const Section& sec, const std::filesystem::path& base, std::string_view key, std::string& out);

// A PEM certificate (private_key false) or private key named by `key`; its absolute path, or
// nullopt (reported) when absent, empty, unreadable, open to others or not PEM.
std::optional<std::string> read_pem_file(const Section& sec, const std::filesystem::path& base,
                                         std::string_view key, bool private_key);

// ---------------------------------------------------------------------------------------------
// Sections, in the order load() reads them

void load_service(const Section& sec, const std::filesystem::path& base, Service& out);  // load_service.cpp
void load_local(const Section& sec, const std::filesystem::path& base, Local& out);      // load_service.cpp

// connection.cpp: the `provider` preset of an [[account]] or [[smarthost]] (nullptr: none), and
// host, port and tls from the table or, where it has none, from the preset's `server`.
const ProviderPreset* load_provider(const Section& sec, PresetUse& use);
// `what`: "POP3 server" or "SMTP server"; `standard_port`: the port for a tls mode without preset.
// Defined for Account and Smarthost.
template <class Server>
void load_server(const Section& sec, const ProviderPreset* preset, const ServerPreset* server,
                 std::string_view what, std::uint16_t (*standard_port)(TlsMode), Server& out);
std::uint16_t pop3_port(TlsMode tls);
std::uint16_t imap_port(TlsMode tls);
std::uint16_t submission_port(TlsMode tls);

// [[account]] (load_accounts.cpp) and [account.multidrop] (multidrop.cpp). `account` is the
// enclosing [[account]] section, whose path prefixes every key; postmaster is the default of
// default_recipient.
void load_accounts(const toml::node& n, const std::filesystem::path& base, Config& cfg, Problems& probs);
void load_multidrop(const toml::node& node, const Section& account, const std::string& postmaster,
                    Problems& problems, Multidrop& out);

// [account.oauth2] / [smarthost.oauth2] (oauth2.cpp). `owner` is the enclosing section;
// `owner_provider` its `provider` preset ("gmail", "microsoft365" pick the OAuth provider).
void load_oauth2(const toml::node& node, const Section& owner, const std::filesystem::path& base,
                 std::string_view owner_provider, OAuth2& out);
// auth = "xoauth2" / "oauthbearer" (`oauth`): [NAME.oauth2] instead of a password; false when
// the login is not OAuth (and the table must not be there). True means: no password to read.
bool load_oauth_login(const Section& sec, const std::filesystem::path& base, bool oauth, std::string_view auth_name,
                      std::string_view section_name, const PresetUse& preset, std::optional<OAuth2>& out);

// ---------------------------------------------------------------------------------------------
// What [relay] and [web] share (logins.cpp)

// Who uses a TLS key pair, for the message when half of it is missing.
struct TlsKeyPairUse {
  std::string_view protocol;   // "STARTTLS", "HTTPS"
  std::string_view file_stem;  // the example files: /etc/postbridge/STEM.pem and STEM.key
};
// tls_cert_file and tls_key_file of `sec`: both or neither. Sets both outputs only when both
// files are usable (read_pem_file).
void load_tls_key_pair(const Section& sec, const std::filesystem::path& base, const TlsKeyPairUse& use,
                       std::string& cert_file, std::string& key_file);

// Which [[SECTION.user]] logins are read, and the words their messages use.
struct LoginKind {
  std::string_view section;  // "relay" -> [[relay.user]]
  std::string_view who;      // "relay logins", in "... are checked against a password hash"
  std::string_view example;  // a typical name: "scanner"
  bool senders;              // relay: a login may limit its envelope senders (kRelayUserKeys)
};
// The `user` key of `owner` ([[SECTION.user]] tables) into `out`; names unique regardless of case.
void load_logins(const Section& owner, const LoginKind& kind, Problems& probs, std::vector<Login>& out);


void load_relay(const Section& sec, const std::filesystem::path& base, Relay& out, Problems& probs);  // load_relay.cpp

// [[smarthost]] (load_smarthosts.cpp), after the accounts: pop_account must name one of them.
void load_smarthosts(const toml::node& n, const std::filesystem::path& base, Config& cfg, Problems& probs);
struct PatternAt;
using PatternNodes = std::vector<PatternAt>;
// Reads the "senders" list of `sec` into `out`; with `nodes`, also where each pattern stands.
void load_sender_list(const Section& sec, std::vector<SenderPattern>& out, PatternNodes* nodes);

void load_web(const Section& sec, const std::filesystem::path& base, Web& out, Problems& probs);  // load_web.cpp

// [alerts] (load_alerts.cpp); `postmaster` is the default recipient.
void load_alerts(const Section& sec, const std::filesystem::path& base, const std::string& postmaster, Alerts& out);

}  // namespace pb::config::detail
