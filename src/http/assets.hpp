// The status page's files (web/index.html, web/assets/**), embedded into the binary at build time
// by cmake/embed.cmake, which generates the definitions below; nothing is read from disk at run time.
#pragma once
#include <span>
#include <string_view>

namespace pb::http {

struct EmbeddedFile {
  std::string_view path;          // "/index.html", "/assets/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view etag;          // quoted, from the content's SHA-1: "\"3f2a...\""
};

// The file served at `path` (exact match), or nullptr.
const EmbeddedFile* find_asset(std::string_view path);
// Every embedded file, sorted by path.
std::span<const EmbeddedFile> all_assets();

}  // namespace pb::http
