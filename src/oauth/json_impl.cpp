// The one translation unit that compiles Boost.JSON (header-only mode) for the whole program:
// pb_oauth is below pb_net, so pb_http and pb_app get these definitions through it. Every other
// file includes <boost/json.hpp> for declarations only. (Two such files would each define every
// symbol, and a static link would then depend on which archive the linker reads first.)
#include <boost/json/src.hpp>
