// POP3 reply parsing, no I/O: status lines with RFC 2449 response codes, CAPA, UIDL and LIST lines.
// Every parser takes peer text as-is and answers nullopt/empty for garbage instead of throwing.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pb::pop3 {

// RFC 2449 8 / RFC 3206 response codes we act on.
enum class RespCode { none, auth, in_use, login_delay, sys_temp, sys_perm, other };

struct StatusLine {
  bool ok = false;         // "+OK" (true) or "-ERR" (false)
  RespCode code = RespCode::none;
  std::string code_text;   // the bracketed code as sent, e.g. "IN-USE"
  std::string text;        // the human text after status and code
};

// Parses "+OK ...", "-ERR [AUTH] ...". nullopt for anything else (garbage from the peer).
std::optional<StatusLine> parse_status(std::string_view line);

// APOP timestamp "<...@...>" from the greeting (RFC 1939 7), angle brackets included (they are
// part of the digest input); empty if none.
std::string apop_timestamp(std::string_view greeting_text);

struct Capabilities {
  bool stls = false, uidl = false, top = false, pipelining = false, user = false, resp_codes = false;
  std::vector<std::string> sasl;  // upper-case mechanism names
  std::optional<int> login_delay_s;  // "LOGIN-DELAY n"
  bool has_sasl(std::string_view mech) const;
};
// Each line of the CAPA multi-line body (already dot-unstuffed, without the final ".").
Capabilities parse_capa(const std::vector<std::string>& lines);

struct ListEntry {
  std::uint32_t number = 0;
  std::uint64_t size = 0;
};
struct UidlEntry {
  std::uint32_t number = 0;
  std::string uid;  // RFC 1939: 1-70 chars 0x21-0x7E
};
// "1 1234" / "1 whqtswO00WBw418f9t5JxYwZ" (a line of the multi-line LIST/UIDL body); nullopt if malformed.
std::optional<ListEntry> parse_list_line(std::string_view line);
std::optional<UidlEntry> parse_uidl_line(std::string_view line);

}  // namespace pb::pop3
