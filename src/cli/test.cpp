// `postbridge test -c FILE account NAME | smarthost NAME | local | all`: the connection doctor
// (doctor/), its report printed as text or JSON.
#include <iostream>

#include "cli/command.hpp"
#include "doctor/command.hpp"
#include "util/log.hpp"

namespace pb::cli {

int test(config::Config& cfg, const Args& args) {
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
