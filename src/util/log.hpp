// One line per event on stderr, prefixed with the syslog priority "<N>" so journald files it at the
// right level. Secrets never reach this module: callers pass already-redacted text. Control
// characters in the text (CR, LF, ESC, C1 controls, invalid UTF-8) are written as \xNN.
#pragma once
#include <string_view>

namespace pb::log {

enum class Level { err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void set_min_level(Level level);
void set_prefix_time(bool with_time);  // time stamps for terminals; journald adds its own
void write(Level level, std::string_view text);

inline void error(std::string_view t) { write(Level::err, t); }
inline void warn(std::string_view t) { write(Level::warning, t); }
inline void notice(std::string_view t) { write(Level::notice, t); }
inline void info(std::string_view t) { write(Level::info, t); }
inline void debug(std::string_view t) { write(Level::debug, t); }

}  // namespace pb::log
