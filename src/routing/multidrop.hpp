// Multidrop routing (pure, no I/O): which local users get a message fetched from a catch-all or
// domain mailbox, and why. The fetcher, `postbridge route` (the admin's dry run) and the tests
// all call route_multidrop(), so what the dry run prints is what the service does.
//
// Where the recipients come from, first match wins:
//  1. The provider's envelope header: the first name of envelope_headers present, its TOPMOST
//     instance only. The provider prepends it at final delivery (like a trace field, RFC 9228
//     for Delivered-To), so it sits above everything a sender wrote; lower instances are
//     earlier forwarding hops or forgeries and are ignored. It
//     names Bcc recipients too. If it names no address of ours, the next name of the list is
//     tried; if none does, the message goes to default_recipient: an envelope header exists, so
//     To/Cc (which anyone can write, and which lack Bcc) are not trusted instead.
//  2. Only without any envelope header: the topmost "Received: ... for <addr>" naming ours.
//  3. Then To, Cc, Resent-To, Resent-Cc.
//  4. Nothing of ours found: default_recipient.
// An address is ours when its domain (compared as A-label, any case) is in domains; it is
// mapped by `map`, else rewritten to rewrite_domain, else delivered as written. Addresses of
// other domains are never delivered. Each local recipient appears once.
//
// Loops: a message that already carries our X-Postbridge-Loop header, or more than loop_limit
// of our own Received: stamps, is held (the recipients are still computed, for a release). Both
// count only with a mark that `marker` verifies (routing/loop_mark.hpp): anyone can write our
// host name into a header, nobody else can write our marks. Without a marker nothing is a loop.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "routing/loop_mark.hpp"

namespace pb::routing {

// Header fields in message order, top first (mail::HeaderCollector::fields()).
using HeaderFields = std::vector<std::pair<std::string, std::string>>;

struct LocalRecipient {
  std::string address;  // what the office server gets as RCPT TO
  std::string reason;   // "via Delivered-To (anna@firma.de)"
};

struct MultidropDecision {
  std::vector<LocalRecipient> recipients;  // never empty, each address once
  std::string held;                        // non-empty: a loop; the message waits for the admin
  std::string source;                      // header the recipients came from; "" = default_recipient
  std::vector<std::string> notes;          // addresses passed over and header problems, in words

  std::vector<std::string> addresses() const;
  // One line for the log and the status page: "anna@firma.local via Delivered-To (anna@firma.de)"
  // with "held: ..." first and the notes last.
  std::string summary() const;
};

// `truncated`: the fields are only the first part of a larger header section (noted).
MultidropDecision route_multidrop(const config::Multidrop& md, const HeaderFields& fields,
                                  const std::string& hostname, const LoopMarker* marker, bool truncated = false);

// Our loop header, added below our Received: stamp to every message fetched from a multidrop
// mailbox: "X-Postbridge-Loop: gw.firma.local mark=NONCE.MAC\r\n".
inline constexpr std::string_view kLoopHeader = "X-Postbridge-Loop";
std::string loop_header_line(const std::string& hostname, const std::string& mark);

}  // namespace pb::routing
