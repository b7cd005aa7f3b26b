// verify_password / hash_password / looks_like_hash: round trips, known vectors made with other
// tools (so our verification matches theirs), wrong passwords and damaged or weak hashes.
#include "util/password.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

using namespace pb::password;

namespace {

// `openssl passwd -6 -salt abc secret` (SHA-512-crypt).
const std::string kSha512 =
    "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/"
    "TsVArtr91iR1";
// `openssl passwd -5 -salt abc secret` (SHA-256-crypt).
const std::string kSha256 = "$5$abc$qsg6EHbUzHQzF1POlD7zUwBINSELQxypPaeDcZe6vH0";
// SHA-512-crypt with 1000 rounds: Python's crypt.crypt("secret", "$6$rounds=1000$abc$").
const std::string kSha512Rounds =
    "$6$rounds=1000$abc$MqEcPZUYRGGcOeq7PhMpfjfu/F0HrVEI0OlZBijWvO8mSG77iNUDP5MqFceKpJTBc8iITVt"
    "NyLiNTRNCxv6oh0";
// MD5-crypt: `openssl passwd -1 -salt abc secret`. Valid, but weak: refused.
const std::string kMd5 = "$1$abc$iCQ2D3nhptRYi27fDYv2s1";

}  // namespace

TEST_CASE("password: a known SHA-512-crypt vector from openssl verifies", "[password]") {
  CHECK(looks_like_hash(kSha512));
  CHECK(verify_password("secret", kSha512));
  CHECK_FALSE(verify_password("Secret", kSha512));
  CHECK_FALSE(verify_password("secret ", kSha512));
  CHECK_FALSE(verify_password("", kSha512));
}

TEST_CASE("password: a known SHA-256-crypt vector from openssl verifies", "[password]") {
  CHECK(looks_like_hash(kSha256));
  CHECK(verify_password("secret", kSha256));
  CHECK_FALSE(verify_password("secret2", kSha256));
}

TEST_CASE("password: hash_password round trip with a random salt", "[password]") {
  std::string h1 = hash_password("correct horse battery staple");
  std::string h2 = hash_password("correct horse battery staple");
  INFO(h1);
  CHECK(looks_like_hash(h1));
  CHECK((h1.starts_with("$y$") || h1.starts_with("$6$")));
  CHECK(h1 != h2);  // a fresh salt each time
  CHECK(verify_password("correct horse battery staple", h1));
  CHECK(verify_password("correct horse battery staple", h2));
  CHECK_FALSE(verify_password("correct horse battery stapl", h1));
  CHECK_FALSE(verify_password("Correct horse battery staple", h1));

  std::string utf8 = hash_password("Grüße €");
  CHECK(verify_password("Grüße €", utf8));
  CHECK_FALSE(verify_password("Grusse EUR", utf8));
}

TEST_CASE("password: hash_password refuses unusable passwords", "[password]") {
  CHECK_THROWS_AS(hash_password(""), std::invalid_argument);
  CHECK_THROWS_AS(hash_password(std::string("ab\0cd", 5)), std::invalid_argument);
  CHECK_THROWS_AS(hash_password(std::string(512, 'x')), std::invalid_argument);
  CHECK(verify_password(std::string(511, 'x'), hash_password(std::string(511, 'x'))));
}

TEST_CASE("password: a NUL byte cannot shorten the password", "[password]") {
  // crypt(3) stops at NUL: "secret\0anything" would otherwise verify as "secret".
  CHECK_FALSE(verify_password(std::string("secret\0anything", 15), kSha512));
  CHECK_FALSE(verify_password(std::string(512, 'x'), kSha512));
}

TEST_CASE("password: every strong method verifies", "[password]") {
  // Hashes of "secret" written by libxcrypt 4.4.33 (crypt_gensalt with each prefix, default
  // cost; bcrypt at cost 05 to keep the test fast): the shapes looks_like_hash expects are the
  // ones the library writes.
  const char* hashes[] = {
      "$y$j9T$jQMihEcTw8bRxQfVf4Mcq/$oYn2/ubYCoXNEMBM7BHbn6xPa1iyFy4hIbspdWMaqy.",
      "$gy$j9T$ntqLRe2IGC76Jg5lcytUM.$8a26meJL79fsafwoWzFix//tHI0p62HBGCZsqHkKLGA",
      "$7$CU..../....BlU8E3LJ7q2SYfWLbNVjn0$2awa8ARB4So8blVoxt3SskV331Rg4RUbQESfclppyg1",
      "$2b$05$UC7zu9Bl5LCbWXMLRkFll.nF6JRxooFrO8m9MM09BQO7s20LmPLv.",
      "$2y$05$yYYW8P4TH/UpLGHa23iWr.fNF8Xy1VTdYyb2OLYO7dWB2KgLtNQ/.",
      "$2a$05$sJC61qa6w3ll9T1.1qVSZOyBMj1xvifMESdt9A6lqMaMyNUIDhWJ2",
  };
  for (std::string h : hashes) {
    INFO(h);
    CHECK(looks_like_hash(h));
    CHECK(verify_password("secret", h));
    CHECK_FALSE(verify_password("secret!", h));
    // One changed character in the hash part: no longer matches.
    h.back() = h.back() == 'A' ? 'B' : 'A';
    CHECK_FALSE(verify_password("secret", h));
  }
}

TEST_CASE("password: SHA-512-crypt with a rounds= parameter", "[password]") {
  CHECK(looks_like_hash(kSha512Rounds));
  CHECK(verify_password("secret", kSha512Rounds));
  CHECK_FALSE(verify_password("secreT", kSha512Rounds));
}

TEST_CASE("password: garbage, damaged and weak hashes never verify", "[password]") {
  const std::string bad[] = {
      "",
      "secret",                                                        // a plain-text password
      "$",                                                             // prefix only
      "$6$",                                                           // method only
      "$6$abc$",                                                       // no hash part
      kSha512.substr(0, kSha512.size() - 1),                           // cut short when pasting
      kSha512 + "x",                                                   // one character too many
      kSha512 + "\n",                                                  // newline pasted along
      " " + kSha512,                                                   // leading space
      "$6$ab:c$" + kSha512.substr(7),                                  // ':' in the salt
      "$6$$" + kSha512.substr(7),                                      // empty salt
      "$2b$5$UC7zu9Bl5LCbWXMLRkFll.nF6JRxooFrO8m9MM09BQO7s20LmPLv.",   // one-digit cost
      "$2x$05$UC7zu9Bl5LCbWXMLRkFll.nF6JRxooFrO8m9MM09BQO7s20LmPLv.",  // buggy-bcrypt variant
      kMd5,                                                            // MD5-crypt: weak, refused
      "abJnggxhB/yWI",  // traditional DES crypt: weak, refused
      "$sha1$233574$WgVjm.Xsh17iHhDScqNT$aPkAJCw4Il78v5kp4hRTO9MynwXJ",             // legacy
      "$y$j9T$jQMihEcTw8bRxQfVf4Mcq/$oYn2/ubYCoXNEMBM7BHbn6xPa1iyFy4hIbspdWMaqy!",  // '!'
  };
  for (const auto& h : bad) {
    INFO("[" << h << "]");
    CHECK_FALSE(looks_like_hash(h));
    CHECK_FALSE(verify_password("secret", h));
  }
}
