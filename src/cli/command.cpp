// Argument parsing, the usage text and the steps before a command runs (cli/command.hpp). Exit
// codes are part of the interface (documented in --help and README).
#include "cli/command.hpp"

#include <unistd.h>

#include <cstdio>
#include <optional>

#include "app/service.hpp"
#include "app/state_owner.hpp"
#include "util/log.hpp"

namespace pb::cli {
namespace {

using app::kExitConfig;
using app::kExitOk;
using app::kExitRuntime;

constexpr const char* kUsage = R"(postbridge — fetches provider POP3 mailboxes into the office mail server.

Usage:
  postbridge run   -c FILE [--once]   run the service in the foreground (systemd, a terminal)
  postbridge check -c FILE            validate FILE and print the resolved configuration
                                      (passwords shown as ****)
  postbridge queue -c FILE            list queued, failed and recent messages
  postbridge queue -c FILE retry ID|--all   try a message (or every queued one) now
  postbridge queue -c FILE hold ID | release ID | delete ID | bounce ID
                                      (they work while the service runs)
  postbridge route -c FILE [--account NAME] [MESSAGE ...]
                                      dry run for a multidrop account: print which local
                                      users a message (stdin, or each file) goes to and why
  postbridge test -c FILE account NAME | smarthost NAME | local | all
                                      the connection doctor: DNS, TCP, TLS and certificate,
                                      greeting and capabilities, login, each timed, and what to
                                      fix; fetches, deletes and sends nothing (but see --send-to)
  postbridge test -c FILE alerts      queue one test alert to the [alerts] recipients
  postbridge test -c FILE daily-report
                                      queue today's report so far (the [alerts] daily_report
                                      mail) to the [alerts] recipients
  postbridge oauth -c FILE login [account|smarthost] NAME [--browser]
                                      the first OAuth login of an account or smarthost with
                                      auth = "xoauth2"/"oauthbearer": a code to enter in a browser
                                      (Microsoft), or a browser sign-in (Google, --browser); the
                                      tokens are kept in the state folder, never shown
  postbridge oauth -c FILE status     which OAuth logins are stored, and until when
  postbridge oauth -c FILE logout [account|smarthost] NAME
                                      forget the stored tokens
  postbridge backup -c FILE DEST      copy the state folder (database snapshot, the spool files
                                      of undelivered mail, loop key, OAuth sign-ins) into the new
                                      folder DEST, also while the service runs; restore: stop it,
                                      copy DEST to state_dir
  postbridge hash-password            read a password on stdin, print a hash for [[relay.user]]
                                      or [[web.user]]
  postbridge --version
  postbridge COMMAND --help

Options:
  -c, --config FILE   the configuration file (TOML); example: config/postbridge.toml
  --once              poll every enabled account once, deliver everything, then exit
                      (for cron jobs and benchmarks)
  --account NAME      route: the [[account]] to route for (default: the only multidrop one)
  --ports             test: also try ports 465, 587 and 25 (POP3: 995 and 110), and first the
                      configured port when it is another, without logging in; say which work
                      and which to configure
  --send-to ADDR      test smarthost/local: send one test message to ADDR after the login and
                      print the id the server queued it under
  --from ADDR         test --send-to: its sender (default: one the smarthost's senders allow)
  --json              test: the reports as one JSON object, for scripts
  --browser           oauth login: sign in with the browser (authorization code with PKCE)
                      even where the provider offers a login with a code

As root: run, queue, test, oauth and backup work as the owner of the state folder (its user and
group, for good), so that nothing in it ends up belonging to root; the configuration and its
password files are read before, as root. A state folder that belongs to root keeps them root.
backup then writes DEST as that owner.

Signals (run): SIGTERM/SIGINT stop within 10 s (undelivered mail is never deleted at the
provider); SIGHUP reloads FILE (an invalid new file is logged, the old configuration keeps running).

Exit codes:
  0  success (with --once: every fetched message was delivered)
  1  runtime error (e.g. the state folder is not writable)
  2  usage or configuration error; each problem is printed as FILE:LINE:COL: key: message
  3  --once only: finished, but mail is still queued or a poll failed (the reason is printed)
  test: 0 when every tested connection works, 1 when one does not, 2 for usage errors
  oauth login: 0 signed in and stored, 1 the sign-in failed (the reason is printed), 2 usage
)";

std::optional<config::Config> load_or_report(const std::string& file) {
  try {
    return config::load(file);
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.c_str());
    std::fprintf(stderr, "postbridge: %zu problem(s) in %s; nothing was started\n", e.problems().size(), file.c_str());
    return std::nullopt;
  }
}

// Options given to a command they do not belong to; "" when there are none.
std::string misplaced_option(const Args& args) {
  if (args.once && args.command != "run") return "--once only applies to 'run'";
  if (!args.account.empty() && args.command != "route") return "--account only applies to 'route'";
  if ((args.ports || args.json || !args.send_to.empty() || !args.from.empty()) && args.command != "test")
    return "--ports, --json, --send-to and --from only apply to 'test'";
  if (args.browser && args.command != "oauth") return "--browser only applies to 'oauth login'";
  return "";
}

}  // namespace

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "postbridge: %s\nTry 'postbridge --help'.\n", msg.c_str());
  return kExitConfig;
}

int usage(bool asked) {
  std::fputs(kUsage, asked ? stdout : stderr);
  return asked ? kExitOk : kExitConfig;
}

int version() {
  std::printf("postbridge %s\n", PB_VERSION);
  return kExitOk;
}

bool parse_args(int argc, char** argv, Args& args, std::string& error) {
  std::vector<std::string> rest(argv + 1, argv + argc);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (a == "-h" || a == "--help") args.help = true;
    else if (a == "--version" || a == "-V") args.command = "--version";
    else if (a == "--once") args.once = true;
    else if (a == "--all") args.all = true;
    else if (a == "--ports") args.ports = true;
    else if (a == "--json") args.json = true;
    else if (a == "--browser") args.browser = true;
    else if (a == "--send-to" || a == "--from") {
      if (i + 1 >= rest.size()) { error = a + " needs an address"; return false; }
      (a == "--from" ? args.from : args.send_to) = rest[++i];
    }
    else if (a == "-c" || a == "--config") {
      if (i + 1 >= rest.size()) { error = a + " needs a file name"; return false; }
      args.config = rest[++i];
    } else if (a.starts_with("--config=")) args.config = a.substr(9);
    else if (a == "--account") {
      if (i + 1 >= rest.size()) { error = a + " needs an account name"; return false; }
      args.account = rest[++i];
    } else if (a.starts_with("--account=")) args.account = a.substr(10);
    else if (!a.empty() && a[0] == '-') { error = "unknown option " + a; return false; }
    else if (args.command.empty()) args.command = a;
    else if (args.command == "queue" && args.operands.size() < 2) args.operands.push_back(a);
    else if (args.command == "route") args.operands.push_back(a);
    else if (args.command == "test" && args.operands.size() < 2) args.operands.push_back(a);
    else if (args.command == "backup" && args.operands.empty()) args.operands.push_back(a);
    else if (args.command == "oauth" && args.operands.size() < 3) args.operands.push_back(a);
    else { error = "unexpected argument " + a; return false; }
  }
  return true;
}

int with_config(const Args& args, ConfigCommand command, bool uses_state) {
  if (args.config.empty()) return usage_error(args.command + " needs -c FILE");
  if (auto misplaced = misplaced_option(args); !misplaced.empty()) return usage_error(misplaced);
  log::set_prefix_time(isatty(2) != 0);
  auto cfg = load_or_report(args.config);
  if (!cfg) return kExitConfig;
  try {
    // As root: the owner of the state folder from here on (the config and its secrets are read).
    if (uses_state) {
      std::string switched = app::become_state_owner(*cfg, args.command == "run");
      if (!switched.empty() && args.command == "run") log::notice(switched);
    }
    return command(*cfg, args);
  } catch (const std::exception& e) {
    log::error(std::string("postbridge: ") + e.what());
    return kExitRuntime;
  }
}

}  // namespace pb::cli
