// The one shape for "it worked, or here is why not": nullopt when it worked, else the reason in
// plain words for the log, the page or the client. Plain yes/no questions (is_x) stay bool.
#pragma once
#include <optional>
#include <string>

namespace pb {

// Not a string that is "" on success: an empty reason would read as success, and a caller could
// not tell "worked" from "failed without words". Mark functions returning it [[nodiscard]].
using WhyNot = std::optional<std::string>;

}  // namespace pb
