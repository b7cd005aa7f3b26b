// [account.multidrop] -> config::Multidrop. Domains and map keys are stored in their comparable
// form (mail/idn) so the router compares strings only; every address is validated here, once.
#include <string>
#include <vector>

#include "config/loaders.hpp"
#include "mail/address.hpp"
#include "mail/idn.hpp"

namespace pb::config {

const MultidropRule* Multidrop::find(std::string_view comparable_address) const {
  for (const MultidropRule& r : map)
    if (r.address == comparable_address) return &r;
  return nullptr;
}

bool Multidrop::is_ours(std::string_view ascii_domain) const {
  for (const std::string& d : domains)
    if (d == ascii_domain) return true;
  return false;
}

namespace detail {
namespace {

const std::vector<std::string_view> kMultidropKeys{"domains",           "rewrite_domain",   "map",
                                                   "default_recipient", "envelope_headers", "loop_limit",
                                                   "duplicate_window"};

// A domain as an admin writes it ("firma.de", "müller.de"): its A-label, or nullopt.
std::optional<std::string> parse_domain(std::string_view d) {
  if (d.empty() || d.front() == '[' || !mail::Address::parse("postmaster@" + std::string(d))) return std::nullopt;
  return mail::domain_to_ascii(d);
}

// Calls each(node, key_path) for every element of a list; a lone string counts as a list of one.
template <class F>
bool each_element(const Section& sec, std::string_view key, std::string_view expected, F each) {
  const toml::node* n = sec.node(key);
  if (!n) return false;
  if (n->is_string()) {
    each(*n, std::string(key));
    return true;
  }
  auto* arr = n->as_array();
  if (!arr) {
    sec.wrong_type(key, expected);
    return false;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) each(*arr->get(i), std::string(key) + "[" + std::to_string(i) + "]");
  return true;
}

void load_domains(const Section& sec, Multidrop& out) {
  bool given = each_element(sec, "domains", "a list of domains like [\"firma.de\"]",
                            [&](const toml::node& e, const std::string& key) {
    auto* s = e.as_string();
    if (!s) {
      sec.problem_at(e, key, std::string("expected a domain string, got ") + type_name(e.type()));
      return;
    }
    auto d = parse_domain(s->get());
    if (!d) {
      sec.problem_at(e, key, in_quotes(s->get()) + " is not a domain name; write it like \"firma.de\" (no @, no brackets)");
    } else if (out.is_ours(*d)) {
      sec.problem_at(e, key, in_quotes(s->get()) + " is listed twice");
    } else {
      out.domains.push_back(*d);
    }
  });
  if (!given)
    sec.missing("domains", "list the domains whose mail this mailbox collects, e.g. domains = [\"firma.de\"]");
  else if (out.domains.empty() && sec.node("domains")->is_array() && sec.node("domains")->as_array()->empty())
    sec.problem("domains", "is empty; list at least one domain like [\"firma.de\"]");
}

void load_rewrite_domain(const Section& sec, Multidrop& out) {
  std::string d;
  if (!sec.get("rewrite_domain", d) || d.empty()) return;
  auto ascii = parse_domain(d);
  if (!ascii)
    sec.problem("rewrite_domain", in_quotes(d) + " is not a domain name; write the office domain like \"firma.local\"");
  else
    out.rewrite_domain = *ascii;
}

// A local address in a list: valid, or reported at its element.
std::optional<std::string> local_address(const Section& sec, const toml::node& e, const std::string& key) {
  auto* s = e.as_string();
  if (!s) {
    sec.problem_at(e, key, std::string("expected an address string, got ") + type_name(e.type()));
    return std::nullopt;
  }
  if (!mail::Address::parse(s->get())) {
    sec.problem_at(e, key, in_quotes(s->get()) + " is not a valid mail address; use a plain address like \"anna@firma.local\"");
    return std::nullopt;
  }
  return s->get();
}

void load_map_entry(const Section& sec, const toml::key& k, const toml::node& v, Multidrop& out) {
  std::string key = "map.\"" + std::string(k.str()) + "\"";
  auto from = mail::Address::parse(k.str());
  auto comparable = from ? mail::comparable_address(*from) : std::nullopt;
  if (!comparable) {
    sec.problem_at(v, key, in_quotes(k.str()) + " is not a valid mail address; map keys are addresses like \"info@firma.de\"");
    return;
  }
  if (!out.is_ours(comparable->substr(comparable->rfind('@') + 1))) {
    sec.problem_at(v, key, in_quotes(k.str()) + " is not in one of the domains listed in domains, so no mail for it "
                                                  "is routed here; add its domain or remove the entry");
    return;
  }
  if (out.find(*comparable)) {
    sec.problem_at(v, key, in_quotes(k.str()) + " is mapped twice");
    return;
  }
  MultidropRule rule{*comparable, {}, static_cast<int>(v.source().begin.line)};
  auto add = [&](const toml::node& e, const std::string& at) {
    if (auto a = local_address(sec, e, at)) rule.targets.push_back(*a);
  };
  if (v.is_string()) {
    add(v, key);
  } else if (auto* arr = v.as_array()) {
    if (arr->empty()) sec.problem_at(v, key, "is empty; give the local address(es) that receive this mail");
    for (std::size_t i = 0; i < arr->size(); ++i) add(*arr->get(i), key + "[" + std::to_string(i) + "]");
  } else {
    sec.problem_at(v, key, std::string("expected an address or a list of addresses, got ") + type_name(v.type()));
    return;
  }
  if (!rule.targets.empty()) out.map.push_back(std::move(rule));
}

void load_map(const Section& sec, Multidrop& out) {
  const toml::node* n = sec.node("map");
  if (!n) return;
  auto* t = n->as_table();
  if (!t) {
    sec.wrong_type("map", "a table like { \"info@firma.de\" = [\"anna@firma.local\"] }");
    return;
  }
  for (auto&& [k, v] : *t) load_map_entry(sec, k, v, out);
}

// RFC 5322 3.6.8 field-name: printable ASCII without ":".
bool valid_field_name(std::string_view n) {
  if (n.empty() || n.size() > 76) return false;
  for (char c : n) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == ':') return false;
  }
  return true;
}

void load_envelope_headers(const Section& sec, Multidrop& out) {
  if (!sec.node("envelope_headers")) return;
  std::vector<std::string> names;
  each_element(sec, "envelope_headers", "a list of header names like [\"Delivered-To\"]",
               [&](const toml::node& e, const std::string& key) {
    auto* s = e.as_string();
    if (!s || !valid_field_name(s->get())) {
      sec.problem_at(e, key, (s ? in_quotes(s->get()) : std::string("this value")) +
                                 " is not a header name; use names like \"Delivered-To\" (no colon, no spaces)");
      return;
    }
    for (const auto& prev : names)
      if (text::iequals(prev, s->get())) {
        sec.problem_at(e, key, in_quotes(s->get()) + " is listed twice");
        return;
      }
    names.push_back(s->get());
  });
  out.envelope_headers = std::move(names);
}

}  // namespace

void load_multidrop(const toml::node& node, const Section& account, const std::string& postmaster,
                    Problems& problems, Multidrop& out) {
  auto* table = node.as_table();
  if (!table) {
    account.problem_at(node, "multidrop",
                       std::string("expected a table ([account.multidrop] after the [[account]] lines), got ") +
                           type_name(node.type()));
    return;
  }
  Section sec(*table, account.key_path("multidrop"), problems, kMultidropKeys);
  load_domains(sec, out);
  load_rewrite_domain(sec, out);
  load_map(sec, out);
  out.default_recipient = postmaster;
  if (const toml::node* d = sec.node("default_recipient")) {
    if (auto a = local_address(sec, *d, "default_recipient")) out.default_recipient = *a;
  }
  load_envelope_headers(sec, out);
  sec.get_int("loop_limit", out.loop_limit, 1, 50);
  sec.get_duration("duplicate_window", out.duplicate_window, std::chrono::seconds(1), Section::Zero::off);
}

}  // namespace detail
}  // namespace pb::config
