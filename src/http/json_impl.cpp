// The one translation unit that compiles Boost.JSON (header-only mode): every other file of
// pb_http includes <boost/json.hpp> for declarations only.
#include <boost/json/src.hpp>
