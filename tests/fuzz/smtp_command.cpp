// Fuzz target: the SMTP server's command parser (src/smtp/command: every verb, path and ESMTP
// parameter) and the address check the server applies after it (mail::Address::parse).
//
// The input is what a client sends: each line is split into verb and argument as the server does,
// and the argument then goes through every argument parser (MAIL, RCPT with and without SMTPUTF8,
// BDAT, AUTH, EHLO, xtext), not only the one its verb selects, so each line exercises them all.
#include <charconv>
#include <string>
#include <variant>

#include "fuzz.hpp"
#include "mail/address.hpp"
#include "smtp/command.hpp"
#include "util/text.hpp"

using namespace pb;

namespace {

constexpr std::string_view kVerbNames[] = {"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT",
                                           "VRFY", "HELP", "STARTTLS", "AUTH", "EXPN", "TURN", "ETRN", "ATRN",
                                           "SEND", "SOML", "SAML", "BURL", "GET", "POST", "HEAD", "PUT",
                                           "CONNECT", "OPTIONS"};

bool blank(char c) { return c == ' ' || c == '\t'; }

bool upper(std::string_view s) {
  for (char c : s)
    if (c >= 'a' && c <= 'z') return false;
  return true;
}

// A refusal becomes one reply line: "501 5.5.4 text". It must be a well-formed reply whatever the
// client sent: a 5xx code, an RFC 3463 code of the same class, and text without control bytes
// (a CR or LF from the client would let it write reply lines of its own).
void check_refusal(const smtp::Refusal& r, std::string_view arg) {
  PB_FUZZ_CHECK(r.code == 501 || r.code == 553 || r.code == 555, arg);
  PB_FUZZ_CHECK(r.enhanced.size() >= 5 && r.enhanced[0] == '5' && r.enhanced[1] == '.', r.enhanced);
  PB_FUZZ_CHECK(!r.text.empty() && !fuzz::has_control(r.text), r.text);
  PB_FUZZ_CHECK(r.text.size() <= 400, r.text);
}

// Address::parse accepts exactly what str() gives back.
void check_address(std::string_view text) {
  auto a = mail::Address::parse(text);
  if (!a) return;
  PB_FUZZ_CHECK(a->str() == text, text);
  PB_FUZZ_CHECK(!a->local().empty() && a->local().size() <= 64, text);
  PB_FUZZ_CHECK(!a->domain().empty() && a->domain().size() <= 255, text);
  PB_FUZZ_CHECK(!fuzz::has_control(a->str()), text);
  if (a->local().front() != '"') PB_FUZZ_CHECK(a->str().find(' ') == std::string::npos, text);
  PB_FUZZ_CHECK(a->is_ascii() == fuzz::is_ascii(a->str()), text);
  PB_FUZZ_CHECK(fuzz::valid_utf8(a->str()), text);
  auto again = mail::Address::parse(a->str());
  PB_FUZZ_CHECK(again && *again == *a, text);
}

std::string xtext_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 33 && u <= 126 && c != '+' && c != '=') {
      out += c;
    } else {
      out += '+';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

void check_mail(std::string_view arg) {
  auto parsed = smtp::parse_mail(arg);
  if (auto* r = std::get_if<smtp::Refusal>(&parsed)) return check_refusal(*r, arg);
  const auto& m = std::get<smtp::MailCommand>(parsed);
  PB_FUZZ_CHECK(m.smtputf8 || fuzz::is_ascii(m.sender), m.sender);
  PB_FUZZ_CHECK(m.sender.size() <= 256, m.sender);
  PB_FUZZ_CHECK(m.body.empty() || m.body == "7BIT" || m.body == "8BITMIME" || m.body == "BINARYMIME", m.body);
  PB_FUZZ_CHECK(m.ret.empty() || m.ret == "FULL" || m.ret == "HDRS", m.ret);
  PB_FUZZ_CHECK(m.envid.size() <= 100, m.envid);
  if (m.size) PB_FUZZ_CHECK(std::to_string(*m.size).size() <= 20, arg);
  check_address(m.sender);
}

void check_rcpt(std::string_view arg, bool smtputf8) {
  auto parsed = smtp::parse_rcpt(arg, smtputf8);
  if (auto* r = std::get_if<smtp::Refusal>(&parsed)) return check_refusal(*r, arg);
  const auto& r = std::get<smtp::RcptCommand>(parsed);
  PB_FUZZ_CHECK(!r.recipient.empty() && r.recipient.size() <= 256, r.recipient);
  PB_FUZZ_CHECK(smtputf8 || fuzz::is_ascii(r.recipient), r.recipient);
  if (!r.notify.empty()) {
    bool ok = r.notify == "NEVER";
    if (!ok) {
      ok = true;
      std::string_view rest = r.notify;
      while (ok) {
        std::string_view item = rest.substr(0, rest.find(','));
        ok = item == "SUCCESS" || item == "FAILURE" || item == "DELAY";
        if (item.size() == rest.size()) break;
        rest.remove_prefix(item.size() + 1);
      }
    }
    PB_FUZZ_CHECK(ok, r.notify);
  }
  if (!r.orcpt.empty()) {
    std::size_t semi = r.orcpt.find(';');
    // addr-type ";" address; the address is xtext-decoded, so it may hold any byte ("+0D").
    PB_FUZZ_CHECK(semi != std::string::npos && semi > 0 && semi + 1 < r.orcpt.size(), r.orcpt);
    for (char c : r.orcpt.substr(0, semi))
      PB_FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-', r.orcpt);
  }
  check_address(r.recipient);
}

void check_bdat(std::string_view arg) {
  auto b = smtp::parse_bdat(arg);
  if (!b) return;
  std::string again_text = std::to_string(b->size) + (b->last ? " LAST" : "");
  auto again = smtp::parse_bdat(again_text);
  PB_FUZZ_CHECK(again && again->size == b->size && again->last == b->last, arg);
}

void check_auth(std::string_view arg) {
  auto parsed = smtp::parse_auth(arg);
  if (auto* r = std::get_if<smtp::Refusal>(&parsed)) return check_refusal(*r, arg);
  const auto& a = std::get<smtp::AuthCommand>(parsed);
  PB_FUZZ_CHECK(!a.mechanism.empty() && a.mechanism.size() <= 20 && upper(a.mechanism), a.mechanism);
  for (char c : a.mechanism)
    PB_FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_', a.mechanism);
  if (a.initial_response)
    PB_FUZZ_CHECK(!a.initial_response->empty() && a.initial_response->find_first_of(" \t") == std::string::npos,
                  *a.initial_response);
}

void check_xtext(std::string_view arg) {
  for (bool utf8 : {false, true}) {
    auto d = smtp::xtext_decode(arg, utf8);
    if (!d) continue;
    PB_FUZZ_CHECK(d->size() <= arg.size(), arg);
    // Encoding what was decoded and decoding it again gives the same bytes.
    auto again = smtp::xtext_decode(xtext_encode(*d), false);
    PB_FUZZ_CHECK(again && *again == *d, arg);
  }
}

void check_helo(std::string_view arg) {
  bool expected = !arg.empty() && arg.size() <= 255;
  for (char c : arg) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u == 127) expected = false;
  }
  PB_FUZZ_CHECK(smtp::valid_helo_argument(arg) == expected, arg);
}

void check_line(std::string_view line) {
  smtp::CommandLine c = smtp::split_command(line);
  // The word is the line up to the first space; the verb is the table's, case-insensitively.
  PB_FUZZ_CHECK(c.word == line.substr(0, line.find(' ')), line);
  smtp::Verb expected = smtp::Verb::unknown;
  for (std::size_t i = 0; i < std::size(kVerbNames); ++i)
    if (text::iequals(c.word, kVerbNames[i]))
      expected = i < 13 ? static_cast<smtp::Verb>(i) : i < 21 ? smtp::Verb::not_implemented : smtp::Verb::http;
  PB_FUZZ_CHECK(c.verb == expected, line);
  PB_FUZZ_CHECK(c.argument.empty() || (!blank(c.argument.front()) && !blank(c.argument.back())), line);
  PB_FUZZ_CHECK(line.find(c.argument) != std::string_view::npos, line);

  std::string_view arg = c.argument;
  check_mail(arg);
  check_rcpt(arg, false);
  check_rcpt(arg, true);
  check_bdat(arg);
  check_auth(arg);
  check_helo(arg);
  check_xtext(arg);
  check_address(arg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const fuzz::Line& l : fuzz::lines(fuzz::view(data, size))) {
    std::string_view line = l.text;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    check_line(line);
  }
  return 0;
}
