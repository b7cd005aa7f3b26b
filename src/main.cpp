// postbridge command line: run (the service), check (validate and show the config), queue (list
// and act), route (multidrop dry run), test (the connection doctor), oauth (OAuth logins), backup,
// hash-password, --help and --version. Exit codes are part of the interface (documented in --help and README).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "app/dry_run.hpp"
#include "app/service.hpp"
#include "config/config.hpp"
#include "doctor/command.hpp"
#include "app/backup.hpp"
#include "app/oauth_login.hpp"
#include "app/bounce.hpp"
#include "app/state_owner.hpp"
#include "queue/ratelimit.hpp"
#include "queue/spool.hpp"
#include "queue/store.hpp"
#include "util/display.hpp"
#include "util/password.hpp"
#include "util/log.hpp"
#include "util/privileges.hpp"
#include "util/units.hpp"

namespace {

using pb::app::kExitConfig;
using pb::app::kExitOk;
using pb::app::kExitRuntime;

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

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "postbridge: %s\nTry 'postbridge --help'.\n", msg.c_str());
  return kExitConfig;
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

std::optional<pb::config::Config> load_or_report(const std::string& file) {
  try {
    return pb::config::load(file);
  } catch (const pb::config::ConfigError& e) {
    for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.c_str());
    std::fprintf(stderr, "postbridge: %zu problem(s) in %s; nothing was started\n", e.problems().size(), file.c_str());
    return std::nullopt;
  }
}

std::string span(std::int64_t seconds) {
  return pb::format_duration(std::chrono::seconds(std::max<std::int64_t>(0, seconds)));
}
std::string age(pb::queue::UnixTime t) { return t <= 0 ? "-" : span(std::time(nullptr) - t); }

int queue_action(const pb::config::Config& cfg, const Args& args) {
  const std::string& action = args.operands[0];
  pb::queue::Store store(cfg.service.state_dir);
  auto now = static_cast<pb::queue::UnixTime>(std::time(nullptr));
  if (action == "retry" && args.all) {
    std::printf("%d queued message(s) will be tried now\n", store.retry_all(now));
    return kExitOk;
  }
  if (args.operands.size() != 2) return usage_error("queue " + action + " needs a message ID");
  char* end = nullptr;
  long long id = std::strtoll(args.operands[1].c_str(), &end, 10);
  if (!end || *end || id <= 0) return usage_error("'" + args.operands[1] + "' is not a message ID");
  bool ok = false;
  if (action == "retry") ok = store.retry_now(id, now);
  else if (action == "hold") ok = store.set_held(id, true);
  else if (action == "release") ok = store.set_held(id, false);
  else if (action == "delete") {
    auto spool = store.remove(id);
    if (spool) pb::queue::remove_spool_file(store.spool_dir(), *spool);
    ok = spool.has_value();
  } else if (action == "bounce") {
    auto msg = store.get(id);
    ok = msg && (msg->state == pb::queue::MsgState::queued || msg->state == pb::queue::MsgState::held);
    if (ok) ok = pb::app::bounce_now(cfg, store, *msg);
  } else {
    return usage_error("unknown queue action '" + action + "' (retry, hold, release, delete, bounce)");
  }
  if (!ok) {
    std::fprintf(stderr, "postbridge: message %lld not found or not in a state that allows '%s'\n", id, action.c_str());
    return kExitRuntime;
  }
  std::printf("message %lld: %s done\n", id, action.c_str());
  return kExitOk;
}

// Reads one line from stdin; at a terminal with echo off, so the password never shows on the
// screen (nor in a screen recording or a terminal's scrollback), and echo comes back afterwards.
std::string read_password() {
  std::string pw;
  termios old{};
  const bool tty = isatty(0) && tcgetattr(0, &old) == 0;
  if (tty) {
    std::fprintf(stderr, "Password: ");
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;  // the Enter still moves to the next line
    tcsetattr(0, TCSAFLUSH, &quiet);
  }
  std::getline(std::cin, pw);
  if (tty) tcsetattr(0, TCSAFLUSH, &old);
  return pw;
}

int cmd_hash_password() {
  std::string pw = read_password();
  if (pw.empty()) return usage_error("an empty password cannot be hashed");
  std::printf("%s\n", pb::password::hash_password(pw).c_str());
  return kExitOk;
}

int cmd_queue(const pb::config::Config& cfg, const Args& args) {
  if (!args.operands.empty()) return queue_action(cfg, args);
  pb::queue::Store store(cfg.service.state_dir);
  auto msgs = store.list(500);
  // A smarthost at its send limit holds its messages back: NEXT says until when, not "now".
  const auto now_s = static_cast<pb::queue::UnixTime>(std::time(nullptr));
  std::map<std::string, pb::queue::UnixTime> allowed_at;
  for (const auto& s : cfg.smarthosts) {
    if (s.max_per_hour <= 0 && s.max_per_day <= 0) continue;
    pb::queue::SendWindow window(s.max_per_hour, s.max_per_day);
    const std::string route = "smarthost:" + s.name;
    window.load(store.send_times(route, now_s - 86400));
    allowed_at[route] = window.next_allowed(now_s);
  }
  // Columns are measured in what the terminal shows (an umlaut one column, a CJK character two),
  // and addresses and replies come from mail and servers: escaped, so no control reaches the
  // terminal (U+009B acts like ESC [ there).
  std::vector<std::vector<std::string>> rows{
      {"ID", "STATE", "ROUTE", "SENDER", "RECIPIENTS", "SIZE", "AGE", "TRY", "NEXT", "LAST REPLY"}};
  for (const auto& m : msgs) {
    std::string rcpts;
    for (const auto& r : m.recipients) rcpts += (rcpts.empty() ? "" : ",") + r.address;
    pb::queue::UnixTime due = m.next_attempt;
    if (auto it = allowed_at.find(m.route); it != allowed_at.end()) due = std::max(due, it->second);
    std::string next = m.state == pb::queue::MsgState::queued ? (due <= now_s ? "now" : "in " + span(due - now_s)) : "-";
    rows.push_back({std::to_string(m.id), pb::queue::to_string(m.state), pb::display::safe(m.route),
                    m.sender.empty() ? "<>" : pb::display::safe(m.sender), pb::display::safe(rcpts, 2000),
                    pb::format_size({m.size}), age(m.created_at), std::to_string(m.attempts), next,
                    pb::display::safe(m.last_reply, 2000)});
  }
  std::fputs(pb::display::table(rows, {{12}, {9}, {24}, {40}, {50}, {10, true}, {8, true}, {4, true}, {12}, {200}})
                 .c_str(),
             stdout);
  std::printf("%d queued, %d failed, %d held, %d delivered\n", store.count(pb::queue::MsgState::queued),
              store.count(pb::queue::MsgState::failed), store.count(pb::queue::MsgState::held),
              store.count(pb::queue::MsgState::delivered));
  return kExitOk;
}

int cmd_backup(const pb::config::Config& cfg, const Args& args) {
  if (args.operands.size() != 1) return usage_error("backup needs the folder to copy into: backup -c FILE DEST");
  auto res = pb::app::backup_state(cfg, args.operands[0]);
  std::printf("backup of %s in %s: database, %zu spool file(s) of undelivered mail and %zu key file(s) "
              "(loop key, OAuth sign-ins), %s%s\n",
              cfg.service.state_dir.c_str(), res.dest.c_str(), res.spool_files, res.key_files,
              pb::format_size({res.bytes}).c_str(),
              res.attempts > 1 ? (" (" + std::to_string(res.attempts) + " snapshots: mail was moving)").c_str() : "");
  return kExitOk;
}

int cmd_oauth(const pb::config::Config& cfg, const Args& args) {
  pb::app::OAuthCommand cmd;
  const auto& ops = args.operands;
  if (ops.empty()) return usage_error("oauth needs an action: login, status or logout");
  cmd.action = ops[0];
  cmd.browser = args.browser;
  if (ops.size() == 3) {
    if (ops[1] != "account" && ops[1] != "smarthost")
      return usage_error("oauth " + ops[0] + ": '" + ops[1] + "' is neither 'account' nor 'smarthost'");
    cmd.kind = ops[1];
    cmd.name = ops[2];
  } else if (ops.size() == 2) {
    cmd.name = ops[1];
  }
  if (cmd.action == "status" && ops.size() > 1) return usage_error("oauth status takes no name");
  if (args.browser && cmd.action != "login") return usage_error("--browser only applies to 'oauth login'");
  return pb::app::oauth_command(cfg, cmd, std::cout, std::cerr);
}

int cmd_test(const pb::config::Config& cfg, const Args& args) {
  pb::doctor::Request req;
  req.what = args.operands.empty() ? "" : args.operands[0];
  req.name = args.operands.size() > 1 ? args.operands[1] : "";
  req.json = args.json;
  req.options.ports = args.ports;
  req.options.send_to = args.send_to;
  req.options.from = args.from;
  if (auto problem = pb::doctor::validate(cfg, req); !problem.empty()) return usage_error(problem);
  pb::log::set_min_level(pb::log::Level::warning);  // the report is the output; the clients' own info lines would repeat it
  return pb::doctor::run_command(cfg, req, std::cout);
}

// The commands that read or write the state folder (route's dry run and check open no state).
bool uses_state(const std::string& command) {
  return command == "run" || command == "queue" || command == "test" || command == "oauth" || command == "backup";
}

}  // namespace

int main(int argc, char** argv) {
  // Every command may hold a secret — the config's passwords, OAuth tokens, a password to hash:
  // none goes into a core dump, and no other process of the same user reads this one's memory.
  try {
    pb::priv::forbid_core_dumps();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postbridge: cannot keep secrets out of core dumps: %s\n", e.what());
    return kExitRuntime;
  }
  Args args;
  std::string error;
  if (!parse_args(argc, argv, args, error)) return usage_error(error);
  if (args.command == "--version") {
    std::printf("postbridge %s\n", PB_VERSION);
    return kExitOk;
  }
  if (args.help || args.command.empty()) {
    std::fputs(kUsage, args.help ? stdout : stderr);
    return args.help ? kExitOk : kExitConfig;
  }
  if (args.command == "hash-password") return cmd_hash_password();
  if (args.command != "run" && args.command != "check" && args.command != "queue" && args.command != "route" &&
      args.command != "test" && args.command != "backup" && args.command != "oauth")
    return usage_error("unknown command '" + args.command + "'");
  if (args.config.empty()) return usage_error(args.command + " needs -c FILE");
  if (args.once && args.command != "run") return usage_error("--once only applies to 'run'");
  if (!args.account.empty() && args.command != "route") return usage_error("--account only applies to 'route'");
  if ((args.ports || args.json || !args.send_to.empty() || !args.from.empty()) && args.command != "test")
    return usage_error("--ports, --json, --send-to and --from only apply to 'test'");
  if (args.browser && args.command != "oauth") return usage_error("--browser only applies to 'oauth login'");

  pb::log::set_prefix_time(isatty(2) != 0);
  auto cfg = load_or_report(args.config);
  if (!cfg) return kExitConfig;
  try {
    // As root: the owner of the state folder from here on (the config and its secrets are read).
    if (uses_state(args.command)) {
      std::string switched = pb::app::become_state_owner(*cfg, args.command == "run");
      if (!switched.empty() && args.command == "run") pb::log::notice(switched);
    }
    if (args.command == "check") {
      std::fputs(pb::config::render_masked(*cfg).c_str(), stdout);
      std::fprintf(stderr, "%s: configuration is valid\n", args.config.c_str());
      return kExitOk;
    }
    if (args.command == "queue") return cmd_queue(*cfg, args);
    if (args.command == "test") return cmd_test(*cfg, args);
    if (args.command == "backup") return cmd_backup(*cfg, args);
    if (args.command == "oauth") return cmd_oauth(*cfg, args);
    if (args.command == "route") return pb::app::route_dry_run(*cfg, args.account, args.operands, std::cout, std::cerr);
    return pb::app::run_service(std::move(*cfg), {args.once});
  } catch (const std::exception& e) {
    pb::log::error(std::string("postbridge: ") + e.what());
    return kExitRuntime;
  }
}
