// render_masked: the loaded Config written back as TOML, defaults filled in and secrets masked.
#include <array>
#include <cstdio>

#include "config/loaders.hpp"

namespace pb::config {

namespace stdfs = std::filesystem;

namespace {

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
  w.str("protocol", to_string(a.protocol));
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
  if (a.protocol == FetchProtocol::imap) {
    w.kv("folders", toml_list(a.folders, same));
    if (!a.move_to.empty()) w.str("move_to", a.move_to);  // "" would not load again
  }
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
  for (const Login& u : r.users) {
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
  for (const Login& u : web.users) {
    w.header("[[web.user]]");
    w.comment("defined at line " + std::to_string(u.source_line));
    w.str("name", u.name);
    w.raw("password_hash = \"****\"  # hidden\n");
  }
}

}  // namespace

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
  w.header("[alerts]");
  w.kv("recipients", toml_list(cfg.alerts.recipients, [](const std::string& s) { return s; }));
  w.str("remind_every", duration_text(cfg.alerts.remind_every));
  w.str("after", duration_text(cfg.alerts.after));
  w.str("resolve_after", duration_text(cfg.alerts.resolve_after));
  if (cfg.alerts.daily_report) {
    const int h = *cfg.alerts.daily_report / 60, m = *cfg.alerts.daily_report % 60;
    w.str("daily_report", std::string{char('0' + h / 10), char('0' + h % 10), ':', char('0' + m / 10), char('0' + m % 10)});
  }
  w.str("language", cfg.alerts.language == Alerts::Language::de ? "de" : "en");
  if (!cfg.alerts.webhook_url.empty()) {
    w.str("webhook_url", cfg.alerts.webhook_url);
    w.str("webhook_format", to_string(cfg.alerts.webhook_format));
    if (!cfg.alerts.webhook_ca_file.empty()) w.str("webhook_ca_file", cfg.alerts.webhook_ca_file);
    if (!cfg.alerts.webhook_token.empty())
      w.raw("webhook_token" + secret_line(cfg.alerts.webhook_token, cfg.file).substr(std::string_view("password").size()));
  }
  return w.take();
}

}  // namespace pb::config
