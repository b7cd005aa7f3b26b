// The one translation unit that compiles Boost.JSON (header-only mode) for the whole program,
// as the library pb_json: pb_oauth, pb_http and the fuzz build's http library link it. Every
// other file includes <boost/json.hpp> for declarations only. (Two such files would each define
// every symbol, and a static link would then depend on which archive the linker reads first.)
#include <boost/json/src.hpp>
