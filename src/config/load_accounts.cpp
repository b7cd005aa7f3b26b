// [[account]]: the provider mailboxes postbridge fetches from (POP3 or IMAP) and who gets their mail.
#include "config/loaders.hpp"
#include "config/presets.hpp"
#include "mail/address.hpp"

namespace pb::config::detail {

namespace stdfs = std::filesystem;

namespace {

void load_deliver_to(const Section& sec, Account& out) {
  const toml::node* n = sec.node("deliver_to");
  if (!n) {
    sec.missing("deliver_to",
                "list the local address(es) that receive this mailbox's mail, "
                "e.g. deliver_to = [\"info@firma.local\"], or add [account.multidrop] to route a "
                "catch-all mailbox by its envelope headers");
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
  const ProviderPreset* preset = load_provider(sec, out.preset);
  if (out.protocol == FetchProtocol::imap)
    load_server(sec, preset, preset ? &preset->imap : nullptr, "IMAP server", imap_port, out);
  else
    load_server(sec, preset, preset ? &preset->pop3 : nullptr, "POP3 server", pop3_port, out);
  read_ca_file(sec, base, out.ca_file);
  sec.get("tls_verify", out.tls_verify);
  sec.get("allow_plaintext", out.allow_plaintext);
  sec.get_duration("timeout", out.timeout, kMinTimeout);
}

void load_account_login(const Section& sec, const stdfs::path& base, Account& out) {
  sec.get_enum("auth", out.auth, kAuthChoices);
  sec.required("username", out.username, "give the mailbox login, often the full address");
  if (load_oauth_login(sec, base, !oauth_mechanism(out.auth).empty(), to_string(out.auth), "account", out.preset,
                       out.oauth2))
    return;
  if (!read_secret(sec, base, "password", out.password)) {
    sec.missing("password", "set password_file = \"/etc/postbridge/" +
                                (out.name.empty() ? std::string("NAME") : out.name) +
                                ".secret\" (recommended), password_env or password");
  }
}

// A folder name as postbridge sends it: a quoted IMAP string, so no line ends or NUL, and ASCII
// only, because names beyond ASCII travel in modified UTF-7 (RFC 3501 5.1.3), not supported yet.
std::string folder_problem(const std::string& name) {
  if (name.empty()) return "is empty; give a folder name like \"INBOX\"";
  for (unsigned char c : name) {
    if (c == '\r' || c == '\n' || c == 0) return in_quotes(name) + " contains a line break or NUL, which no folder name has";
    if (c >= 0x80)
      return in_quotes(name) + " is not ASCII; folder names with other letters (umlauts too) are not supported yet: "
                               "rename the folder at the provider or leave it out";
  }
  return "";
}

// IMAP only: folders and move_to.
void load_imap_folders(const Section& sec, Account& out) {
  if (const toml::node* n = sec.node("folders")) {
    auto* arr = n->as_array();
    if (!arr || arr->empty()) {
      sec.wrong_type("folders", "a non-empty list of folder names like [\"INBOX\", \"Junk\"]");
    } else {
      out.folders.clear();
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& e = *arr->get(i);
        std::string key = "folders[" + std::to_string(i) + "]";
        auto* s = e.as_string();
        std::string why = s ? folder_problem(s->get()) : std::string("expected a folder name string");
        if (why.empty() && std::find(out.folders.begin(), out.folders.end(), s->get()) != out.folders.end())
          why = in_quotes(s->get()) + " is listed twice";
        if (why.empty()) out.folders.push_back(s->get());
        else sec.problem_at(e, key, why);
      }
    }
  }
  if (sec.get("move_to", out.move_to)) {
    if (std::string why = folder_problem(out.move_to); !why.empty()) sec.problem("move_to", why);
    else if (std::find(out.folders.begin(), out.folders.end(), out.move_to) != out.folders.end())
      sec.problem("move_to", in_quotes(out.move_to) + " is also in folders, so moved mail would be fetched again; "
                                                       "move it to a folder that is not fetched");
  }
}

// Keys that belong to the other protocol are errors, not silently ignored settings.
void check_protocol_keys(const Section& sec, const Account& a) {
  if (a.protocol == FetchProtocol::pop3) {
    for (std::string_view k : {"folders", "move_to"})
      if (sec.node(k))
        sec.problem(k, "is only used with protocol = \"imap\"; POP3 reads a single mailbox. Set protocol = "
                       "\"imap\" or remove it");
    return;
  }
  if (a.auth == Pop3Auth::apop || a.auth == Pop3Auth::user_pass)
    sec.problem("auth", std::string("auth = \"") + to_string(a.auth) + "\" is a POP3 login; with protocol = \"imap\" "
                        "use \"auto\", \"plain\", \"xoauth2\" or \"oauthbearer\"");
}

// Microsoft's user sign-in scopes name POP; an IMAP account needs IMAP.AccessAsUser.All too
// (Google's https://mail.google.com/ covers IMAP already). Scopes written in the table win.
void add_imap_scope(const Section& sec, Account& a) {
  if (a.protocol != FetchProtocol::imap || !a.oauth2 || a.oauth2->provider != "microsoft" ||
      a.oauth2->grant != OAuthGrant::user)
    return;
  auto* table = sec.node("oauth2") ? sec.node("oauth2")->as_table() : nullptr;
  if (!table || table->contains("scopes")) return;
  constexpr std::string_view kImapScope = "https://outlook.office.com/IMAP.AccessAsUser.All";
  if (a.oauth2->scopes.find(kImapScope) == std::string::npos) a.oauth2->scopes += " " + std::string(kImapScope);
}

// Rules that tie keys together; checked after every key was read.
void check_account_rules(const Section& sec, const Account& a) {
  if (a.tls == TlsMode::none && !a.allow_plaintext) {
    sec.problem("tls", std::string("tls = \"none\": ") + kCleartextWarning +
                           "; use tls = \"implicit\" (port " +
                           std::to_string(a.protocol == FetchProtocol::imap ? 993 : 995) + ") or \"starttls\", or set "
                           "allow_plaintext = true if you accept that");
  }
  if (a.keep_days > 0 && !a.keep) {
    sec.problem("keep_days",
                "only works with keep = true (without keep, mail is deleted from "
                "the provider right after delivery); set keep = true or remove it");
  }
}

// Single-drop (deliver_to) or multidrop ([account.multidrop]): exactly one of them.
void load_recipients(const Section& sec, const std::string& postmaster, Problems& probs, Account& out) {
  const toml::node* md = sec.node("multidrop");
  if (!md) {
    load_deliver_to(sec, out);
    return;
  }
  if (sec.node("deliver_to"))
    sec.problem("deliver_to",
                "an account with [account.multidrop] routes each message by its headers; remove deliver_to "
                "(or remove [account.multidrop] to deliver everything to deliver_to)");
  Multidrop m;
  load_multidrop(*md, sec, postmaster, probs, m);
  out.multidrop = std::move(m);
}

void load_account(const Section& sec, const stdfs::path& base, const std::string& postmaster, Problems& probs,
                  Account& out) {
  out.source_line = static_cast<int>(sec.table().source().begin.line);
  if (sec.required("name", out.name, "give each account a short unique name like \"info\"") &&
      !valid_account_name(out.name)) {
    sec.problem("name", in_quotes(out.name) +
                            " is not allowed; use 1 to 64 letters, digits, "
                            "'.', '_' or '-'");
  }
  sec.get("enabled", out.enabled);
  sec.get_enum("protocol", out.protocol, kFetchProtocolChoices);
  load_account_connection(sec, base, out);
  load_account_login(sec, base, out);
  if (out.protocol == FetchProtocol::imap) load_imap_folders(sec, out);
  check_protocol_keys(sec, out);
  add_imap_scope(sec, out);
  sec.get_duration("poll_interval", out.poll_interval, kMinPollInterval);
  sec.get("keep", out.keep);
  sec.get_int("keep_days", out.keep_days, 0, 36500);
  sec.get_size("max_message_size", out.max_message_size);
  load_recipients(sec, postmaster, probs, out);
  check_account_rules(sec, out);
}

}  // namespace

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
    load_account(sec, base, cfg.service.postmaster, probs, acc);
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

}  // namespace pb::config::detail
