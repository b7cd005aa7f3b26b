// postbridge command line: picks the command by name and hands over to its file in cli/ — run
// (the service), check, queue, route (multidrop dry run), test (the connection doctor), oauth,
// backup, hash-password; --help and --version. Exit codes are in --help and README.
#include <cstdio>
#include <string_view>

#include "app/service.hpp"
#include "cli/command.hpp"
#include "util/privileges.hpp"

namespace {

struct Command {
  std::string_view name;
  pb::cli::ConfigCommand run;
  bool uses_state;  // reads or writes the state folder (route's dry run and check open no state)
};

constexpr Command kCommands[] = {
    {"run", pb::cli::run, true},       {"check", pb::cli::check, false},   {"queue", pb::cli::queue, true},
    {"route", pb::cli::route, false},  {"test", pb::cli::test, true},      {"backup", pb::cli::backup, true},
    {"oauth", pb::cli::oauth, true},
};

}  // namespace

int main(int argc, char** argv) {
  // Every command may hold a secret — the config's passwords, OAuth tokens, a password to hash:
  // none goes into a core dump, and no other process of the same user reads this one's memory.
  try {
    pb::priv::forbid_core_dumps();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postbridge: cannot keep secrets out of core dumps: %s\n", e.what());
    return pb::app::kExitRuntime;
  }
  pb::cli::Args args;
  std::string error;
  if (!pb::cli::parse_args(argc, argv, args, error)) return pb::cli::usage_error(error);
  if (args.command == "--version") return pb::cli::version();
  if (args.help || args.command.empty()) return pb::cli::usage(args.help);
  if (args.command == "hash-password") return pb::cli::hash_password();
  for (const auto& c : kCommands)
    if (c.name == args.command) return pb::cli::with_config(args, c.run, c.uses_state);
  return pb::cli::usage_error("unknown command '" + args.command + "'");
}
