// Base64 (RFC 4648 4) for SASL exchanges (RFC 4954, RFC 5034) and RFC 2047 B-encoding, and its
// URL-safe form without padding (RFC 4648 5, as JWTs and PKCE use it: RFC 7515 2, RFC 7636).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pb::base64 {

std::string encode(std::string_view data);
// Ignores CR/LF/space; nullopt on any other invalid character or bad padding.
std::optional<std::string> decode(std::string_view text);

// RFC 4648 5 with '-' and '_', never padded (RFC 7515 2).
std::string encode_url(std::string_view data);
// nullopt for '+', '/', '=' or any other character outside the URL-safe alphabet.
std::optional<std::string> decode_url(std::string_view text);

}  // namespace pb::base64
