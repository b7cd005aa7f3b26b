// RouteId's one text form (see route_id.hpp).
#include "queue/route_id.hpp"

namespace pb::queue {

namespace {
constexpr std::string_view kLocal = "local";
constexpr std::string_view kSmarthostPrefix = "smarthost:";
}  // namespace

std::optional<RouteId> RouteId::parse(std::string_view s) {
  if (s == kLocal) return local();
  if (!s.starts_with(kSmarthostPrefix) || s.size() == kSmarthostPrefix.size()) return std::nullopt;
  return smarthost(std::string(s.substr(kSmarthostPrefix.size())));
}

const std::string& RouteId::name() const {
  static const std::string local_name(kLocal);
  return is_local() ? local_name : smarthost_;
}

std::string RouteId::to_string() const {
  return is_local() ? std::string(kLocal) : std::string(kSmarthostPrefix) + smarthost_;
}

}  // namespace pb::queue
