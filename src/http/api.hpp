// The status page's request handling as pure functions: a parsed request and the service view in,
// a complete response out (no sockets, no clocks beyond time(2)), so every route is unit-testable.
// The contract (paths, parameters, JSON shapes) is src/http/api.md.
#pragma once
#include <string_view>

#include "http/message.hpp"
#include "http/model.hpp"

namespace pb::http {

// Answers one request: static files, /healthz, /metrics and every /api route except the event
// stream (see is_stream_request), including 400/403/404/405 and 500 for a failing store.
// POST requests must pass csrf_refusal(). Login checks happen before (server.cpp).
Response handle(const Request& req, ServiceView& view);

// GET /api/stream: served by the socket layer (it never ends), not by handle().
bool is_stream_request(const Request& req);

// A JSON error in the shape of api.md: {"error": word, "message": text}, with the security headers.
Response error_response(unsigned version, bool keep_alive, bhttp::status status, std::string_view word,
                        std::string_view message);

// Content-Security-Policy, nosniff, no-referrer on every response; Cache-Control: no-store on
// everything but the static files (they get no-cache and an ETag).
void add_security_headers(bhttp::fields& headers, bool cacheable);

}  // namespace pb::http
