// Shared helpers for the config tests: a unique temporary folder (mkdtemp) that is removed
// afterwards, a way to load a config text and get its problem list, and checks on that list.
#pragma once
#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace pb::config::test {

// The one password every test secret uses, so "never printed" checks can search for it.
inline constexpr const char* kSecret = "Tr0ub4dor&3-not-in-output";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pb-config-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    ::setenv("PB_TEST_PW", kSecret, 1);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes a file below the folder (creating subfolders) with the given permission bits. 0640 by
  // default, as the package installs postbridge.toml: one that others can read may hold no
  // inline password (config_secrets_test.cpp).
  std::filesystem::path write(const std::string& name, const std::string& content,
                              unsigned mode = 0640) const {
    auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::filesystem::path path_;
};

// Loads `text` as postbridge.toml and returns the problems (empty if it loaded).
inline std::vector<std::string> problems(const TempDir& dir, const std::string& text) {
  auto file = dir.write("postbridge.toml", text);
  try {
    load(file);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

// The problems one per line, for INFO() and for "never printed" checks over all of them.
inline std::string joined(const std::vector<std::string>& ps) {
  std::string s;
  for (const auto& p : ps) s += p + "\n";
  return s;
}

// Asserts exactly one problem, starting with `prefix` (see at()) and containing `fragment`.
inline void check_single(const std::vector<std::string>& ps, const std::string& prefix,
                         const std::string& fragment) {
  INFO("problems:\n" << joined(ps));
  REQUIRE(ps.size() == 1);
  CHECK_THAT(ps[0], Catch::Matchers::StartsWith(prefix));
  CHECK_THAT(ps[0], Catch::Matchers::Contains(fragment));
}

// The prefix every problem line has: "FILE:LINE:COL: KEY: ".
inline std::string at(const TempDir& dir, int line, int col, const std::string& key) {
  return (dir.path() / "postbridge.toml").string() + ":" + std::to_string(line) + ":" +
         std::to_string(col) + ": " + key + ": ";
}

// A complete, valid account whose password comes from $PB_TEST_PW (set by TempDir).
inline std::string account(const std::string& name = "info", const std::string& extra = "") {
  return "[[account]]\n"
         "name = \"" +
         name +
         "\"\n"
         "host = \"pop3.example.net\"\n"
         "username = \"info@firma.de\"\n"
         "password_env = \"PB_TEST_PW\"\n"
         "deliver_to = [\"info@firma.local\"]\n" +
         extra;
}

// A complete, valid smarthost logging in with the password from $PB_TEST_PW.
inline std::string smarthost(const std::string& name = "strato",
                             const std::string& senders = "[\"*@firma.de\"]",
                             const std::string& extra = "") {
  return "[[smarthost]]\n"
         "name = \"" +
         name +
         "\"\n"
         "host = \"smtp.example.net\"\n"
         "username = \"smarthost@firma.de\"\n"
         "password_env = \"PB_TEST_PW\"\n"
         "senders = " +
         senders + "\n" + extra;
}

// SHA-512-crypt of "secret" with salt "abc": `openssl passwd -6 -salt abc secret`.
inline constexpr const char* kSecretHash =
    "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/"
    "TsVArtr91iR1";

}  // namespace pb::config::test
