// The status page's request handling as pure functions: a parsed request and the service view in,
// a complete response out (no sockets, no clocks beyond time(2)), so every route is unit-testable.
// The contract (paths, parameters, JSON shapes) is src/http/api.md.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"
#include "http/model.hpp"
#include "http/site.hpp"

namespace pb::http {

// Answers one request: static files, /healthz, /metrics and every /api route except the event
// stream (see is_stream_request), including 400/403/404/405 and 500 for a failing store.
// POST requests must pass csrf_refusal() against `site`. The Host and login checks happen
// before (server.cpp).
Response handle(const Request& req, ServiceView& view, const Site& site);

// GET /api/stream: served by the socket layer (it never ends), not by handle().
bool is_stream_request(const Request& req);

// POST /api/test/{account|smarthost}/NAME and /api/test/local: the connection doctor. Served by
// the socket layer (a test takes seconds and must not block other requests).
bool is_test_request(const Request& req);
// The refusal of a test request (wrong method, CSRF, malformed path), or nullopt with kind and
// name filled in ("local" for both with /api/test/local).
std::optional<Response> check_test_request(const Request& req, const Site& site, std::string& kind,
                                           std::string& name);
// 200 with the report (doctor::to_json) as the body; or the service's reason for not starting it:
// 404 for an unknown name, 409 while a test of the same target runs.
Response test_report_response(const Request& req, std::string json_body);
Response test_refused_response(const Request& req, const std::string& why);

// A JSON error in the shape of api.md: {"error": word, "message": text}, with the security headers.
Response error_response(unsigned version, bool keep_alive, bhttp::status status, std::string_view word,
                        std::string_view message);

// Content-Security-Policy, nosniff, no-referrer on every response; Cache-Control: no-store on
// everything but the static files (they get no-cache and an ETag).
void add_security_headers(bhttp::fields& headers, bool cacheable);

}  // namespace pb::http
