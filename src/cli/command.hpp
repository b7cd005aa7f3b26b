// The command line's shared parts: the arguments as parsed once, the usage text, and the steps
// every command that reads a configuration takes first (options check, config, state owner).
// Each command is one file of cli/; main.cpp only picks one by name.
#pragma once
#include <string>
#include <vector>

#include "config/config.hpp"

namespace pb::cli {

struct Args {
  std::string command;
  std::string config;
  std::vector<std::string> operands;  // queue ACTION [ID|--all]; route MESSAGE...
  std::string account;                // route --account NAME
  std::string send_to, from;          // test --send-to ADDR --from ADDR
  bool ports = false, json = false;   // test --ports --json
  bool browser = false;               // oauth login --browser
  bool once = false;
  bool all = false;
  bool help = false;
};

// False with `error` set for an unknown option or an argument the command takes no more of.
bool parse_args(int argc, char** argv, Args& args, std::string& error);

// Prints "postbridge: MSG" and the --help hint to stderr; returns the usage exit code (2).
int usage_error(const std::string& msg);
// --help (to stdout, exit 0) or no command at all (to stderr, exit 2).
int usage(bool asked);
int version();

// A command that works on a loaded configuration; `cfg` may be moved from (run keeps it).
using ConfigCommand = int (*)(config::Config& cfg, const Args& args);
// Checks the options against the command, loads -c FILE (problems printed as FILE:LINE:COL),
// becomes the state folder's owner when `uses_state` and runs as root, then runs `command`;
// an exception it throws is logged and exits 1.
int with_config(const Args& args, ConfigCommand command, bool uses_state);

// The commands, one file each.
int run(config::Config& cfg, const Args& args);       // cli/run.cpp
int check(config::Config& cfg, const Args& args);     // cli/check.cpp
int queue(config::Config& cfg, const Args& args);     // cli/queue.cpp
int route(config::Config& cfg, const Args& args);     // cli/route.cpp
int test(config::Config& cfg, const Args& args);      // cli/test.cpp
int backup(config::Config& cfg, const Args& args);    // cli/backup.cpp
int oauth(config::Config& cfg, const Args& args);     // cli/oauth.cpp
int hash_password();                                  // cli/hash_password.cpp

}  // namespace pb::cli
