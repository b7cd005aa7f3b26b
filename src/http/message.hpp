// The HTTP message types of the status page server: whole requests and responses with string
// bodies (the limits keep both small), shared by the pure handlers and the socket layer.
#pragma once
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace pb::http {

namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

}  // namespace pb::http
