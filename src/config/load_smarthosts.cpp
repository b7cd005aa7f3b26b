// [[smarthost]]: the provider submission servers outbound mail leaves through, and which
// envelope senders each takes.
#include "config/loaders.hpp"
#include "config/presets.hpp"
#include "mail/address.hpp"

namespace pb::config::detail {

namespace stdfs = std::filesystem;

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace pb::config::detail
