// The JSON shapes of the status page API (documented in src/http/api.md): one function per
// object, so the API and the live stream always send the same fields. Every string is valid UTF-8.
#pragma once
#include <boost/json.hpp>

#include <cstdint>
#include <string_view>

#include "http/model.hpp"
#include "queue/alert_table.hpp"
#include "queue/store.hpp"

namespace pb::http {

// Text as a JSON string; bytes that are not valid UTF-8 (a raw 8-bit subject) become U+FFFD, so
// the document stays valid JSON (RFC 8259 8.1).
boost::json::string utf8_text(std::string_view s);

boost::json::object account_json(const AccountStatus& a);
// A page sign-in (never a token): state, flow, the device code and address or the browser
// address, the error.
boost::json::object oauth_state_json(const OAuthLoginState& s);
boost::json::object event_json(const queue::StoredEvent& e);
boost::json::object message_json(const queue::QueuedMessage& m);
// An open problem of the alerts table: condition, object, since, raised_at (0: not told yet),
// last_sent, words and fix.
boost::json::object alert_json(const queue::AlertRow& a);
// GET /api/status: version, uptime, accounts, routes with their queue counts, queue totals.
boost::json::object status_json(ServiceView& view, std::int64_t now);

}  // namespace pb::http
