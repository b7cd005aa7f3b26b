// Which way a queued message leaves: "local" (the office server) or "smarthost:NAME" (a provider's
// relay). Promise: the text form is built in to_string() and read in parse(), nowhere else.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pb::queue {

class RouteId {
 public:
  static RouteId local() { return RouteId(); }
  static RouteId smarthost(std::string name) { return RouteId(std::move(name)); }
  // nullopt when `s` is neither "local" nor "smarthost:NAME" with a NAME.
  static std::optional<RouteId> parse(std::string_view s);

  bool is_local() const { return smarthost_.empty(); }
  // NAME of a smarthost route; "local" for the office server (how the page and the CLI name it).
  const std::string& name() const;
  std::string to_string() const;
  bool operator==(const RouteId&) const = default;

 private:
  RouteId() = default;
  explicit RouteId(std::string smarthost) : smarthost_(std::move(smarthost)) {}
  std::string smarthost_;  // empty: local
};

}  // namespace pb::queue
