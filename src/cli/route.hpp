// `postbridge route -c FILE --account NAME [MESSAGE.eml ...]`: the multidrop decision for a message
// (stdin without files), printed for the admin, without delivering, storing or changing anything.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace pb::cli {

// Returns the exit code: 0 when every message was read and routed (held loops included), 1 when a
// file could not be read, 2 when the account does not exist.
int route_dry_run(const config::Config& cfg, const std::string& account, const std::vector<std::string>& files,
                  std::ostream& out, std::ostream& err);

}  // namespace pb::cli
