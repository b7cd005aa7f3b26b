#include "doctor/report.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>

#include "http/json.hpp"
#include "util/display.hpp"

namespace pb::doctor {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::warning: return "warning";
    case Verdict::failed: return "failed";
    case Verdict::skipped: return "skipped";
  }
  return "failed";
}

Step& Report::add(Step s) {
  steps.push_back(std::move(s));
  return steps.back();
}

void Report::advise(const std::string& fix) {
  if (fix.empty() || std::find(advice.begin(), advice.end(), fix) != advice.end()) return;
  advice.push_back(fix);
}

bool Report::ok() const {
  return std::none_of(steps.begin(), steps.end(), [](const Step& s) { return s.verdict == Verdict::failed; });
}

std::string Report::summary() const {
  for (const auto& s : steps)
    if (s.verdict == Verdict::failed) return "does not work: " + (s.problem.empty() ? s.title + " failed" : s.problem);
  bool warned = std::any_of(steps.begin(), steps.end(), [](const Step& s) { return s.verdict == Verdict::warning; });
  return warned ? "works, with warnings (see above)" : "works";
}

std::string format_took(std::chrono::milliseconds ms) {
  char buf[32];
  if (ms.count() < 1) return "<1 ms";
  if (ms.count() < 1000) std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ms.count()));
  else std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

namespace {

const char* label(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::warning: return "WARN";
    case Verdict::failed: return "FAIL";
    case Verdict::skipped: return "skip";
  }
  return "FAIL";
}

// Every line of a report may carry a server's words (a greeting, a refusal, a certificate name):
// escaped once more here, the last step before the admin's terminal, whatever the probes did.
std::string shown(const std::string& s) {
  constexpr std::size_t kMaxLine = 4000;  // advice runs long; a server's words are shorter already
  return display::safe(s, kMaxLine);
}

void append_row(std::string& out, const char* verdict, const std::string& title, const std::string& took) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %-5s %8s  ", verdict, took.c_str());
  out += buf + shown(title) + "\n";
}

}  // namespace

std::string render_text(const Report& r) {
  const std::string indent(17, ' ');
  std::string out = shown(r.kind + (r.kind == r.name ? "" : " " + r.name) + " — " + r.endpoint) + "\n";
  for (const auto& s : r.steps) {
    append_row(out, label(s.verdict), s.title, s.verdict == Verdict::skipped ? "" : format_took(s.took));
    for (const auto& d : s.details) out += indent + shown(d) + "\n";
    if (!s.problem.empty()) out += indent + "-> " + shown(s.problem) + "\n";
  }
  if (!r.ports.empty()) {
    out += "  ports:\n";
    for (const auto& p : r.ports) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "  %-5s %5u %-9s ", label(p.verdict), static_cast<unsigned>(p.port), p.tls.c_str());
      out += buf + shown(p.detail) + "\n";
    }
    if (!r.port_advice.empty()) out += indent + "-> " + shown(r.port_advice) + "\n";
  }
  if (!r.sent_queue_id.empty()) out += "  test message queued at the server as " + shown(r.sent_queue_id) + "\n";
  out += "Result: " + shown(r.summary()) + "\n";
  for (std::size_t i = 0; i < r.advice.size(); ++i)
    out += (i == 0 ? "What to do: " : "            ") + shown(r.advice[i]) + "\n";
  return out;
}

boost::json::object to_json(const Report& r) {
  boost::json::array steps;
  for (const auto& s : r.steps) {
    boost::json::array details;
    for (const auto& d : s.details) details.push_back(http::utf8_text(d));
    steps.push_back({{"name", s.name},
                     {"title", http::utf8_text(s.title)},
                     {"verdict", to_string(s.verdict)},
                     {"ms", s.took.count()},
                     {"details", std::move(details)},
                     {"problem", http::utf8_text(s.problem)}});
  }
  boost::json::array ports;
  for (const auto& p : r.ports)
    ports.push_back({{"port", p.port}, {"tls", p.tls}, {"verdict", to_string(p.verdict)}, {"detail", http::utf8_text(p.detail)}});
  boost::json::array advice;
  for (const auto& a : r.advice) advice.push_back(http::utf8_text(a));
  boost::json::object o{{"kind", r.kind},
                        {"name", http::utf8_text(r.name)},
                        {"endpoint", http::utf8_text(r.endpoint)},
                        {"ok", r.ok()},
                        {"summary", http::utf8_text(r.summary())},
                        {"steps", std::move(steps)},
                        {"advice", std::move(advice)}};
  if (!r.ports.empty()) {
    o["ports"] = std::move(ports);
    o["port_advice"] = http::utf8_text(r.port_advice);
  }
  if (!r.sent_queue_id.empty()) o["sent_queue_id"] = http::utf8_text(r.sent_queue_id);
  return o;
}

}  // namespace pb::doctor
