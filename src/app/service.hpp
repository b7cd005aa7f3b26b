// The running service: owns the io_context, the store, the deliverer and one poll loop per
// account; handles SIGTERM (stop within 10 s, never a DELE for undelivered mail) and SIGHUP
// (reload; an invalid new config is logged and the old one keeps running).
#pragma once
#include <filesystem>
#include <memory>

#include "config/config.hpp"

namespace pb::app {

// Exit codes, documented in `postbridge --help` and README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;   // state folder unusable, unexpected failure
inline constexpr int kExitConfig = 2;    // usage or configuration error
inline constexpr int kExitPending = 3;   // --once: mail left undelivered or a poll failed

struct RunOptions {
  bool once = false;
};

int run_service(config::Config cfg, const RunOptions& opt);

}  // namespace pb::app
