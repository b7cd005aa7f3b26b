// The typed configuration: the single source of truth, parsed once from TOML by load().
// Every error names FILE:LINE:COL and the key; a Config that load() returns is fully valid.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/inet.hpp"
#include "util/units.hpp"

namespace pb::config {

enum class TlsMode { none, starttls, implicit };
enum class LocalProtocol { smtp, lmtp };
// [relay] bare_line_feeds: what the listener does with a line end other than CRLF in a message
// (named like Postfix's smtpd_forbid_bare_newline values). Only CRLF.CRLF ends DATA either way.
enum class BareLineFeeds {
  normalize,  // a bare LF is stored as CRLF and the message accepted; a bare CR stays in its line
  reject,     // a bare LF or CR refuses the message (554 5.6.11)
};
// POP3 login method. automatic: CAPA decides (SASL PLAIN, then APOP if the greeting has a
// timestamp, then USER/PASS). xoauth2 / oauthbearer (RFC 7628): an OAuth 2.0 access token
// instead of the password ([account.oauth2]).
enum class Pop3Auth { automatic, sasl_plain, apop, user_pass, xoauth2, oauthbearer };
// How an [[account]] fetches: POP3 (the default) or IMAP (folders, UID EXPUNGE or MOVE after delivery).
enum class FetchProtocol { pop3, imap };

// A password and where it came from. The value is never printed; describe() is safe to show.
struct Secret {
  std::string value;
  // "inline", "file /etc/postbridge/x.secret", "env POP_PW", "credential strato" (systemd)
  std::string source;
  bool empty() const { return value.empty(); }
};

// What the `provider` preset of an [[account]] or [[smarthost]] filled in (presets.hpp), so that
// `postbridge check` can tell preset values from written ones.
struct PresetUse {
  std::string provider;           // the preset's name; empty: no preset
  std::vector<std::string> keys;  // the keys whose value came from it: "host", "port", ...
  bool filled(std::string_view key) const {
    for (const std::string& k : keys)
      if (k == key) return true;
    return false;
  }
};

// [account.oauth2] / [smarthost.oauth2]: where the access tokens of an auth = "xoauth2" or
// "oauthbearer" login come from. The refresh token is not in the config: `postbridge oauth login`
// obtains it and keeps it in the state directory (oauth/, mode 0600).
// Who logs in: a person once (`postbridge oauth login`, refresh token stored), or the
// application itself each time (no person, no stored token).
enum class OAuthGrant {
  user,                // device or browser sign-in, then refresh tokens
  client_credentials,  // RFC 6749 4.4: Microsoft 365 app-only, with a certificate or a secret
  service_account,     // RFC 7523 2.1: a Google service account with domain-wide delegation
};

struct OAuth2 {
  OAuthGrant grant = OAuthGrant::user;
  std::string provider;  // "microsoft", "google" or "custom"
  std::string client_id;
  Secret client_secret;  // empty: a public client (device flow, PKCE)
  std::string tenant;    // microsoft only: "common" (default), "organizations", a tenant id or domain
  std::string token_url;                 // filled by the provider preset unless written
  std::string device_authorization_url;  // empty: no device flow; login in a browser (PKCE)
  std::string authorization_url;         // for the browser login
  std::string scopes;                    // space-separated
  // The application's private key (PEM) for grant client_credentials (client_key_file) or
  // service_account (the key file's private_key): never logged, never in a message.
  Secret private_key;
  std::string certificate_x5t;       // client_certificate_file's thumbprints (base64url SHA-1,
  std::string certificate_x5t_s256;  // SHA-256), checked at load to belong to private_key
  std::string service_account;       // service_account: client_email, the assertions' issuer
  std::string service_account_key_id;  // service_account: private_key_id, the assertions' kid
  std::string subject;               // service_account: the mailbox (the owner's username)
  int source_line = 0;               // line of the [*.oauth2] header
};

struct Service {
  std::filesystem::path state_dir;  // absolute (relative paths resolved against the config file)
  std::string hostname;             // EHLO/LHLO name and Received: headers
  std::string postmaster;           // notices (e.g. "message too large") go here
  int max_parallel_polls = 4;       // accounts polled concurrently
  std::string log_level = "info";   // error | warning | notice | info | debug
  // Free space kept in the state folder: below it new mail is refused (452 4.3.1) and fetching
  // pauses, so the queue can still record deliveries, which free space again.
  ByteSize min_free_space{100ULL * 1000 * 1000};
};

struct Local {
  std::string host = "127.0.0.1";
  std::uint16_t port = 25;
  LocalProtocol protocol = LocalProtocol::smtp;
  TlsMode tls = TlsMode::none;
  bool tls_verify = true;
  std::string ca_file;       // empty: system trust store
  std::string username;      // empty: no AUTH
  Secret password;
  bool allow_plaintext = false;  // AUTH over an unencrypted connection
  int max_connections = 2;
  Duration timeout = std::chrono::minutes(5);  // per SMTP step (RFC 5321 4.5.3.2 suggests 2-10 min)
};

// One `map` entry of [account.multidrop]: mail for `address` goes to `targets` instead.
struct MultidropRule {
  std::string address;               // comparable form: local part lower-cased, domain an A-label
  std::vector<std::string> targets;  // local addresses, as written
  int source_line = 0;
};

// [account.multidrop]: the provider mailbox collects mail for whole domains (catch-all or domain
// mailbox); each message is routed to local recipients by its envelope header (routing/multidrop).
struct Multidrop {
  std::vector<std::string> domains;  // ours; A-labels, lower-case
  std::string rewrite_domain;        // user@<ours> -> user@rewrite_domain; empty: domain kept
  std::vector<MultidropRule> map;
  std::string default_recipient;     // unknown and unroutable mail; default: [service] postmaster
  // Headers in which the provider names the envelope recipient, in order of preference.
  std::vector<std::string> envelope_headers{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
                                            "X-Rcpt-To"};
  int loop_limit = 2;  // a message carrying more of our own Received: stamps than this is a loop
  Duration duplicate_window = std::chrono::hours(24);  // same Message-ID + body, same recipient: once

  const MultidropRule* find(std::string_view comparable_address) const;
  bool is_ours(std::string_view ascii_domain) const;
};

struct Account {
  std::string name;
  bool enabled = true;
  FetchProtocol protocol = FetchProtocol::pop3;
  std::string host;
  std::uint16_t port = 995;
  TlsMode tls = TlsMode::implicit;
  std::string ca_file;
  bool tls_verify = true;
  bool allow_plaintext = false;
  Pop3Auth auth = Pop3Auth::automatic;
  std::string username;
  Secret password;                // empty with OAuth
  std::optional<OAuth2> oauth2;   // exactly when auth is xoauth2 or oauthbearer
  Duration poll_interval = std::chrono::minutes(5);
  Duration timeout = std::chrono::seconds(60);  // per POP3 step
  bool keep = false;   // leave fetched messages at the provider (UIDL remembers them)
  int keep_days = 0;   // with keep: delete at the provider after this many days; 0 = never
  ByteSize max_message_size{50'000'000};
  // IMAP only: the folders fetched, each by its own SELECT; ASCII names (no modified UTF-7 yet).
  std::vector<std::string> folders{"INBOX"};
  // IMAP only: delivered mail is moved here (UID MOVE) instead of being expunged; empty: none.
  std::string move_to;
  std::vector<std::string> deliver_to;  // single-drop recipients, validated addresses
  std::optional<Multidrop> multidrop;   // instead of deliver_to: route by envelope headers
  PresetUse preset;  // `provider = "..."`: which of host, port, tls came from it
  // Where in the file this account was defined, for messages such as "account 'x' (postbridge.toml:12)".
  int source_line = 0;
};

// An envelope sender a smarthost (or a relay login) takes: an exact address or every address of
// a domain. Stored lower-cased (ASCII letters only; UTF-8 domains are kept as written, not
// punycoded).
struct SenderPattern {
  std::string local;  // empty: any local part ("*@domain")
  std::string domain;
  bool any_local() const { return local.empty(); }
  std::string str() const { return (local.empty() ? "*" : local) + "@" + domain; }
  friend bool operator==(const SenderPattern&, const SenderPattern&) = default;
};

// A login checked against a password hash: [[relay.user]], a client of the relay listener that
// logs in with AUTH PLAIN/LOGIN (RFC 4954), e.g. a scanner; or [[web.user]], a user of the status
// page (HTTP Basic over HTTPS, RFC 7617).
struct Login {
  std::string name;           // unique regardless of ASCII case, and matched so
  std::string password_hash;  // crypt(3) string; check with password::verify_password()
  int source_line = 0;        // line of its [[relay.user]] / [[web.user]]
  // Relay only: envelope senders this login may use (exact or "*@domain"); empty: any. A
  // scanner's login limited to scanner@firma.de cannot send as the boss through the boss's
  // smarthost.
  std::vector<SenderPattern> senders;
};

// [relay]: the SMTP listener for the office server, scanners and scripts, and the outbound
// queue's time limits.
struct Relay {
  std::vector<inet::Endpoint> listen{{"127.0.0.1", 2525}};  // plain SMTP with STARTTLS; empty: none
  // Implicit TLS (RFC 8314, port 465 style): the handshake first, then SMTP. Needs tls_cert_file.
  std::vector<inet::Endpoint> listen_tls;
  // Clients that may relay without AUTH. Default: loopback only.
  std::vector<inet::Cidr> allow_networks{*inet::Cidr::parse("127.0.0.1/32"),
                                         *inet::Cidr::parse("::1/128")};
  ByteSize max_message_size{50'000'000};  // EHLO SIZE (RFC 1870); 552 5.3.4 beyond
  int max_recipients = 100;               // per message; 452 beyond (RFC 5321 4.5.3.1.8)
  int max_connections = 20;               // concurrent client sessions
  // ... of them from one client address; clients in allow_networks (the office server) are not
  // held to it. Default: half of max_connections (the loader fills it in).
  int max_connections_per_address = 10;
  Duration command_timeout = std::chrono::minutes(5);  // RFC 5321 4.5.3.2.7
  Duration data_timeout = std::chrono::minutes(10);    // whole DATA/BDAT transfer
  BareLineFeeds bare_line_feeds = BareLineFeeds::normalize;  // DATA and BDAT alike
  std::string tls_cert_file;  // absolute; with tls_key_file: STARTTLS offered (RFC 3207)
  std::string tls_key_file;   // absolute; not accessible by group or others
  Duration max_queue_time = std::chrono::hours(5 * 24);  // then the message bounces
  Duration delay_notice_after = std::chrono::hours(4);   // one "delayed" DSN; 0 = never
  std::vector<Login> users;

  bool enabled() const { return !listen.empty() || !listen_tls.empty(); }
  bool tls() const { return !tls_cert_file.empty(); }  // cert and key always come together
  const Login* find_user(std::string_view name) const;  // ASCII case-insensitive
};

// How postbridge logs in to a smarthost. automatic: the best SASL mechanism the server offers
// over TLS (RFC 4954); pop_before_smtp: a POP3 login to pop_account first, no SMTP AUTH.
// xoauth2 / oauthbearer: an OAuth 2.0 access token ([smarthost.oauth2]).
enum class SmarthostAuth { automatic, plain, login, cram_md5, pop_before_smtp, none, xoauth2, oauthbearer };

// [[smarthost]]: a provider's submission server that relays outbound mail (route
// "smarthost:NAME").
struct Smarthost {
  std::string name;  // unique, [A-Za-z0-9._-]
  std::string host;
  std::uint16_t port = 465;         // default follows tls: 465 implicit, 587 starttls, 25 none
  TlsMode tls = TlsMode::implicit;  // starttls means required: never a fallback to plain
  std::string ca_file;              // empty: system trust store
  bool tls_verify = true;
  bool allow_plaintext = false;  // needed for tls = none
  SmarthostAuth auth = SmarthostAuth::automatic;
  std::string pop_account;  // with pop_before_smtp: an existing [[account]] name
  std::string username;     // empty exactly when auth is none or pop_before_smtp
  Secret password;          // likewise, and with OAuth
  std::optional<OAuth2> oauth2;  // exactly when auth is xoauth2 or oauthbearer
  std::vector<SenderPattern> senders;
  bool is_default = false;           // "default = true": takes senders no pattern matches
  std::string rewrite_sender;        // empty or a valid address: the envelope sender used
  bool rewrite_from_header = false;  // also rewrite From: (original kept in Reply-To)
  int max_per_hour = 0;              // provider send limits; 0 = none
  int max_per_day = 0;
  std::optional<ByteSize> max_message_size;  // nullopt: what the server announces in SIZE
  int max_connections = 2;
  Duration timeout = std::chrono::minutes(5);  // per SMTP step
  PresetUse preset;  // `provider = "..."`: which of host, port, tls, max_per_* came from it
  int source_line = 0;                         // line of its [[smarthost]]
};

// [web]: the status page and its JSON API.
struct Web {
  std::optional<inet::Endpoint> listen{inet::Endpoint{"127.0.0.1", 8025}};  // nullopt: off ("")
  std::string tls_cert_file;  // absolute; with tls_key_file: HTTPS
  std::string tls_key_file;   // absolute; not accessible by group or others
  std::vector<Login> users;
  // Names the page may be opened under besides its listen address, localhost and loopback:
  // a reverse proxy's or a LAN name. A request under any other name is refused (DNS rebinding).
  // Without a port an entry matches the listen port and the default ports 80 and 443.
  std::vector<inet::HostPort> hostnames;

  bool enabled() const { return listen.has_value(); }
  bool tls() const { return !tls_cert_file.empty(); }  // cert and key always come together
  // A login is asked for whenever users are defined; load() guarantees users (and HTTPS) when
  // the address is not loopback.
  bool login_required() const { return !users.empty(); }
  const Login* find_user(std::string_view name) const;  // ASCII case-insensitive
};

// [alerts]: problems the admin hears about by mail (a refused login, an unclean restart ...).
// [alerts] webhook_format: the body the webhook_url takes. json: our own fields (any receiver that
// reads JSON); ntfy: ntfy's JSON publish (topic, title, message, priority) to the server's root;
// gotify: Gotify's POST /message (title, message, priority). One JSON cannot serve all three:
// ntfy wants the topic in the body and posted to "/", Gotify wants its own path and fields.
enum class WebhookFormat { json, ntfy, gotify };

struct Alerts {
  std::vector<std::string> recipients;                  // default: [service] postmaster
  Duration remind_every = std::chrono::hours(24);       // told again while a problem lasts
  Duration after = std::chrono::hours(1);               // a mailbox that cannot be reached, before it is told
  // How long a told problem must stay away before "resolved": a flapping login tells nothing twice.
  Duration resolve_after = std::chrono::minutes(10);
  // The daily report's local time of day, minutes after midnight; nullopt: no daily report.
  std::optional<int> daily_report;
  enum class Language { en, de };
  Language language = Language::en;  // of the daily report
  // Each alert is also POSTed here when set (http or https). For ntfy the URL is the topic's
  // ("https://ntfy.example/postbridge"); for Gotify the server's /message.
  std::string webhook_url;
  WebhookFormat webhook_format = WebhookFormat::json;
  std::string webhook_ca_file;  // empty: the system trust store
  Secret webhook_token;         // empty: no Authorization header; sent as "Bearer TOKEN"
};

struct Config {
  std::filesystem::path file;  // absolute path of the file that was loaded
  Service service;
  Local local;
  std::vector<Account> accounts;
  Relay relay;
  std::vector<Smarthost> smarthosts;
  Web web;
  Alerts alerts;

  const Account* find_account(std::string_view name) const;
  const Smarthost* find_smarthost(std::string_view name) const;
};

// All problems found in one pass, each "FILE:LINE:COL: key: what is wrong and what is allowed".
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Parses and validates. Throws ConfigError. Reads password files / env vars; refuses secret
// files readable by group or others, and a password or client_secret written into `file` when
// others can read it (with the chmod to run).
Config load(const std::filesystem::path& file);

// The resolved config as valid TOML (defaults filled in, paths absolute) with every secret shown
// as "****" plus a comment naming its source; never contains a secret value.
std::string render_masked(const Config& cfg);

const char* to_string(TlsMode m);
const char* to_string(WebhookFormat f);
const char* to_string(LocalProtocol p);
const char* to_string(BareLineFeeds b);
const char* to_string(Pop3Auth a);
const char* to_string(FetchProtocol p);  // "pop3", "imap"
// The SASL mechanism of an OAuth login ("XOAUTH2", "OAUTHBEARER"); empty for the others.
std::string oauth_mechanism(Pop3Auth a);
std::string oauth_mechanism(SmarthostAuth a);
const char* to_string(SmarthostAuth a);  // "auto", "plain", "login", "cram-md5", ...

}  // namespace pb::config
