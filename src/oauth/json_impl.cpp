// Boost.JSON compiled once for pb_oauth (header-only mode, like src/http/json_impl.cpp). Both
// TUs hold the same definitions from the same header, so a program linking pb_http and pb_oauth
// takes one of the two from its archive and never both: no duplicate symbols.
#include <boost/json/src.hpp>
