// Who signed in at an OAuth provider, read from the OpenID Connect id_token of the token
// endpoint's answer (OIDC Core 1.0 2, 3.1.3.7), and whether that is the login postbridge was set
// up for. Pure: no I/O, the caller gives the time; a token never appears in a message.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pb::oauth {

// What an id_token must show before postbridge believes its names.
struct IdTokenExpect {
  std::string client_id;  // aud must name it (OIDC Core 3.1.3.7 items 3-5)
  std::string provider;   // "microsoft" | "google": which iss to expect (item 2); others: any
  std::int64_t now = 0;   // Unix seconds, for exp (item 9)
};

// The names the provider gives the user who signed in, each one a login name that would do:
// preferred_username (Microsoft: the UPN or the address; it needs the profile scope), email
// (not when email_verified is false, as Google may say), upn. Empty: it names no one.
struct SignedInAs {
  std::vector<std::string> names;
  // The name to show beside the configured `login`: an address beside an address.
  std::string shown(std::string_view login) const;
};

// Throws TokenError (login_needed) in plain words for an id_token that is no readable JWT, was
// issued to another client, has expired, or comes from an issuer the provider does not use.
SignedInAs read_id_token(std::string_view id_token, const IdTokenExpect& expect);

// Whether two login names are the same: addresses without regard to case (the providers treat
// them so), other names exactly (Dovecot's user names are case-sensitive).
bool same_login(std::string_view a, std::string_view b);

// "" when one of `who.names` is `login`, else the refusal in plain words, naming both:
// "signed in as bob@x, but account info logs in as alice@x; sign in again as alice@x".
// `whose`: "account info" / "smarthost gmail". A `who` without names is no refusal either: the
// provider did not say, and the first login at the mail server is the check.
std::string identity_mismatch(const SignedInAs& who, std::string_view login, std::string_view whose);

}  // namespace pb::oauth
