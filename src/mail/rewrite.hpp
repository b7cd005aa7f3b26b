// Sender rewriting for providers that only accept their own address (GMX and T-Online refuse others):
// the From: field becomes the account's address, the original author moves to Reply-To. Pure.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace pb::mail {

// Offset just past the empty line that ends the header block (RFC 5322 2.1), i.e. where the body
// starts; npos if `message` holds no empty line. CRLF and bare LF line ends are both recognised.
std::size_t header_block_end(std::string_view message);

// Rewrites the header block of a message (CRLF lines up to the empty line; anything from the
// empty line on, if present, is copied unchanged):
//  - the first From: field becomes `From: <new_from>`, or `From: DISPLAY <new_from>` keeping the
//    original display name byte for byte (quoted, RFC 2047 encoded words, 8-bit: as it was; a
//    display name with unquoted specials such as "Schmidt, Anna" is quoted). For a group the
//    first member's name is used, else the group's name; an old-style "a@b (Anna)" comment
//    becomes the display name. Further From: fields are removed.
//  - `Reply-To:` with the original From value (its folding kept) is added right after it, unless
//    a Reply-To already exists or the original named no address.
//  - no From: at all: `From: <new_from>` is added at the end of the block.
//  - the From address already is new_from: the input comes back unchanged.
// Every other byte is preserved (order, folding, line ends). Added lines end in CRLF and are
// folded at 78 columns where there is white space (RFC 5322 2.1.1, 2.2.3).
// Throws std::invalid_argument when new_from is not a plain addr-spec ("info@firma.de"): a
// value with CR, LF, "<" or white space could otherwise inject header fields.
//
// Streaming use (the relay sends the spool file as it is): read the start of the spool file into
// a bounded buffer (e.g. 256 KiB), find header_block_end(); if found, send
// rewrite_from_header(buffer[0, end)) and then the rest of the file unchanged; if the file ends
// first, the whole message is its header: rewrite it all. If the bound is reached without an
// empty line, do not rewrite (a field may be cut in two): send unchanged and let the provider
// decide. Only the header block is ever held in memory, so a 100 MB message costs 256 KiB.
std::string rewrite_from_header(std::string_view header_block, const std::string& new_from);

}  // namespace pb::mail
