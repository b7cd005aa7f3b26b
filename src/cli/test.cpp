// `postbridge test -c FILE account NAME | smarthost NAME | local | all`: the connection doctor
// (doctor/), its report printed as text or JSON; `test alerts` queues one test alert and
// `test daily-report` today's report so far.
#include <ctime>
#include <iostream>

#include "app/alerter.hpp"
#include "app/daily_report.hpp"
#include "cli/command.hpp"
#include "doctor/command.hpp"
#include "util/log.hpp"

namespace pb::cli {

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Said plainly: where the test went and how to see it leave.
int test_alerts(const config::Config& cfg) {
  log::set_min_level(log::Level::warning);  // the lines below say it; the queue's own notice would repeat it
  queue::Store store(cfg.service.state_dir);
  auto id = app::queue_test_alert(cfg, store);
  std::cout << "A test alert is queued as message " << id << " to " << joined(cfg.alerts.recipients)
            << " ([alerts] recipients).\n"
            << "postbridge delivers it to the office server " << cfg.local.host << ":" << cfg.local.port
            << " (at once while it runs, else at its next start); postbridge queue -c " << cfg.file.string()
            << " shows it until then.\n";
  return 0;
}

// Today's numbers so far, as the daily report words them, queued at once.
int test_daily_report(const config::Config& cfg) {
  log::set_min_level(log::Level::warning);
  queue::Store store(cfg.service.state_dir);
  auto id = app::queue_daily_report(cfg, store, std::time(nullptr), true);
  std::cout << "Today's report so far is queued as message " << id << " to "
            << joined(cfg.alerts.recipients) << " ([alerts] recipients).\n"
            << (cfg.alerts.daily_report ? "" : "No daily report is sent by itself: set [alerts] daily_report, like "
                                               "daily_report = \"07:00\".\n");
  return 0;
}

}  // namespace

int test(config::Config& cfg, const Args& args) {
  if (args.operands.size() == 1 && args.operands[0] == "alerts") return test_alerts(cfg);
  if (args.operands.size() == 1 && args.operands[0] == "daily-report") return test_daily_report(cfg);
  doctor::Request req;
  req.what = args.operands.empty() ? "" : args.operands[0];
  req.name = args.operands.size() > 1 ? args.operands[1] : "";
  req.json = args.json;
  req.options.ports = args.ports;
  req.options.send_to = args.send_to;
  req.options.from = args.from;
  if (auto problem = doctor::validate(cfg, req); !problem.empty()) return usage_error(problem);
  log::set_min_level(log::Level::warning);  // the report is the output; the clients' own info lines would repeat it
  return doctor::run_command(cfg, req, std::cout);
}

}  // namespace pb::cli
