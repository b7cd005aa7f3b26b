// [relay]: the SMTP listener for the office server, scanners and scripts. Never an open relay.
#include "config/loaders.hpp"

namespace pb::config::detail {

namespace stdfs = std::filesystem;

namespace {

// What load_relay learned beyond the Relay values, for the rules that tie keys together.
struct RelayInput {
  std::vector<const toml::node*> listen_nodes;      // parallel to Relay::listen
  std::vector<const toml::node*> listen_tls_nodes;  // parallel to Relay::listen_tls
  std::vector<const toml::node*> network_nodes;     // parallel to Relay::allow_networks
  bool networks_given = false;
};

// listen or listen_tls: "address:port" strings into `out`, each at most once in both lists (one
// port speaks either plain SMTP or TLS from the first byte, never both).
void load_listen_list(const Section& sec, std::string_view key, std::vector<inet::Endpoint>& out,
                      std::vector<const toml::node*>& nodes, const std::vector<inet::Endpoint>& other,
                      std::string_view other_key) {
  if (!sec.node(key)) return;
  out.clear();  // an empty list switches these addresses off
  for_each_string(
      sec, key, key == "listen" ? "[\"127.0.0.1:2525\"]" : "[\"0.0.0.0:465\"]",
      [&](const toml::node& n, const std::string& at, const std::string& v) {
        auto ep = inet::parse_endpoint(v);
        if (!ep) {
          sec.problem_at(n, at,
                         in_quotes(v) +
                             " is not an address with a port; use \"127.0.0.1:2525\", "
                             "\"[::1]:2525\", \"192.168.1.5:25\" or \"localhost:2525\"");
        } else if (std::find(out.begin(), out.end(), *ep) != out.end()) {
          sec.problem_at(n, at, in_quotes(v) + " is listed twice");
        } else if (std::find(other.begin(), other.end(), *ep) != other.end()) {
          sec.problem_at(n, at, in_quotes(v) + " is in " + std::string(other_key) +
                                    " as well; one port speaks either plain SMTP with STARTTLS "
                                    "(listen) or implicit TLS (listen_tls), so give each its own port");
        } else {
          out.push_back(*ep);
          nodes.push_back(&n);
        }
      });
}

void load_listen(const Section& sec, Relay& out, RelayInput& in) {
  load_listen_list(sec, "listen", out.listen, in.listen_nodes, {}, "");
  load_listen_list(sec, "listen_tls", out.listen_tls, in.listen_tls_nodes, out.listen, "listen");
}

// RFC 8314 3.3: implicit TLS starts with the handshake, which needs the certificate and key.
void check_listen_tls(const Section& sec, const Relay& r, const RelayInput& in) {
  if (r.listen_tls.empty() || r.tls()) return;
  const toml::node* given_cert = sec.node("tls_cert_file");
  if (given_cert && given_cert->as_string() && !given_cert->as_string()->get().empty())
    return;  // tls_cert_file is set but broken: that key names the problem already
  sec.problem_at(*in.listen_tls_nodes.front(), sec.node("listen_tls")->is_array() ? "listen_tls[0]" : "listen_tls",
                 "implicit TLS starts with the TLS handshake, which needs a certificate: set "
                 "tls_cert_file = \"/etc/postbridge/relay.pem\" and tls_key_file = "
                 "\"/etc/postbridge/relay.key\"");
}

void load_allow_networks(const Section& sec, Relay& out, RelayInput& in) {
  if (!sec.node("allow_networks")) return;
  in.networks_given = true;
  out.allow_networks.clear();  // an empty list: every client must log in
  for_each_string(
      sec, "allow_networks", "[\"127.0.0.1/32\", \"192.168.1.0/24\"]",
      [&](const toml::node& n, const std::string& key, const std::string& v) {
        auto cidr = inet::Cidr::parse(v);
        if (!cidr) {
          auto masked = inet::Cidr::parse_masked(v);
          sec.problem_at(n, key,
                         masked ? in_quotes(v) + " has address bits set beyond the /" +
                                      std::to_string(masked->prefix_length()) +
                                      " prefix; did you mean \"" + masked->str() + "\"?"
                                : in_quotes(v) +
                                      " is not an address or address range; use a range like "
                                      "\"192.168.1.0/24\" or \"fd00::/8\", or one address like "
                                      "\"192.168.1.10\"");
        } else if (std::find(out.allow_networks.begin(), out.allow_networks.end(), *cidr) !=
                   out.allow_networks.end()) {
          sec.problem_at(n, key, in_quotes(v) + " is listed twice");
        } else {
          out.allow_networks.push_back(*cidr);
          in.network_nodes.push_back(&n);
        }
      });
}

// Lets in a large part of the internet: as many public IPv4 addresses as a /8 (every private
// IPv4 range is /8 or smaller and counts nothing), or a /32's worth of global IPv6 (what a registry
// allocates to a whole provider; an office gets a /48 to /64). Judged on the union, so neither
// splitting a range ("0.0.0.0/1" + "128.0.0.0/1") nor writing IPv4 as IPv4-mapped IPv6
// ("::ffff:0.0.0.0/97") gets past it.
bool reaches_internet(const inet::Reach& r) {
  return r.public_ipv4 >= (std::uint64_t{1} << 24) || r.global_ipv6_64s >= (std::uint64_t{1} << 32);
}

constexpr const char* kOpenRelayAdvice =
    " send mail through your smarthosts without a login while postbridge listens on ";
constexpr const char* kOpenRelayFix =
    ": that would be an open relay, abused by spammers within hours; list only your office "
    "network(s), e.g. \"192.168.1.0/24\", and let other clients log in as [[relay.user]]";

// The first listen or listen_tls address other machines can reach, if any: where it is, its node
// and its key ("listen[1]", "listen_tls").
struct OpenAddress {
  std::string where;
  const toml::node* node = nullptr;
  std::string key;
};

std::optional<OpenAddress> first_open_address(const Section& sec, const Relay& r, const RelayInput& in) {
  const std::pair<std::string_view, const std::vector<inet::Endpoint>*> lists[] = {{"listen", &r.listen},
                                                                                  {"listen_tls", &r.listen_tls}};
  for (const auto& [key, list] : lists) {
    const auto& nodes = key == "listen" ? in.listen_nodes : in.listen_tls_nodes;
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (inet::is_loopback_literal((*list)[i].host)) continue;
      std::string k = sec.node(key)->is_array() ? std::string(key) + "[" + std::to_string(i) + "]" : std::string(key);
      return OpenAddress{(*list)[i].str(), nodes[i], k};
    }
  }
  return std::nullopt;
}

// Never an open relay: who may send without AUTH must be a trusted network, and a listener
// other machines can reach must have someone it is meant for. Plain and implicit-TLS addresses
// alike: TLS keeps nobody out.
void check_relay_access(const Section& sec, const Relay& r, const RelayInput& in) {
  auto open = first_open_address(sec, r, in);
  if (!open) return;  // loopback only: just this machine can connect
  const std::string& where = open->where;
  bool internet = false;
  std::string reaching;  // the entries that let in any of the internet, for the union's message
  for (std::size_t i = 0; i < r.allow_networks.size(); ++i) {
    auto reach = inet::internet_reach({r.allow_networks[i]});
    if (reach.public_ipv4 > 0 || reach.global_ipv6_64s > 0)
      reaching += (reaching.empty() ? "" : ", ") + in_quotes(r.allow_networks[i].str());
    if (!reaches_internet(reach)) continue;
    internet = true;
    sec.problem_at(*in.network_nodes[i], "allow_networks[" + std::to_string(i) + "]",
                   in_quotes(r.allow_networks[i].str()) + " lets anyone on the internet (or a large part of it)" +
                       kOpenRelayAdvice + where + kOpenRelayFix);
  }
  if (!internet && reaches_internet(inet::internet_reach(r.allow_networks))) {
    internet = true;
    sec.problem("allow_networks", reaching + " together let anyone on a large part of the internet" +
                                      kOpenRelayAdvice + where + kOpenRelayFix);
  }
  if (internet || in.networks_given) return;
  const toml::node& at = *open->node;
  const std::string& key = open->key;
  if (r.users.empty()) {
    sec.problem_at(at, key,
                   in_quotes(where) +
                       " is not a loopback address, but no other machine could send through "
                       "it: allow_networks is loopback only (the default) and no "
                       "[[relay.user]] login is defined; set allow_networks = "
                       "[\"192.168.1.0/24\"] for your office network, or add [[relay.user]] "
                       "logins");
  } else if (!r.tls()) {
    sec.problem_at(at, key,
                   in_quotes(where) +
                       " is not a loopback address, and other machines could only send by "
                       "logging in, which is offered over TLS only (RFC 4954 4: no password "
                       "in clear text); set tls_cert_file and tls_key_file, or allow your "
                       "office network with allow_networks = [\"192.168.1.0/24\"]");
  }
}

// delay_notice_after: a duration of at least 1s, or 0 for no notice (as duplicate_window).
void load_delay_notice(const Section& sec, Relay& out) {
  sec.get_duration("delay_notice_after", out.delay_notice_after, std::chrono::seconds(1),
                   Section::Zero::off);
  if (out.delay_notice_after != Duration::zero() && out.delay_notice_after >= out.max_queue_time) {
    sec.problem("delay_notice_after",
                "'" + format_duration(out.delay_notice_after) +
                    "' is not shorter than max_queue_time ('" +
                    format_duration(out.max_queue_time) +
                    "'), so the notice would never be sent; make it shorter, or \"0\" for no "
                    "notice");
  }
}

// max_connections_per_address: half of max_connections unless given (10 of the default 20), so
// one client never holds every slot; more than max_connections could never apply.
void load_per_address_limit(const Section& sec, Relay& out) {
  out.max_connections_per_address = (out.max_connections + 1) / 2;
  if (!sec.get_int("max_connections_per_address", out.max_connections_per_address, 1, 1000)) return;
  if (out.max_connections_per_address > out.max_connections)
    sec.problem("max_connections_per_address",
                std::to_string(out.max_connections_per_address) + " is more than max_connections (" +
                    std::to_string(out.max_connections) + "), so it would never apply; make it at most " +
                    std::to_string(out.max_connections) + " (or raise max_connections)");
}

}  // namespace

void load_relay(const Section& sec, const stdfs::path& base, Relay& out, Problems& probs) {
  RelayInput in;
  load_listen(sec, out, in);
  load_allow_networks(sec, out, in);
  sec.get_size("max_message_size", out.max_message_size);
  // RFC 5321 4.5.3.1.8: a server MUST accept at least 100 recipients per message.
  sec.get_int("max_recipients", out.max_recipients, 100, 100'000);
  sec.get_int("max_connections", out.max_connections, 1, 1000);
  load_per_address_limit(sec, out);
  sec.get_duration("command_timeout", out.command_timeout, kMinTimeout);
  sec.get_duration("data_timeout", out.data_timeout, kMinTimeout);
  sec.get_enum("bare_line_feeds", out.bare_line_feeds, kBareLineFeedChoices);
  load_tls_key_pair(sec, base, {.protocol = "STARTTLS", .file_stem = "relay"}, out.tls_cert_file, out.tls_key_file);
  check_listen_tls(sec, out, in);
  sec.get_duration("max_queue_time", out.max_queue_time, std::chrono::minutes(1));
  load_delay_notice(sec, out);
  load_logins(sec,
              {.section = "relay", .who = "relay logins", .example = "scanner", .senders = true},
              probs, out.users);
  check_relay_access(sec, out, in);
}

}  // namespace pb::config::detail
