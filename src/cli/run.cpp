// `postbridge run -c FILE [--once]`: the service in the foreground (app/service), until SIGTERM,
// or one round of polls and deliveries with --once.
#include <utility>

#include "app/service.hpp"
#include "cli/command.hpp"

namespace pb::cli {

int run(config::Config& cfg, const Args& args) { return app::run_service(std::move(cfg), {args.once}); }

}  // namespace pb::cli
