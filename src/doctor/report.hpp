// The connection doctor's findings (`postbridge test`, the status page's "Test" button): a list of
// timed steps with a verdict each, the likely fixes in plain words, and two renderings (terminal
// text and JSON). No I/O here; probe.cpp fills a Report, advice.cpp words the problems.
#pragma once
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace pb::doctor {

enum class Verdict { ok, warning, failed, skipped };
const char* to_string(Verdict v);  // "ok", "warning", "failed", "skipped"

struct Step {
  std::string name;   // stable key for scripts: dns, tcp, tls, greeting, capabilities, login, mailbox, send, ...
  std::string title;  // what was tried, for people: "TCP to 192.0.2.1:465"
  Verdict verdict = Verdict::ok;
  std::chrono::milliseconds took{0};
  std::vector<std::string> details;  // what was seen ("TLSv1.3 TLS_AES_256_GCM_SHA384")
  std::string problem;               // plain words when the verdict is warning or failed
};

// One port of `--ports`: what happened there without logging in.
struct PortResult {
  std::uint16_t port = 0;
  std::string tls;  // "implicit", "starttls"
  Verdict verdict = Verdict::failed;
  std::string detail;
};

struct Report {
  std::string kind;      // account, smarthost, local
  std::string name;      // the account or smarthost name; "local" for the office server
  std::string endpoint;  // "pop.example.net:995, POP3, implicit TLS"
  std::vector<Step> steps;
  std::vector<PortResult> ports;
  std::string port_advice;          // which port and TLS mode to configure (with --ports)
  std::vector<std::string> advice;  // likely fixes, most likely first, no duplicates
  std::string sent_queue_id;        // --send-to: the server's id of the test message, when it named one

  Step& add(Step s);
  void advise(const std::string& fix);  // ignores empty and repeated advice
  bool ok() const;                      // no step failed
  // One line: "works" or "does not work: <the first failure>"
  std::string summary() const;
};

// For a terminal: a block per report, aligned columns, the summary and the advice last.
std::string render_text(const Report& r);
boost::json::object to_json(const Report& r);

// "12 ms", "1.4 s"
std::string format_took(std::chrono::milliseconds ms);

}  // namespace pb::doctor
