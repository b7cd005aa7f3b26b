// Base64 (RFC 4648 4) for SASL exchanges (RFC 4954, RFC 5034) and RFC 2047 B-encoding.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pb::base64 {

std::string encode(std::string_view data);
// Ignores CR/LF/space; nullopt on any other invalid character or bad padding.
std::optional<std::string> decode(std::string_view text);

}  // namespace pb::base64
