// Delivery status notifications (RFC 3464 in an RFC 6522 multipart/report) for failed, delayed and
// relayed mail, the RFC 3461 encodings of what a DSN request names, and bounce detection against
// loops. Pure: the caller supplies times and sends the result.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mail/headers.hpp"

namespace pb::mail {

struct DsnRecipient {
  // The ORCPT parameter as the SMTP listener stores it ("rfc822;anna+x@example.org": the address
  // xtext-decoded by smtp::parse_rcpt, RFC 3461 4.2) or the plain address. An ORCPT becomes
  // Original-Recipient; a plain address only when it differs from final_recipient.
  std::string original;
  std::string final_recipient;  // the address we tried
  std::string action;           // "failed" | "delayed" | "relayed" (RFC 3464 2.3.3); anything else
                                // -> "failed"
  std::string status;           // "5.1.1" (RFC 3463); empty or malformed -> 5.0.0 / 4.0.0 / 2.0.0 by
                                // action, or the class of the action with the diagnostic's code
  std::string remote_mta;       // smarthost host name; empty = no Remote-MTA field
  std::string diagnostic;       // the server's reply, e.g. "550 5.1.1 <x>: user unknown"; may hold
                                // several lines (CRLF or LF); not starting with a reply code ->
                                // diagnostic type X-Postbridge instead of smtp
  std::int64_t last_attempt = 0;      // unix s; 0 = no Last-Attempt-Date
  std::int64_t will_retry_until = 0;  // delayed only: when we give up (RFC 3464 2.3.9); 0 = omit
};

struct DsnInput {
  std::string reporting_mta;     // our hostname
  std::string postmaster;        // address for From: of the report
  std::string to;                // envelope sender of the original (recipient of the DSN)
  std::string envid;             // ENVID, xtext-decoded as smtp::parse_mail stores it; empty if none
  std::int64_t arrival = 0, now = 0;  // unix s; arrival 0 = no Arrival-Date
  std::vector<DsnRecipient> recipients;
  std::string original_headers;  // header block of the original, CRLF lines, without body
  std::string original_message;  // the whole original, returned as message/rfc822 instead of its
                                 // headers (RET=FULL, RFC 3461 4.3; the caller bounds its size);
                                 // empty: headers only
  std::string explanation;       // extra plain-words paragraph(s) (English and German), e.g. the
                                 // route's advice; put first in the human-readable part
  // The DSN goes to the postmaster instead of a sender (fetched mail, the null sender, a failed
  // bounce): the human-readable part speaks to the admin ("a message", what to fix), not to a
  // sender ("your message", "check the address").
  bool to_postmaster = false;
};

// A complete RFC 5322 message with CRLF line ends:
//   From: "Mail Delivery System" <postmaster>, To, Subject ("Undelivered Mail Returned to Sender"
//   if any recipient failed, else "Delayed Mail (still being retried)" if any is delayed, else
//   "Relayed Mail (no further delivery confirmation)"), Date, Message-ID, MIME-Version,
//   Auto-Submitted: auto-replied (RFC 3834 5), Content-Type: multipart/report;
//   report-type=delivery-status with a random boundary that occurs nowhere in the content.
//   Part 1 text/plain UTF-8 quoted-printable: the explanation, then for each recipient what
//     happened, the server's exact words (or, for a diagnostic that is no SMTP reply, our reason)
//     and what to do, in English and in German.
//   Part 2 message/delivery-status (RFC 3464 2.2, 2.3), long and multi-line diagnostics folded.
//   Part 3 (RFC 6522 3) message/rfc822: original_message, if given and free of NUL and of lines
//     over 998 octets; else text/rfc822-headers: the original header block (omitted when empty).
// Everything is 7-bit with lines of at most 998 octets (RFC 5322 2.1.1), so the DSN can be relayed
// anywhere: 8-bit text is quoted-printable, 8-bit addresses in the report use the RFC 6533 "utf-8"
// address type, 8-bit original headers are quoted-printable. Only `to` and `postmaster`
// are copied as they are (an 8-bit address needs SMTPUTF8 to be delivered at all), and a returned
// 8-bit original_message, which may not be encoded (RFC 2046 5.2.1): it is labelled
// Content-Transfer-Encoding: 8bit, on the report as well.
// CR, LF and other control bytes in any value are removed, so no value can add a header field.
std::string build_dsn(const DsnInput& in);

// The Subject build_dsn gives this report (for logs and the queue listing).
std::string report_subject(const DsnInput& in);

// RFC 3461 4 xtext: "+", "=" and every octet outside "!".."~" as "+" and two upper-case hex digits.
std::string xtext_encode(std::string_view s);

// The value of an ORCPT parameter (RFC 3461 4.2) for an original recipient stored as "type;address"
// with the address decoded (as smtp::parse_rcpt stores it): "type;" and the address as xtext. An
// address with UTF-8 in it goes as "utf-8;" utf-8-addr-xtext (RFC 6533 3), which is 7-bit and so
// fits any session. Empty when `stored` has no "type;" or the value would pass the 500 characters
// RFC 3461 4.2 allows (a server would refuse the recipient for it).
std::string orcpt_parameter(std::string_view stored);

// True for mail that must never be answered with a bounce (RFC 3464 2, RFC 3834 2): the null
// envelope sender ("" or "<>"), a multipart/report; report-type=delivery-status, or
// Auto-Submitted other than "no". A failure of such a message is reported to the postmaster.
bool is_bounce(const HeaderCollector& h, std::string_view envelope_sender);

}  // namespace pb::mail
