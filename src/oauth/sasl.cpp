// XOAUTH2 / OAUTHBEARER messages and the error challenge, byte for byte as RFC 7628 section 4
// shows them (tests/unit/oauth/sasl_test.cpp replays its examples).
#include "oauth/sasl.hpp"

#include <boost/json.hpp>

#include "util/base64.hpp"
#include "util/text.hpp"

namespace pb::oauth {

namespace json = boost::json;

std::optional<Mechanism> parse_mechanism(std::string_view name) {
  if (text::iequals(name, "XOAUTH2")) return Mechanism::xoauth2;
  if (text::iequals(name, "OAUTHBEARER")) return Mechanism::oauthbearer;
  return std::nullopt;
}

const char* mechanism_name(Mechanism m) { return m == Mechanism::xoauth2 ? "XOAUTH2" : "OAUTHBEARER"; }

std::string xoauth2_message(std::string_view user, std::string_view token) {
  std::string out = "user=";
  out.append(user).append("\x01").append("auth=Bearer ").append(token).append("\x01\x01");
  return out;
}

namespace {
// RFC 5801 5.1 saslname: "=" and "," are escaped so the GS2 header stays parseable.
std::string saslname(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ',') out += "=2C";
    else if (c == '=') out += "=3D";
    else out += c;
  }
  return out;
}
}  // namespace

std::string oauthbearer_message(std::string_view user, std::string_view host, std::uint16_t port,
                                std::string_view token) {
  // RFC 7628 3.1: gs2-header "n,a=" authzid "," then kvpairs each ended by ^A, then a final ^A.
  std::string out = "n,";
  if (!user.empty()) out += "a=" + saslname(user);
  out += ",\x01";
  if (!host.empty()) out.append("host=").append(host).append("\x01");
  if (port != 0) out.append("port=").append(std::to_string(port)).append("\x01");
  out.append("auth=Bearer ").append(token).append("\x01\x01");
  return out;
}

std::string initial_response(Mechanism m, std::string_view user, std::string_view host, std::uint16_t port,
                             std::string_view token) {
  return base64::encode(m == Mechanism::xoauth2 ? xoauth2_message(user, token)
                                                : oauthbearer_message(user, host, port, token));
}

bool ErrorChallenge::token_rejected() const {
  // RFC 7628 3.2.2 uses the RFC 6750 3.1 codes: invalid_token means expired, revoked or malformed;
  // Google's XOAUTH2 says "401" for the same (a wrong scope is "400" there, insufficient_scope here).
  return status == "invalid_token" || status == "401";
}

std::string ErrorChallenge::describe() const {
  std::string out = status.empty() ? std::string("no status") : text::printable(status, 80);
  if (!scope.empty()) out += " (scope " + text::printable(scope, 200) + ")";
  return out;
}

std::optional<ErrorChallenge> parse_error_challenge(std::string_view base64_text) {
  auto decoded = base64::decode(text::trim(base64_text));
  if (!decoded) return std::nullopt;
  json::error_code ec;
  json::value v = json::parse(*decoded, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  auto field = [&](const char* key) -> std::string {
    const json::value* f = o.if_contains(key);
    if (!f) return {};
    if (f->is_string()) return std::string(f->as_string());
    if (f->is_int64()) return std::to_string(f->as_int64());
    if (f->is_uint64()) return std::to_string(f->as_uint64());
    return {};
  };
  ErrorChallenge out;
  out.status = field("status");
  out.scope = field("scope");
  out.openid_configuration = field("openid-configuration");
  return out;
}

}  // namespace pb::oauth
