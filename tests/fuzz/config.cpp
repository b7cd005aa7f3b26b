// Fuzz target: the configuration loader (config::load over toml++, every section and key).
// Promises checked: load() either returns a Config or throws ConfigError (nothing else escapes);
// each problem is one line; a loaded config renders as valid TOML that, with its masked secrets
// filled in again, loads to the same render; secrets never appear in the render.
//
// The input is written as postbridge.toml (mode 640, as the package installs it, so that inline
// passwords load) to a private temporary folder that also holds a password file (mode 600), one
// readable by others, and a PEM certificate and key, so the seeds can reach the file-reading paths.
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <toml++/toml.h>

#include "config/config.hpp"
#include "fuzz.hpp"

using namespace pb;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSecret = "Fz-s3cret-n0t-in-0utput";

void write(const fs::path& p, std::string_view content, unsigned mode) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(content.data(), static_cast<std::streamsize>(content.size()));
  ::chmod(p.c_str(), mode);
}

fs::path& dir() {
  static fs::path d;
  return d;
}

const fs::path& config_file() {
  static const fs::path file = [] {
    std::string tmpl = (fs::temp_directory_path() / "pb-fuzz-config-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    dir() = tmpl;
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(dir(), ec);
    });
    // The file names the seeds use (tests/unit/config's among them), so those configs load.
    const std::string cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const std::string key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
    fs::create_directories(dir() / "ca");
    fs::create_directories(dir() / "secrets");
    for (const char* name : {"pw.secret", "info.secret", "strato.secret", "secrets/info.secret"})
      write(dir() / name, std::string(kSecret) + "\n", 0600);
    write(dir() / "open.secret", kSecret, 0644);
    for (const char* name : {"cert.pem", "ca.pem", "ca/provider.pem", "relay.pem", "web.pem", "c.pem"})
      write(dir() / name, cert, 0644);
    for (const char* name : {"key.pem", "relay.key", "web.key", "c.key"}) write(dir() / name, key, 0600);
    write(dir() / "open.key", key, 0644);
    write(dir() / "enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n-----END ENCRYPTED PRIVATE KEY-----\n", 0600);
    ::setenv("PB_FUZZ_PW", kSecret, 1);
    ::setenv("PB_TEST_PW", kSecret, 1);
    return dir() / "postbridge.toml";
  }();
  return file;
}

// SHA-512-crypt of "secret" (tests/unit/config/config_fixture.hpp).
constexpr const char* kHash =
    "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1";

std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> out;
  for (const fuzz::Line& l : fuzz::lines(s)) out.push_back(l.text);
  return out;
}

// A render without what legitimately changes when it is loaded again.
std::string comparable(std::string_view render) {
  std::string out;
  for (std::string_view line : lines_of(render)) {
    if (line.starts_with("# defined at line ")) continue;
    if (line.starts_with("password = \"****\"")) line = "password = \"****\"";
    out += std::string(line) + "\n";
  }
  return out;
}

void check_render(const std::string& render, bool secret_in_input) {
  PB_FUZZ_CHECK(secret_in_input || render.find(kSecret) == std::string::npos, render);
  std::size_t pos = 0;
  while ((pos = render.find("\npassword = ", pos)) != std::string::npos) {
    ++pos;
    PB_FUZZ_CHECK(render.compare(pos, 17, "password = \"****\"") == 0, render.substr(pos, 80));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path& file = config_file();
  write(file, fuzz::view(data, size), 0640);
  // The secret written into the file itself is not a secret any more: it may be echoed.
  const bool secret_in_input = fuzz::view(data, size).find(kSecret) != std::string_view::npos;
  config::Config cfg;
  try {
    cfg = config::load(file);
  } catch (const config::ConfigError& e) {
    PB_FUZZ_CHECK(!e.problems().empty(), "ConfigError without problems");
    if (std::getenv("PB_FUZZ_DEBUG"))  // for curating seeds: why an input does not load
      for (const std::string& p : e.problems()) std::fprintf(stderr, "%s\n", p.c_str());
    for (const std::string& p : e.problems()) {
      // "FILE:LINE:COL: key: message", one line each (the CLI prints one per line).
      PB_FUZZ_CHECK(p.starts_with(file.string() + ":"), p);
      PB_FUZZ_CHECK(p.find('\n') == std::string::npos && p.find('\r') == std::string::npos, p);
      PB_FUZZ_CHECK(secret_in_input || p.find(kSecret) == std::string::npos, p);
    }
    return 0;
  }
  // Anything else (std::bad_optional_access, toml++ type errors, ...) escapes to libFuzzer as a
  // crash: `postbridge check` would die on it instead of naming the problem.
  std::string render = config::render_masked(cfg);
  if (std::getenv("PB_FUZZ_DEBUG")) std::fprintf(stderr, "loaded; rendered as:\n%s", render.c_str());
  check_render(render, secret_in_input);

  // The render is valid TOML, and a config: with the masked secrets put back (a password from
  // PB_FUZZ_PW, a real hash for "****" hashes) it loads and renders the same, up to the comments
  // naming where a password came from and the line a section was defined at.
  try {
    (void)toml::parse(render);
  } catch (const toml::parse_error& e) {
    PB_FUZZ_CHECK(false, std::string(e.description()) + "\n--- in the render:\n" + render);
  }
  std::string reloadable;
  for (std::string_view line : lines_of(render)) {
    if (line.starts_with("password = \"****\"")) reloadable += "password_env = \"PB_FUZZ_PW\"\n";
    else if (line.starts_with("password_hash = \"****\"")) reloadable += "password_hash = \"" + std::string(kHash) + "\"\n";
    else reloadable += std::string(line) + "\n";
  }
  write(file, reloadable, 0640);
  config::Config again;
  try {
    again = config::load(file);
  } catch (const config::ConfigError& e) {
    PB_FUZZ_CHECK(false, e.problems().front() + "\n--- in the render:\n" + reloadable);
  }
  std::string first = comparable(render), second = comparable(config::render_masked(again));
  if (first != second) {
    std::size_t at = 0;
    while (at < first.size() && at < second.size() && first[at] == second[at]) ++at;
    std::size_t from = first.rfind('\n', at) + 1;
    PB_FUZZ_CHECK(first == second, first.substr(from, 300) + "\n--- rendered again:\n" + second.substr(from, 300));
  }
  return 0;
}
