// SASL mechanisms for OAuth 2.0 bearer tokens: XOAUTH2 (Google, Microsoft) and OAUTHBEARER
// (RFC 7628). Pure functions, no I/O: the SMTP and POP3 clients send what these build and hand the
// server's error challenge back here to learn whether the token itself was refused.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pb::oauth {

enum class Mechanism { xoauth2, oauthbearer };

// "XOAUTH2" / "OAUTHBEARER" (any case); nullopt for anything else.
std::optional<Mechanism> parse_mechanism(std::string_view name);
const char* mechanism_name(Mechanism m);  // the SASL name, upper case

// The client's first message, before base64:
//   XOAUTH2     "user=" user ^A "auth=Bearer " token ^A ^A   (developers.google.com/gmail/imap/xoauth2-protocol,
//               learn.microsoft.com/exchange/.../how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth)
//   OAUTHBEARER "n,a=" saslname(user) "," ^A "host=" host ^A "port=" port ^A "auth=Bearer " token ^A ^A
//               (RFC 7628 3.1; saslname per RFC 5801 5.1: "," -> "=2C", "=" -> "=3D"). host/port are
//               the server we talk to; host empty leaves out "host=", port 0 leaves out "port=".
std::string xoauth2_message(std::string_view user, std::string_view token);
std::string oauthbearer_message(std::string_view user, std::string_view host, std::uint16_t port,
                                std::string_view token);
// The base64 initial response of `m` (RFC 4954 4 / RFC 5034 4 send it after the mechanism name).
std::string initial_response(Mechanism m, std::string_view user, std::string_view host, std::uint16_t port,
                             std::string_view token);

// RFC 7628 3.2.2: after a failed token the server sends a challenge (SMTP "334 <base64>", POP3
// "+ <base64>") holding a JSON object; the client must answer kDummyResponse (base64 of ^A) and
// then gets the final failure (535 / -ERR). XOAUTH2 servers send the same JSON shape
// ({"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"} at Google).
inline constexpr std::string_view kDummyResponse = "AQ==";

struct ErrorChallenge {
  std::string status;                // "invalid_token", "insufficient_scope", "401", "400" ...
  std::string scope;                 // the scope the token would need, when the server says
  std::string openid_configuration;  // RFC 7628 3.2.2: where to discover the issuer, if sent
  // The token itself was refused (expired, revoked, not a token): fetching a fresh access token
  // and trying once more can help. False for a wrong scope or anything else.
  bool token_rejected() const;
  // "invalid_token (scope https://mail.google.com/)": for messages, never holds the token.
  std::string describe() const;
};

// Decodes a challenge (the text after "334 " or "+ "). nullopt when it is not base64 of a JSON
// object; fields missing or not strings stay empty (numbers are kept as their decimal text).
std::optional<ErrorChallenge> parse_error_challenge(std::string_view base64_text);

}  // namespace pb::oauth
