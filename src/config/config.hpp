// The typed configuration: the single source of truth, parsed once from TOML by load().
// Every error names FILE:LINE:COL and the key; a Config that load() returns is fully valid.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/units.hpp"

namespace pb::config {

enum class TlsMode { none, starttls, implicit };
enum class LocalProtocol { smtp, lmtp };
// POP3 login method. automatic: CAPA decides (SASL PLAIN, then APOP if the greeting has a
// timestamp, then USER/PASS).
enum class Pop3Auth { automatic, sasl_plain, apop, user_pass };

// A password and where it came from. The value is never printed; describe() is safe to show.
struct Secret {
  std::string value;
  std::string source;  // "inline", "file /etc/postbridge/x.secret", "env POP_PW"
  bool empty() const { return value.empty(); }
};

struct Service {
  std::filesystem::path state_dir;  // absolute (relative paths resolved against the config file)
  std::string hostname;             // EHLO/LHLO name and Received: headers
  std::string postmaster;           // notices (e.g. "message too large") go here
  int max_parallel_polls = 4;       // accounts polled concurrently
  std::string log_level = "info";   // error | warning | notice | info | debug
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

struct Account {
  std::string name;
  bool enabled = true;
  std::string host;
  std::uint16_t port = 995;
  TlsMode tls = TlsMode::implicit;
  std::string ca_file;
  bool tls_verify = true;
  bool allow_plaintext = false;
  Pop3Auth auth = Pop3Auth::automatic;
  std::string username;
  Secret password;
  Duration poll_interval = std::chrono::minutes(5);
  Duration timeout = std::chrono::seconds(60);  // per POP3 step
  bool keep = false;   // leave fetched messages at the provider (UIDL remembers them)
  int keep_days = 0;   // with keep: delete at the provider after this many days; 0 = never
  ByteSize max_message_size{50'000'000};
  std::vector<std::string> deliver_to;  // single-drop recipients, validated addresses
  // Where in the file this account was defined, for messages such as "account 'x' (postbridge.toml:12)".
  int source_line = 0;
};

struct Config {
  std::filesystem::path file;  // absolute path of the file that was loaded
  Service service;
  Local local;
  std::vector<Account> accounts;

  const Account* find_account(std::string_view name) const;
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
// files readable by group or others (with the chmod to run).
Config load(const std::filesystem::path& file);

// The resolved config as valid TOML (defaults filled in, paths absolute) with every secret shown
// as "****" plus a comment naming its source; never contains a secret value.
std::string render_masked(const Config& cfg);

const char* to_string(TlsMode m);
const char* to_string(LocalProtocol p);
const char* to_string(Pop3Auth a);

}  // namespace pb::config
