// Asio and Beast compiled once for the libFuzzer build's http_api target (the normal builds get
// them from src/net/asio_impl.cpp in pb_net, which this build does not compile; see CMakeLists).
// Not instrumented: the library's own code is not what we fuzz, and this keeps it at seconds.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
