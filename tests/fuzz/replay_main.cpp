// Replay driver for builds without libFuzzer (release, asan presets): feeds every file of the
// directories (or the files) named on the command line to LLVMFuzzerTestOneInput once, in order.
// Promises: exit 0 only if at least one input ran and none crashed; a crash names its input file.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define PB_HAVE_SANITIZER 1
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

// The input being run, for the crash message (a plain array: read from a signal handler).
char g_current[4096];

void say_current() {
  const char head[] = "\n*** fuzz replay: crashed on input ";
  (void)!::write(2, head, sizeof head - 1);
  (void)!::write(2, g_current, std::strlen(g_current));
  (void)!::write(2, "\n", 1);
}

void on_fatal_signal(int sig) {
  say_current();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::vector<fs::path> inputs_of(const fs::path& p) {
  std::vector<fs::path> out;
  if (fs::is_directory(p)) {
    for (const auto& e : fs::recursive_directory_iterator(p))
      // Dot files (.gitkeep) hold the folder in git, they are not inputs.
      if (e.is_regular_file() && e.path().filename().string().front() != '.') out.push_back(e.path());
    std::sort(out.begin(), out.end());
  } else if (fs::is_regular_file(p)) {
    out.push_back(p);
  } else {
    std::fprintf(stderr, "fuzz replay: %s is neither a folder nor a file\n", p.c_str());
    std::exit(2);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal_signal);
#ifdef PB_HAVE_SANITIZER
  __sanitizer_set_death_callback(say_current);
#endif
  std::size_t count = 0;
  for (int a = 1; a < argc; ++a) {
    std::size_t here = 0;
    for (const fs::path& file : inputs_of(argv[a])) {
      std::ifstream in(file, std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        std::fprintf(stderr, "fuzz replay: cannot read %s\n", file.c_str());
        return 2;
      }
      std::snprintf(g_current, sizeof g_current, "%s", file.c_str());
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++here;
    }
    std::printf("fuzz replay: %zu inputs from %s\n", here, argv[a]);
    count += here;
  }
  if (count == 0) {
    std::fprintf(stderr, "fuzz replay: no inputs at all: the test would check nothing\n");
    return 1;
  }
  std::printf("fuzz replay: %zu inputs, no crash\n", count);
  return 0;
}
