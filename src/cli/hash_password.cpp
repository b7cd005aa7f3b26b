// `postbridge hash-password`: a password from stdin, hashed for [[relay.user]] or [[web.user]]
// (util/password: yescrypt), so no plain password needs to stand in the config.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "app/service.hpp"
#include "cli/command.hpp"
#include "util/password.hpp"

namespace pb::cli {
namespace {

// Reads one line from stdin; at a terminal with echo off, so the password never shows on the
// screen (nor in a screen recording or a terminal's scrollback), and echo comes back afterwards.
std::string read_password() {
  std::string pw;
  termios old{};
  const bool tty = isatty(0) && tcgetattr(0, &old) == 0;
  if (tty) {
    std::fprintf(stderr, "Password: ");
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;  // the Enter still moves to the next line
    tcsetattr(0, TCSAFLUSH, &quiet);
  }
  std::getline(std::cin, pw);
  if (tty) tcsetattr(0, TCSAFLUSH, &old);
  return pw;
}

}  // namespace

int hash_password() {
  std::string pw = read_password();
  if (pw.empty()) return usage_error("an empty password cannot be hashed");
  std::printf("%s\n", password::hash_password(pw).c_str());
  return app::kExitOk;
}

}  // namespace pb::cli
