// Unit tests for POP3 reply parsing: status lines and response codes, APOP timestamps, CAPA sets
// of real servers, LIST/UIDL lines; garbage must give nullopt, never a crash or a wrong value.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pop3/reply.hpp"

using namespace pb::pop3;

TEST_CASE("pop3 status: plain +OK and -ERR", "[pop3][reply]") {
  auto ok = parse_status("+OK");
  REQUIRE(ok);
  CHECK(ok->ok);
  CHECK(ok->code == RespCode::none);
  CHECK(ok->text.empty());

  auto ok2 = parse_status("+OK Dovecot ready.");
  REQUIRE(ok2);
  CHECK(ok2->ok);
  CHECK(ok2->text == "Dovecot ready.");

  auto err = parse_status("-ERR no such message");
  REQUIRE(err);
  CHECK_FALSE(err->ok);
  CHECK(err->code == RespCode::none);
  CHECK(err->text == "no such message");

  auto bare = parse_status("-ERR");
  REQUIRE(bare);
  CHECK_FALSE(bare->ok);
  CHECK(bare->text.empty());
}

TEST_CASE("pop3 status: lower-case indicators are tolerated", "[pop3][reply]") {
  auto ok = parse_status("+ok fine");
  REQUIRE(ok);
  CHECK(ok->ok);
  CHECK(ok->text == "fine");
  auto err = parse_status("-err nope");
  REQUIRE(err);
  CHECK_FALSE(err->ok);
}

TEST_CASE("pop3 status: RFC 2449 / RFC 3206 response codes", "[pop3][reply]") {
  struct Case {
    const char* line;
    RespCode code;
    const char* code_text;
    const char* text;
  };
  const Case cases[] = {
      {"-ERR [IN-USE] Mailbox is locked by another POP3 session", RespCode::in_use, "IN-USE",
       "Mailbox is locked by another POP3 session"},
      {"-ERR [LOGIN-DELAY] wait 300 seconds", RespCode::login_delay, "LOGIN-DELAY", "wait 300 seconds"},
      {"-ERR [SYS/TEMP] Temporary system problem", RespCode::sys_temp, "SYS/TEMP", "Temporary system problem"},
      {"-ERR [SYS/PERM] Mailbox corrupt", RespCode::sys_perm, "SYS/PERM", "Mailbox corrupt"},
      {"-ERR [AUTH] Authentication failed.", RespCode::auth, "AUTH", "Authentication failed."},
      {"-ERR [in-use] lower case", RespCode::in_use, "in-use", "lower case"},
      {"-ERR [SYS/TEMP/QUOTA] hierarchical", RespCode::sys_temp, "SYS/TEMP/QUOTA", "hierarchical"},
      {"-ERR [XYZZY] something new", RespCode::other, "XYZZY", "something new"},
      {"-ERR [SYS] just the parent", RespCode::other, "SYS", "just the parent"},
      {"-ERR [AUTHX] not AUTH", RespCode::other, "AUTHX", "not AUTH"},
      {"+OK [IN-USE]", RespCode::in_use, "IN-USE", ""},
      {"-ERR [AUTH]no space", RespCode::auth, "AUTH", "no space"},
  };
  for (const Case& c : cases) {
    INFO(c.line);
    auto st = parse_status(c.line);
    REQUIRE(st);
    CHECK(st->code == c.code);
    CHECK(st->code_text == c.code_text);
    CHECK(st->text == c.text);
  }
}

TEST_CASE("pop3 status: brackets that are not a response code stay text", "[pop3][reply]") {
  auto unclosed = parse_status("-ERR [IN-USE mailbox");
  REQUIRE(unclosed);
  CHECK(unclosed->code == RespCode::none);
  CHECK(unclosed->text == "[IN-USE mailbox");

  auto empty = parse_status("-ERR [] odd");
  REQUIRE(empty);
  CHECK(empty->code == RespCode::none);
  CHECK(empty->text == "[] odd");

  auto spaced = parse_status("-ERR [not a code] text");
  REQUIRE(spaced);
  CHECK(spaced->code == RespCode::none);
  CHECK(spaced->text == "[not a code] text");

  auto later = parse_status("-ERR text [AUTH]");
  REQUIRE(later);
  CHECK(later->code == RespCode::none);
}

TEST_CASE("pop3 status: garbage is rejected", "[pop3][reply]") {
  for (const char* line : {"", "OK", "+", "-", "+O", "+OKAY", "-ERROR", "-ERRx", "* OK IMAP4 ready",
                           "220 smtp.example.net ESMTP", " +OK", "+ OK", "\x01+OK", "ERR"}) {
    INFO(line);
    CHECK_FALSE(parse_status(line));
  }
}

TEST_CASE("pop3 status: a stray trailing CR is ignored", "[pop3][reply]") {
  auto st = parse_status("+OK done\r");
  REQUIRE(st);
  CHECK(st->text == "done");
}

TEST_CASE("pop3 apop timestamp", "[pop3][reply]") {
  CHECK(apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>") ==
        "<1896.697170952@dbc.mtview.ca.us>");
  CHECK(apop_timestamp("Dovecot ready.") == "");
  CHECK(apop_timestamp("ready <no-at-sign>") == "");
  CHECK(apop_timestamp("ready <a b@c>") == "");
  CHECK(apop_timestamp("ready <unclosed@x") == "");
  CHECK(apop_timestamp("<junk> then <123.456@host.example>") == "<123.456@host.example>");
  CHECK(apop_timestamp("<<1@x>") == "<1@x>");
}

TEST_CASE("pop3 CAPA: Dovecot", "[pop3][capa]") {
  std::vector<std::string> lines = {"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING",
                                    "AUTH-RESP-CODE", "STLS", "USER", "SASL PLAIN LOGIN"};
  Capabilities c = parse_capa(lines);
  CHECK(c.stls);
  CHECK(c.uidl);
  CHECK(c.top);
  CHECK(c.pipelining);
  CHECK(c.user);
  CHECK(c.resp_codes);
  CHECK(c.sasl == std::vector<std::string>{"PLAIN", "LOGIN"});
  CHECK(c.has_sasl("plain"));
  CHECK(c.has_sasl("LOGIN"));
  CHECK_FALSE(c.has_sasl("CRAM-MD5"));
  CHECK_FALSE(c.login_delay_s);
}

TEST_CASE("pop3 CAPA: Gmail-like", "[pop3][capa]") {
  std::vector<std::string> lines = {"USER", "RESP-CODES", "EXPIRE 0", "LOGIN-DELAY 300", "TOP", "UIDL",
                                    "X-GOOGLE-RICO", "SASL PLAIN XOAUTH2 OAUTHBEARER"};
  Capabilities c = parse_capa(lines);
  CHECK_FALSE(c.stls);  // implicit TLS on 995: no STLS
  CHECK(c.user);
  CHECK(c.uidl);
  CHECK(c.top);
  CHECK_FALSE(c.pipelining);
  CHECK(c.resp_codes);
  REQUIRE(c.login_delay_s);
  CHECK(*c.login_delay_s == 300);
  CHECK(c.sasl == std::vector<std::string>{"PLAIN", "XOAUTH2", "OAUTHBEARER"});
}

TEST_CASE("pop3 CAPA: minimal, empty, case and junk", "[pop3][capa]") {
  Capabilities minimal = parse_capa({"USER"});
  CHECK(minimal.user);
  CHECK_FALSE(minimal.uidl);
  CHECK(minimal.sasl.empty());

  Capabilities none = parse_capa({});
  CHECK_FALSE(none.user);
  CHECK_FALSE(none.stls);

  Capabilities lower = parse_capa({"stls", "uidl", "sasl plain cram-md5", "  top  ", "", "login-delay 900 USER"});
  CHECK(lower.stls);
  CHECK(lower.uidl);
  CHECK(lower.top);
  CHECK(lower.sasl == std::vector<std::string>{"PLAIN", "CRAM-MD5"});
  REQUIRE(lower.login_delay_s);
  CHECK(*lower.login_delay_s == 900);

  Capabilities junk = parse_capa({"LOGIN-DELAY soon", "SASL PLAIN PLAIN", "STLSX", "UIDLTOP"});
  CHECK_FALSE(junk.login_delay_s);
  CHECK(junk.sasl == std::vector<std::string>{"PLAIN"});
  CHECK_FALSE(junk.stls);
  CHECK_FALSE(junk.uidl);

  CHECK_FALSE(parse_capa({"LOGIN-DELAY 99999999999999"}).login_delay_s);
  CHECK_FALSE(parse_capa({"LOGIN-DELAY -5"}).login_delay_s);
}

TEST_CASE("pop3 LIST lines", "[pop3][list]") {
  auto e = parse_list_line("1 1234");
  REQUIRE(e);
  CHECK(e->number == 1);
  CHECK(e->size == 1234);

  auto big = parse_list_line("4294967295 104857600000");
  REQUIRE(big);
  CHECK(big->number == 4294967295u);
  CHECK(big->size == 104857600000ull);

  auto extra = parse_list_line("2 120 additional info");  // RFC 1939 5: discouraged, allowed
  REQUIRE(extra);
  CHECK(extra->size == 120);

  auto zero_size = parse_list_line("3 0");
  REQUIRE(zero_size);
  CHECK(zero_size->size == 0);

  for (const char* bad : {"", "1", "0 12", "a 12", "1 -5", "1 12a", "-1 5", "+1 5", "1 +5", "4294967296 1",
                          "1 99999999999999999999999", "1,2", "x y"}) {
    INFO(bad);
    CHECK_FALSE(parse_list_line(bad));
  }
}

TEST_CASE("pop3 UIDL lines", "[pop3][uidl]") {
  auto u = parse_uidl_line("1 whqtswO00WBw418f9t5JxYwZ");
  REQUIRE(u);
  CHECK(u->number == 1);
  CHECK(u->uid == "whqtswO00WBw418f9t5JxYwZ");

  auto punct = parse_uidl_line("17 !~\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}");
  REQUIRE(punct);
  CHECK(punct->uid == "!~\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}");

  std::string uid70(70, 'x');
  auto longest = parse_uidl_line("2 " + uid70);
  REQUIRE(longest);
  CHECK(longest->uid == uid70);

  std::string uid71(71, 'x');
  CHECK_FALSE(parse_uidl_line("2 " + uid71));
  for (const char* bad : {"", "1", "0 abc", "x abc", "1 a b", "-1 abc", "1 caf\xC3\xA9", "1 a\x7F"}) {
    INFO(bad);
    CHECK_FALSE(parse_uidl_line(bad));
  }
}
