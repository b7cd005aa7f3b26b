// The parts of a DSN that its three files share (see dsn.hpp): the sanitised and encoded field
// values (dsn.cpp), the human-readable part (dsn_words.cpp), used by the report (dsn_report.cpp).
// Not for use outside src/mail/.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mail/dsn.hpp"

namespace pb::mail::dsn_fields {

// RFC 3464 2.3.3: the actions we report. Anything unknown counts as failed: a report must never
// make a failure look like good news.
enum class Kind { failed, delayed, relayed };

// Value hygiene.
std::string clean(std::string_view s);       // no control bytes (a value never starts a field)
bool is_ascii(std::string_view s);
std::string seven_bit(std::string_view s);   // 8-bit bytes as \xNN
std::string readable(std::string_view s);    // valid UTF-8 without controls, for people
std::string address_value(std::string_view addr);        // "rfc822; a" or "utf-8; xtext"
std::string original_recipient(const DsnRecipient& r);   // "" when there is nothing to add
bool is_smtp_reply(std::string_view line);

// What happened, per recipient and for the whole report.
Kind kind_of(const DsnRecipient& r);
bool is_delayed(const DsnRecipient& r);
std::string action_of(const DsnRecipient& r);
Kind report_kind(const DsnInput& in);
std::string status_of(const DsnRecipient& r);
std::vector<std::string> split_lines(std::string_view d, bool keep_empty = false);
std::vector<std::string> diagnostic_lines(std::string_view d);

// Output encodings.
std::string fold_field(std::string_view name, const std::vector<std::string>& lines);
std::string fold_field(std::string_view name, std::string_view value);
std::string quoted_printable(std::string_view text);
std::string normalise_headers(std::string_view h);
bool fits_7bit(std::string_view crlf_text);
std::string random_hex(std::size_t n);

// Part 1 of the report, English then German (dsn_words.cpp).
std::string human_part(const DsnInput& in, Kind report);

}  // namespace pb::mail::dsn_fields
