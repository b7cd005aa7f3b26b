// Provider presets: `provider = "strato"` on an [[account]] or [[smarthost]] fills the host, TLS
// mode, port and (smarthosts) send limits the provider documents; every key written in the table wins.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace pb::config {

// One server of a provider: its host and the port it documents for each TLS mode (0: the
// provider documents no port for that mode). `tls` is the mode used when the config names none.
struct ServerPreset {
  std::string_view host;
  TlsMode tls = TlsMode::implicit;
  std::uint16_t implicit_port = 0;
  std::uint16_t starttls_port = 0;

  // The documented port for `mode`; nullopt if the provider documents none (always for "none").
  std::optional<std::uint16_t> port_for(TlsMode mode) const;
  // The mode whose documented port is `port`, so that `port = 587` alone means STARTTLS.
  std::optional<TlsMode> tls_for_port(std::uint16_t port) const;
};

// Send limits of the provider's submission service, counted in messages as max_per_hour /
// max_per_day count them; 0 where no provider page states a message limit (see presets.cpp).
struct SendLimits {
  int per_hour = 0;
  int per_day = 0;
};

struct ProviderPreset {
  std::string_view name;  // the value of `provider`
  std::string_view label; // for messages: "web.de", "Microsoft 365"
  ServerPreset pop3;
  ServerPreset imap;
  ServerPreset submission;
  SendLimits limits;
};

// The known providers, in the order the config documentation lists them.
const std::vector<ProviderPreset>& provider_presets();
// nullptr for an unknown name (names are compared exactly, like every other enum value).
const ProviderPreset* find_provider(std::string_view name);
// The names, for "use ..." messages.
std::vector<std::string_view> provider_names();

}  // namespace pb::config
