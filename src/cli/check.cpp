// `postbridge check -c FILE`: the configuration as loaded (defaults filled in, passwords as ****)
// on stdout, "configuration is valid" on stderr; the problems of an invalid one come from with_config.
#include <cstdio>

#include "app/service.hpp"
#include "cli/command.hpp"

namespace pb::cli {

int check(config::Config& cfg, const Args& args) {
  std::fputs(config::render_masked(cfg).c_str(), stdout);
  std::fprintf(stderr, "%s: configuration is valid\n", args.config.c_str());
  return app::kExitOk;
}

}  // namespace pb::cli
