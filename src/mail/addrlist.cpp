// Header address parsing in two steps: a lexer that turns a field body into words, quoted
// strings, domain literals and specials (comments and white space dropped, RFC 5322 3.2.2), then
// a recursive-descent parser over those tokens that recovers at the next "," after an error.
// Tolerance is deliberate: mail in the wild has unquoted commas in names, missing brackets and
// encoded words with raw specials, and a router must still find every address it can.
#include "mail/addrlist.hpp"

#include <algorithm>

#include "mail/headers.hpp"
#include "util/hex.hpp"
#include "util/text.hpp"

namespace pb::mail {
namespace {

enum class Kind { word, quoted, literal, special };

struct Token {
  Kind kind;
  std::string text;        // word/literal as written; quoted: content without quotes, unescaped
  char ch = 0;             // specials: the character
  bool space_before = false;
};

constexpr std::string_view kSpecials = "<>@,;:.";

bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7F; }
bool is_wsp_or_eol(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// "word" characters: RFC 5322 atext plus UTF-8 bytes (RFC 6532 3.2); everything the lexer does
// not treat specially.
bool is_word_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if (is_ctl(u) || is_wsp_or_eol(c)) return false;
  return kSpecials.find(c) == std::string_view::npos && std::string_view("()\"[]\\").find(c) == std::string_view::npos;
}

std::string quote(std::string_view s) { return "'" + text::printable(s, 60) + "'"; }

class Lexer {
 public:
  Lexer(std::string_view s, std::vector<std::string>& problems) : s_(s), problems_(problems) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    bool space = false;
    while (i_ < s_.size()) {
      char c = s_[i_];
      auto u = static_cast<unsigned char>(c);
      if (is_wsp_or_eol(c)) {
        space = true;
        ++i_;
      } else if (c == '(') {
        comments.emplace_back(out.size(), comment());
        space = true;
      } else if (c == '"') {
        out.push_back({Kind::quoted, quoted(), 0, space});
        space = false;
      } else if (c == '[') {
        out.push_back({Kind::literal, literal(), 0, space});
        space = false;
      } else if (kSpecials.find(c) != std::string_view::npos) {
        out.push_back({Kind::special, std::string(1, c), c, space});
        space = false;
        ++i_;
      } else if (std::size_t n = encoded_word_length(); n > 0) {
        out.push_back({Kind::word, std::string(s_.substr(i_, n)), 0, space});
        space = false;
        i_ += n;
      } else if (is_word_char(c)) {
        std::size_t start = i_;
        while (i_ < s_.size() && is_word_char(s_[i_]) && encoded_word_length() == 0) ++i_;
        if (i_ == start) continue;  // an encoded word starts right here: next round takes it
        out.push_back({Kind::word, std::string(s_.substr(start, i_ - start)), 0, space});
        space = false;
      } else {
        // A stray ")", "]", "\" or a control byte: not part of any address.
        if (is_ctl(u))
          problems_.push_back("control character \\x" + hex::encode(std::string_view(&c, 1), hex::Case::upper) +
                              " ignored");
        else problems_.push_back(std::string("stray '") + c + "' ignored");
        ++i_;
        space = true;
      }
    }
    return out;
  }

  // Each comment's text with the index of the token after it (a bare address's trailing comment
  // is its display name).
  std::vector<std::pair<std::size_t, std::string>> comments;

 private:
  // RFC 2047 2: "=?" charset "?" encoding "?" encoded-text "?=", no white space inside. Broken
  // encoders leave raw specials (",", "@", "<") in the text: the whole word is still one token.
  std::size_t encoded_word_length() const {
    if (s_.compare(i_, 2, "=?") != 0) return 0;
    std::size_t q1 = s_.find('?', i_ + 2);
    if (q1 == std::string_view::npos || q1 == i_ + 2) return 0;
    if (q1 + 2 >= s_.size() || s_[q1 + 2] != '?') return 0;
    char enc = s_[q1 + 1];
    if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') return 0;
    std::size_t end = s_.find("?=", q1 + 3);
    if (end == std::string_view::npos) return 0;
    for (std::size_t k = i_; k < end; ++k)
      if (is_wsp_or_eol(s_[k]) || is_ctl(static_cast<unsigned char>(s_[k]))) return 0;
    return end + 2 - i_;
  }

  // RFC 5322 3.2.2: comments nest; "\" quotes the next character. Returns the text inside.
  std::string comment() {
    std::size_t start = ++i_;
    int depth = 1;
    std::string content;
    while (i_ < s_.size() && depth > 0) {
      char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size()) {
        content.push_back(s_[i_ + 1]);
        i_ += 2;
        continue;
      }
      if (c == '(') ++depth;
      if (c == ')') --depth;
      if (depth > 0) content.push_back(c);
      ++i_;
    }
    if (depth > 0) problems_.push_back("comment " + quote(s_.substr(start - 1)) + " is not closed with ')'");
    return content;
  }

  std::string quoted() {
    std::size_t start = i_++;
    std::string content;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      content.push_back(s_[i_]);
      ++i_;
    }
    if (i_ >= s_.size()) problems_.push_back("quoted text " + quote(s_.substr(start)) + " is not closed with '\"'");
    else ++i_;
    return content;
  }

  std::string literal() {
    std::size_t start = i_;
    std::size_t end = s_.find(']', i_);
    if (end == std::string_view::npos) {
      problems_.push_back("domain literal " + quote(s_.substr(start)) + " is not closed with ']'");
      i_ = s_.size();
      return std::string(s_.substr(start));
    }
    i_ = end + 1;
    std::string out;
    for (char c : s_.substr(start, i_ - start))
      if (!is_wsp_or_eol(c)) out.push_back(c);  // RFC 5322 3.4.1: FWS inside is not significant
    return out;
  }

  std::string_view s_;
  std::vector<std::string>& problems_;
  std::size_t i_ = 0;
};

// The parser proper. Grammar (RFC 5322 3.4 with 4.4):
//   address-list = [address] *("," [address])
//   address      = mailbox / group
//   group        = display-name ":" [mailbox *("," [mailbox])] ";"
//   mailbox      = [display-name] "<" [obs-route] addr-spec ">" / addr-spec
//   addr-spec    = word *("." word) "@" (word *("." word) / domain-literal)
class Parser {
 public:
  Parser(std::vector<Token> tokens, std::vector<std::pair<std::size_t, std::string>> comments, AddressList& out,
         std::size_t max)
      : t_(std::move(tokens)), comments_(std::move(comments)), out_(out), max_(max) {}

  void list() {
    while (!end()) {
      if (is(',')) {
        ++i_;
        continue;
      }
      if (out_.mailboxes.size() >= max_) {
        out_.problems.push_back("more than " + std::to_string(max_) + " addresses: the rest is ignored");
        return;
      }
      address();
      if (end()) break;
      if (is(',')) {
        ++i_;
      } else {
        out_.problems.push_back("unexpected " + describe(i_) + " after an address: skipped up to the next ','");
        skip_to_comma();
      }
    }
  }

 private:
  bool end() const { return i_ >= t_.size(); }
  bool is(char c) const { return !end() && t_[i_].kind == Kind::special && t_[i_].ch == c; }
  bool is_wordish() const {
    return !end() && (t_[i_].kind == Kind::word || t_[i_].kind == Kind::quoted || is('.'));
  }

  std::string describe(std::size_t k) const {
    if (k >= t_.size()) return "end of field";
    const Token& tok = t_[k];
    if (tok.kind == Kind::special) return std::string("'") + tok.ch + "'";
    return quote(tok.kind == Kind::quoted ? "\"" + tok.text + "\"" : tok.text);
  }

  // Skips to the next top-level ",": inside "<...>" a comma belongs to an obsolete route.
  void skip_to_comma() {
    int angle = 0;
    while (!end()) {
      if (is('<')) ++angle;
      if (is('>') && angle > 0) --angle;
      if (is(',') && angle == 0) return;
      ++i_;
    }
  }

  // Words (and obsolete dots) of a phrase or local part, from i_ on.
  std::vector<Token> words() {
    std::vector<Token> w;
    while (is_wordish()) w.push_back(t_[i_++]);
    return w;
  }

  static std::string raw_text(const std::vector<Token>& w) {
    std::string out;
    for (const Token& tok : w) {
      if (!out.empty() && tok.space_before) out += ' ';
      out += tok.kind == Kind::quoted ? "\"" + tok.text + "\"" : tok.text;
    }
    return out;
  }

  // Display names are for people: encoded words decoded, quotes dropped, white space collapsed.
  static std::string display_text(const std::vector<Token>& w) {
    std::string out;
    for (const Token& tok : w) {
      if (!out.empty() && (tok.space_before || tok.kind == Kind::quoted)) out += ' ';
      out += tok.text;
    }
    return decode_rfc2047(text::trim(out));
  }

  void address() {
    std::size_t start = i_;
    auto phrase = words();
    if (is(':')) {
      ++i_;
      group(display_text(phrase));
      return;
    }
    i_ = start;
    mailbox("");
  }

  void group(const std::string& name) {
    while (!end() && !is(';')) {
      if (is(',')) {
        ++i_;
        continue;
      }
      if (out_.mailboxes.size() >= max_) return;
      std::size_t before = i_;
      mailbox(name);
      if (is(',') || is(';') || end()) continue;
      out_.problems.push_back("unexpected " + describe(i_) + " in group " + quote(name) + ": skipped up to the next ','");
      while (!end() && !is(',') && !is(';')) ++i_;
      if (i_ == before) ++i_;
    }
    if (is(';')) ++i_;
    else out_.problems.push_back("group " + quote(name) + " is not closed with ';'");
  }

  // One mailbox from i_ on; reports and skips what is not one.
  void mailbox(const std::string& group) {
    std::size_t start = i_;
    auto phrase = words();
    if (is('<')) {
      angle_addr(display_text(phrase), group);
      return;
    }
    if (is('@')) {
      addr_spec_after(phrase, start, group);
      return;
    }
    if (is(':')) {
      out_.problems.push_back("group " + quote(raw_text(phrase)) + " inside a group is not allowed: skipped");
      while (!end() && !is(';')) ++i_;
      if (is(';')) ++i_;
      return;
    }
    if (!phrase.empty())
      out_.problems.push_back(quote(raw_text(phrase)) + " is not an address (no @domain)");
    else if (!end() && !is(',') && !is(';'))
      ++i_;  // e.g. a lone ">" or "@": the caller reports it
  }

  // name-addr: "<" [obs-route] addr-spec ">", or "<>" (empty: nothing to deliver to).
  void angle_addr(const std::string& display, const std::string& group) {
    ++i_;  // "<"
    if (is('>')) {
      ++i_;
      out_.problems.push_back("empty address <> ignored");
      return;
    }
    if (is('@')) {  // RFC 5322 4.4 obs-route "@a,@b:" before the address: ignored
      while (!end() && !is(':') && !is('>')) ++i_;
      if (is(':')) ++i_;
    }
    auto local = words();
    if (!is('@')) {
      out_.problems.push_back("<" + text::printable(raw_text(local), 80) + "> has no @domain");
      while (!end() && !is('>') && !is(',')) ++i_;
      if (is('>')) ++i_;
      return;
    }
    ++i_;
    auto domain = domain_part();
    std::string shown = raw_text(local) + "@" + domain;
    if (is('@')) {
      out_.problems.push_back("<" + text::printable(shown, 80) + "@...> has more than one '@'");
      while (!end() && !is('>') && !is(',')) ++i_;
      if (is('>')) ++i_;
      return;
    }
    if (is('>')) ++i_;
    else out_.problems.push_back("<" + text::printable(shown, 80) + " is not closed with '>'");
    add(local, domain, display, group, shown);
  }

  // A bare addr-spec whose local-part words are already read; also catches two common breakages:
  // "Anna Schmidt anna@firma.de" (no brackets) and "anna@firma.de <anna@firma.de>".
  void addr_spec_after(std::vector<Token> phrase, std::size_t start, const std::string& group) {
    ++i_;  // "@"
    auto domain = domain_part();
    if (is('<')) {
      std::string display = raw_text(phrase) + "@" + domain;
      out_.problems.push_back(quote(display) + " before <...> is an unquoted name with '@': read as a name");
      angle_addr(display, group);
      return;
    }
    if (is('@')) {
      out_.problems.push_back(quote(raw_text(phrase) + "@" + domain + "@...") + " has more than one '@'");
      skip_to_comma();
      return;
    }
    std::string display;
    // Words separated by white space and no dot: all but the last one are a name.
    std::size_t first_local = phrase.size();
    while (first_local > 0) {
      const Token& tok = phrase[first_local - 1];
      bool dot = tok.kind == Kind::special;
      bool joined = first_local == phrase.size() || dot || phrase[first_local].kind == Kind::special ||
                    !phrase[first_local].space_before;
      if (!joined) break;
      --first_local;
    }
    if (first_local > 0) {
      std::vector<Token> name(phrase.begin(), phrase.begin() + static_cast<std::ptrdiff_t>(first_local));
      phrase.erase(phrase.begin(), phrase.begin() + static_cast<std::ptrdiff_t>(first_local));
      display = display_text(name);
      out_.problems.push_back("'" + text::printable(raw_text(name), 60) + " " + text::printable(raw_text(phrase), 60) +
                              "@" + text::printable(domain, 60) + "' lacks <>: read as a name and an address");
    } else {
      display = trailing_comment(start);
    }
    add(phrase, domain, display, group, raw_text(phrase) + "@" + domain);
  }

  // The comment right after a bare address, "anna@firma.de (Anna Schmidt)", names it.
  std::string trailing_comment(std::size_t start) const {
    for (const auto& [at, body] : comments_)
      if (at > start && at == i_) return decode_rfc2047(text::trim(body));
    return "";
  }

  // domain = dot-atom / domain-literal (obs-domain: CFWS around the dots, already dropped).
  std::string domain_part() {
    if (!end() && t_[i_].kind == Kind::literal) return t_[i_++].text;
    std::string d;
    while (!end() && (t_[i_].kind == Kind::word || is('.'))) {
      // A word after a space without a dot is not the domain any more ("a@b c"): the caller
      // reports it as unexpected.
      if (!d.empty() && t_[i_].kind == Kind::word && d.back() != '.' && t_[i_].space_before) break;
      d += t_[i_++].text;
    }
    return d;
  }

  // Builds the local part (RFC 5322 3.4.1 with obs-local-part: words joined by dots; quoted words
  // contribute their content) and validates the whole address.
  void add(const std::vector<Token>& local, const std::string& domain, const std::string& display,
           const std::string& group, const std::string& shown) {
    std::string content;
    bool quoted = false, spaced = false;
    for (std::size_t k = 0; k < local.size(); ++k) {
      const Token& tok = local[k];
      if (k > 0 && tok.space_before && tok.kind != Kind::special && local[k - 1].kind != Kind::special) spaced = true;
      quoted |= tok.kind == Kind::quoted;
      content += tok.text;
    }
    if (content.empty() || domain.empty()) {
      out_.problems.push_back(quote(shown) + " is not an address (empty local part or domain)");
      return;
    }
    if (spaced) {
      out_.problems.push_back(quote(shown) + " has white space in its local part: ignored");
      return;
    }
    std::optional<Address> a = Address::parse(content + "@" + domain);
    if (!a && quoted) {  // needs the quotes after all: RFC 5321 4.1.2 Quoted-string
      std::string q = "\"";
      for (char c : content) {
        if (c == '"' || c == '\\') q += '\\';
        q += c;
      }
      a = Address::parse(q + "\"@" + domain);
    }
    if (!a) {
      out_.problems.push_back(quote(shown) + " is not a valid address");
      return;
    }
    out_.mailboxes.push_back({std::move(*a), display, group});
  }

  std::vector<Token> t_;
  std::vector<std::pair<std::size_t, std::string>> comments_;
  AddressList& out_;
  std::size_t max_;
  std::size_t i_ = 0;
};

}  // namespace

AddressList parse_address_list(std::string_view value, std::size_t max_mailboxes) {
  AddressList out;
  Lexer lexer(value, out.problems);
  auto tokens = lexer.run();
  Parser(std::move(tokens), std::move(lexer.comments), out, max_mailboxes).list();
  return out;
}

std::optional<Address> received_for(std::string_view value) {
  // The date follows the last ";" (RFC 5321 4.4 Time-stamp-line); "for" comes before it.
  std::size_t semi = value.rfind(';');
  std::string_view clauses = semi == std::string_view::npos ? value : value.substr(0, semi);
  std::vector<std::string> ignored;
  Lexer lexer(clauses, ignored);
  auto tokens = lexer.run();
  for (std::size_t k = 0; k + 1 < tokens.size(); ++k) {
    if (tokens[k].kind != Kind::word || !text::iequals(tokens[k].text, "for")) continue;
    // For = CFWS "FOR" CFWS ( Path / Mailbox ): white space (or a comment) on both sides, so that
    // a token such as an EHLO name "for:anna@firma.de" in "from ..." is not read as the clause.
    if ((k > 0 && !tokens[k].space_before) || !tokens[k + 1].space_before) continue;
    // Parse what follows as a one-address list.
    std::vector<Token> rest(tokens.begin() + static_cast<std::ptrdiff_t>(k + 1), tokens.end());
    auto stop = std::find_if(rest.begin(), rest.end(), [](const Token& t) {
      return t.kind == Kind::word && t.space_before && !t.text.empty() &&
             (text::iequals(t.text, "id") || text::iequals(t.text, "with") || text::iequals(t.text, "via"));
    });
    rest.erase(stop, rest.end());
    AddressList one;
    Parser(std::move(rest), {}, one, 1).list();
    if (!one.mailboxes.empty()) return one.mailboxes.front().address;
  }
  return std::nullopt;
}

}  // namespace pb::mail
