// `postbridge test`: runs the doctor's probes for one target or all and prints the reports as
// text or JSON. Exit code 0 when everything works, 1 otherwise (2: unknown target, from main).
#pragma once
#include <iosfwd>
#include <string>

#include "config/config.hpp"
#include "doctor/probe.hpp"

namespace pb::doctor {

struct Request {
  std::string what;  // account, smarthost, local, all
  std::string name;  // account or smarthost name
  bool json = false;
  Options options;
};

// Checks the request against cfg; an empty string when it can run, else what is wrong.
std::string validate(const config::Config& cfg, const Request& req);
int run_command(const config::Config& cfg, const Request& req, std::ostream& out);

}  // namespace pb::doctor
