// TOML -> typed Config. One pass collects every problem (sorted by position in the file) before
// anything is thrown, so an admin fixes the whole file at once; secrets never enter a message.
#include "config/config.hpp"

#include <sys/stat.h>
#include <toml++/toml.h>

#include "config/loaders.hpp"
#include "util/text.hpp"

namespace pb::config {
namespace {

namespace stdfs = std::filesystem;
using namespace detail;

// Top level: known sections, and a hint when a section's key is written outside any section.
void check_top_level(const toml::table& root, Problems& probs) {
  const std::vector<std::string_view> sections{"service", "local", "account", "relay", "smarthost", "web", "alerts"};
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
    if (knows(kAlertsKeys)) homes.push_back("[alerts]");
    if (key.str() == "user") homes.push_back("[relay] (as [[relay.user]])");
    if (key.str() == "user") homes.push_back("[web] (as [[web.user]])");
    std::string hint;
    for (std::size_t i = 0; i < homes.size(); ++i) {
      hint += (i == 0 ? "; it belongs under " : " or ") + std::string(homes[i]);
    }
    if (hint.empty()) hint = suggestion(key.str(), sections);
    if (hint.empty()) hint = "; allowed: [service], [local], [[account]], [relay], [[smarthost]], [web], [alerts]";
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

namespace {

// Names are unique regardless of case (load_logins), so a client typing "Laptop@Office.Test"
// for "laptop@office.test" is the same login, at the relay and on the status page alike; the
// password still compares exactly.
const Login* find_login(const std::vector<Login>& users, std::string_view name) {
  for (const Login& u : users) {
    if (text::iequals(u.name, name)) return &u;
  }
  return nullptr;
}

}  // namespace

const Login* Relay::find_user(std::string_view name) const { return find_login(users, name); }

const Login* Web::find_user(std::string_view name) const { return find_login(users, name); }

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
  load_alerts(Section(table_or_empty(root, "alerts", probs), "alerts", probs, kAlertsKeys), base, cfg.service.postmaster,
              cfg.alerts);

  if (!probs.empty()) probs.raise();
  return cfg;
}

const char* to_string(TlsMode m) {
  for (auto& c : kTlsChoices)
    if (c.value == m) return c.name.data();
  return "?";
}

const char* to_string(WebhookFormat f) {
  for (auto& c : detail::kWebhookFormatChoices)
    if (c.value == f) return c.name.data();
  return "?";
}

const char* to_string(LocalProtocol p) {
  for (auto& c : kProtocolChoices)
    if (c.value == p) return c.name.data();
  return "?";
}

const char* to_string(FetchProtocol p) {
  for (auto& c : kFetchProtocolChoices)
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
