// `postbridge test -c FILE account NAME | smarthost NAME | local | all`: the connection doctor
// (doctor/), its report printed as text or JSON; `test alerts` queues one test alert.
#include <iostream>

#include "app/alerter.hpp"
#include "cli/command.hpp"
#include "doctor/command.hpp"
#include "util/log.hpp"

namespace pb::cli {

namespace {

// Said plainly: where the test went and how to see it leave.
int test_alerts(const config::Config& cfg) {
  log::set_min_level(log::Level::warning);  // the lines below say it; the queue's own notice would repeat it
  queue::Store store(cfg.service.state_dir);
  auto id = app::queue_test_alert(cfg, store);
  std::string to;
  for (const auto& r : cfg.alerts.recipients) to += (to.empty() ? "" : ", ") + r;
  std::cout << "A test alert is queued as message " << id << " to " << to << " ([alerts] recipients).\n"
            << "postbridge delivers it to the office server " << cfg.local.host << ":" << cfg.local.port
            << " (at once while it runs, else at its next start); postbridge queue -c " << cfg.file.string()
            << " shows it until then.\n";
  return 0;
}

}  // namespace

int test(config::Config& cfg, const Args& args) {
  if (args.operands.size() == 1 && args.operands[0] == "alerts") return test_alerts(cfg);
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
