// The "running" marker in the state folder: written at start, removed at a clean stop, so a marker
// found at start means the last run ended by a crash, a kill -9 or a power cut.
// Promise: the file is opened as postbridge's own files are (no link followed, fs::open_own).
#pragma once
#include <filesystem>
#include <optional>

#include "queue/message.hpp"

namespace pb::app {

// Writes STATE_DIR/running with `now`; returns when the previous run started if its marker was
// still there (it did not stop cleanly), else nullopt.
std::optional<queue::UnixTime> mark_running(const std::filesystem::path& state_dir, queue::UnixTime now);
// Removes the marker: this run stopped cleanly.
void mark_stopped(const std::filesystem::path& state_dir);

}  // namespace pb::app
