// I/O-free parsing of what an SMTP client sends to a server: command lines (RFC 5321 4.1.1), paths
// and ESMTP parameters (RFC 5321 4.1.2), BDAT/AUTH arguments, xtext, and the DATA stream framing.
// Promises: no exceptions, no I/O; malformed input yields a Refusal that carries the reply to send.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "smtp/codes.hpp"

namespace pb::smtp {

enum class Verb {
  ehlo, helo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, help, starttls, auth,
  not_implemented,  // known but not offered: EXPN, TURN, ETRN, ATRN, SEND, SOML, SAML, BURL (502)
  http,             // GET, POST, HEAD, PUT, CONNECT, OPTIONS: a browser or proxy on the SMTP port
  unknown,
};

struct CommandLine {
  Verb verb = Verb::unknown;
  std::string_view word;      // the command word as sent (for logs)
  std::string_view argument;  // after the first space; leading and trailing blanks removed
};
// Splits "MAIL FROM:<a@b> SIZE=5" into verb and argument; the verb is matched case-insensitively
// (RFC 5321 2.4). Views point into `line`.
CommandLine split_command(std::string_view line);

// The reply a server gives to a refused command: code, enhanced code (RFC 3463), text.
struct Refusal {
  int code = 0;
  std::string enhanced;
  std::string text;

  Refusal() = default;
  Refusal(Code c, std::string t) : code(c.basic), enhanced(c.enhanced), text(std::move(t)) {}
  Refusal(int c, std::string e, std::string t) : code(c), enhanced(std::move(e)), text(std::move(t)) {}
};

// MAIL FROM:<reverse-path> [SP mail-parameters] (RFC 5321 4.1.1.2).
struct MailCommand {
  std::string sender;                 // without angle brackets or source route; "" = null path
  std::optional<std::uint64_t> size;  // SIZE= (RFC 1870)
  std::string body;                   // "", "7BIT", "8BITMIME" (RFC 6152); BINARYMIME is refused
  bool smtputf8 = false;              // SMTPUTF8 (RFC 6531 3.4)
  std::string ret;                    // "", "FULL", "HDRS" (RFC 3461 4.3)
  std::string envid;                  // ENVID=, xtext-decoded (RFC 3461 4.4)
  std::optional<std::string> auth;    // AUTH=, xtext-decoded; accepted and ignored (RFC 4954 5)
};

// RCPT TO:<forward-path> [SP rcpt-parameters] (RFC 5321 4.1.1.3).
struct RcptCommand {
  std::string recipient;  // without angle brackets or source route ("Postmaster" stays as sent)
  std::string notify;     // "", "NEVER" or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1)
  std::string orcpt;      // "" or "addr-type;address", the address xtext-decoded (RFC 3461 4.2)
};

// `argument` is what follows the command word ("FROM:<a@b> SIZE=10"). The mailbox itself is only
// delimited here (quoted local parts and address literals included); its grammar is checked by
// mail::Address::parse. A non-ASCII path without SMTPUTF8 is refused with 553 5.6.7 (RFC 6531 3.5),
// a parameter of an extension the server does not offer (BODY=BINARYMIME included) with 555.
std::variant<MailCommand, Refusal> parse_mail(std::string_view argument);
std::variant<RcptCommand, Refusal> parse_rcpt(std::string_view argument, bool smtputf8);

// BDAT SP chunk-size [SP end-marker] (RFC 3030 2); nullopt on bad syntax.
struct BdatCommand {
  std::uint64_t size = 0;
  bool last = false;
};
std::optional<BdatCommand> parse_bdat(std::string_view argument);

// AUTH SP mechanism [SP initial-response] (RFC 4954 4).
struct AuthCommand {
  std::string mechanism;                        // upper-case
  std::optional<std::string> initial_response;  // as sent: base64, or "=" for an empty one
};
std::variant<AuthCommand, Refusal> parse_auth(std::string_view argument);

// RFC 3461 4 xtext: "+XX" hex escapes, other characters "!" to "~" except "+" and "=". With
// allow_utf8, bytes >= 0x80 pass through (RFC 6533 3 utf-8-addr-xtext). nullopt if malformed.
std::optional<std::string> xtext_decode(std::string_view text, bool allow_utf8 = false);

// EHLO/HELO argument (RFC 5321 4.1.1.1): one word of printable characters, at most 255 octets.
// Deliberately not a strict domain check: RFC 5321 4.1.4 forbids refusing a mismatching name, and
// office devices send names like "SCANNER_2".
bool valid_helo_argument(std::string_view argument);

// What a message may do with a line end other than CRLF (RFC 5321 2.3.8 allows only CRLF).
enum class BareLineEnds {
  // A bare LF ends a line like CRLF and is stored as CRLF, as Postfix 3.9's default
  // smtpd_forbid_bare_newline = normalize does: old scanners and scripts write LF only. A bare CR
  // is kept as a byte inside its line (the outbound encoder sends it as a space).
  normalize,
  // A bare CR or LF anywhere refuses the message (554 5.6.11), as Exchange Online does.
  reject,
};

// How the message data is framed: DATA (dot-stuffed, ended by CRLF.CRLF, RFC 5321 4.1.1.4) or
// BDAT chunks (counted octets, no dots, RFC 3030 2), whose end the caller knows.
enum class Framing { dot, chunks };

// Decodes message data (RFC 5321 4.1.1.4, 4.5.2): finds the end of DATA, removes dot-stuffing, and
// normalises or refuses bare line ends. Only "." + CRLF right after a CRLF (or at the start) ends
// the data: a "." line after a bare LF, or any bare CR variant, never does, whatever the mode, so
// a lenient hop before us that saw message content where we would see an end of data can never
// make us start a second transaction (SMTP smuggling, CVE-2023-51764). BDAT chunks get the same
// line-end treatment, so what the relay stores, parses and sends is CRLF lines either way. Input
// may be split anywhere, even between CR and LF; the output does not depend on the split.
class DataDecoder {
 public:
  // max_size: decoded octets allowed (RFC 1870: CRLFs counted, stuffing dots and the end marker
  // not); 0 = no limit. max_line: octets per line, without its CRLF.
  DataDecoder(std::uint64_t max_size, std::size_t max_line, BareLineEnds mode, Framing framing = Framing::dot);

  // Consumes `in` up to and including the end marker and appends the decoded message to `out`
  // (nothing more once the message is refused). Returns the number of bytes consumed: all of
  // `in` unless done() became true; the bytes after the end marker belong to the next command.
  std::size_t feed(std::string_view in, std::string& out);
  // Chunks only, after the LAST chunk: a CR the data ended with is a bare CR.
  void finish(std::string& out);

  bool done() const { return state_ == State::done; }
  bool refused() const { return bare_refused() || line_too_long_ || too_big_; }
  bool bare_refused() const { return mode_ == BareLineEnds::reject && (bare_lf_ != 0 || bare_cr_ != 0); }
  std::uint64_t bare_lf() const { return bare_lf_; }  // LFs without CR: stored as CRLF (normalize)
  std::uint64_t bare_cr() const { return bare_cr_; }  // CRs without LF: kept (normalize)
  bool line_too_long() const { return line_too_long_; }
  bool too_big() const { return too_big_; }
  std::uint64_t size() const { return size_; }  // decoded octets, counted past the limit too
  std::uint64_t nul_bytes() const { return nul_; }  // kept in the message; counted for the log

 private:
  enum class State {
    line_start,  // after CRLF (or at the start): a "." here is stuffing or the end marker
    dot,         // "." at line_start
    dot_cr,      // "." CR at line_start: LF ends the data
    lf_start,    // after a bare LF (normalize): a "." is stuffing, but never an end marker
    text,        // inside a line
    cr,          // CR inside a line: anything but LF makes it a bare CR
    done,
  };
  void step(char c, std::string& out);
  void emit(std::string_view bytes, std::string& out);
  void on_bare_lf(std::string& out);
  void on_bare_cr(std::string& out);

  std::uint64_t max_size_;
  std::size_t max_line_;
  BareLineEnds mode_;
  Framing framing_;
  State state_ = State::line_start;
  std::size_t line_length_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t nul_ = 0;
  std::uint64_t bare_lf_ = 0;
  std::uint64_t bare_cr_ = 0;
  bool line_too_long_ = false;
  bool too_big_ = false;
};

}  // namespace pb::smtp
