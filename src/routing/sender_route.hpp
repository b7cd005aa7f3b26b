// Outbound routing by envelope sender (pure, no I/O): which [[smarthost]] relays a message.
// Precedence: exact address, then "*@domain", then the default smarthost; never a guess.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace pb::routing {

// `sender` is the envelope sender (RFC 5321 4.1.1.2 MAIL FROM reverse-path) without angle
// brackets; "" is the null sender of bounces and DSNs. Returns the name of the smarthost that
// relays it, or nullopt if none does (the listener then refuses the message with 5.7.1 at
// RCPT time instead of queuing it forever).
//
//  1. A smarthost listing the exact address wins.
//  2. Else one listing "*@domain" for the sender's domain. Only that domain: "*@firma.de" does
//     not take "a@sub.firma.de".
//  3. Else the smarthost with default = true. A null sender, and a sender without '@', only
//     ever go to the default.
//
// Matching ignores the case of ASCII letters in the domain (RFC 5321 2.4: domains are
// case-insensitive) and, on purpose, in the local part too. RFC 5321 2.4 lets a receiving
// server treat "Info" and "info" as different mailboxes, but this is a routing decision about
// our own users: Exchange and scanners write the same sender with varying case, and a route
// that changed with it would send one mailbox's mail through two providers. UTF-8 (IDN) domains
// are compared as written: "müller.de" does not match its A-label form "xn--mller-kva.de";
// list both if the office server uses both.
//
// The configuration guarantees each pattern on one smarthost and at most one default; should
// the list say otherwise, the first smarthost in list order wins at each step.
std::optional<std::string> route_for_sender(const std::vector<config::Smarthost>& smarthosts,
                                            std::string_view sender);

// Whether a relay login with these `senders` may use `sender` (same matching as above): an empty
// list allows any; the null sender of a client's own DSN is always allowed (it impersonates
// nobody, and Postfix's reject_sender_login_mismatch skips it as well).
bool sender_allowed(const std::vector<config::SenderPattern>& senders, std::string_view sender);

}  // namespace pb::routing
