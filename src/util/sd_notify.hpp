// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram per state change
// to the socket named by $NOTIFY_SOCKET. Outside systemd (no variable) every call does nothing.
#pragma once
#include <string>
#include <string_view>

namespace pb::sd {

// Sends "KEY=VALUE\n..." lines; false when not under systemd or the socket refused the datagram
// (never fatal: the service runs the same, systemd only learns less).
bool notify(std::string_view state);

inline bool ready(const std::string& status) { return notify("READY=1\nSTATUS=" + status); }
// Type=notify: systemd shows "reloading" until the next READY=1.
bool reloading();
inline bool stopping() { return notify("STOPPING=1\nSTATUS=stopping"); }
inline bool status(const std::string& text) { return notify("STATUS=" + text); }

}  // namespace pb::sd
