// IMAP server responses (RFC 9051 / RFC 3501 7 and 9), parsed incrementally from bytes, no I/O.
// Promises: bounded memory and no recursion whatever the peer sends; literals the sink takes are handed on as they arrive.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pb::imap {

// What went wrong in the peer's bytes; the parser is unusable afterwards.
enum class ParseErrorKind {
  syntax,             // not an IMAP response (a bad tag, an unknown status, a stray quote ...)
  line_too_long,      // a line (the text between literals) longer than Limits::max_line
  response_too_large, // one response over Limits::max_response bytes or max_tokens values
  too_deep,           // parentheses nested deeper than Limits::max_depth
  unbalanced,         // a ")" without "(", or a response that ends inside a list
  bad_number,         // a number out of range (RFC 9051 4.2: number is 32 bit, number64 63 bit)
  literal_too_large,  // a literal over the limit for its place
};

class ParseError : public std::runtime_error {
 public:
  ParseError(ParseErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ParseErrorKind kind() const { return kind_; }

 private:
  ParseErrorKind kind_;
};

// The values of a response's data part, flattened: a parenthesised list is list_begin ... list_end,
// so nesting never costs recursion. A literal the sink took is `streamed` (number = its size).
enum class TokenKind { atom, number, string, nil, list_begin, list_end, streamed };
struct Token {
  TokenKind kind = TokenKind::atom;
  std::string text;          // atom or string (quoted or a buffered literal), unescaped
  std::uint64_t number = 0;  // number value, or the size of a streamed literal
};
// A number token within uint32 range (RFC 9051 4.2 number / nz-number).
std::optional<std::uint32_t> as_u32(const Token& t);

// RFC 9051 7.1 response codes the client acts on; everything else is `other`, kept by name.
enum class CodeKind {
  none, alert, authenticationfailed, authorizationfailed, expired, unavailable, privacyrequired,
  contactadmin, trycreate, nonexistent, alreadyexists, cannot, limit, overquota, inuse, serverbug,
  uidvalidity, uidnext, capability, appenduid, copyuid, permanentflags, read_only, read_write,
  uidnotsticky, closed, other,
};
struct RespCode {
  CodeKind kind = CodeKind::none;
  std::string name;                     // as sent, upper case ("UIDVALIDITY")
  std::string args;                     // the rest inside the brackets, as sent
  std::optional<std::uint32_t> number;  // UIDVALIDITY, UIDNEXT, and APPENDUID/COPYUID's uidvalidity
  std::vector<std::string> words;       // CAPABILITY's list (upper case); the args split otherwise
};

enum class Kind { tagged, untagged, continuation };
enum class Status { none, ok, no, bad, preauth, bye };

struct Response {
  Kind kind = Kind::untagged;
  std::string tag;                      // tagged only
  Status status = Status::none;         // tagged, and untagged OK/NO/BAD/PREAUTH/BYE
  std::optional<std::uint32_t> number;  // "* 4 EXISTS", "* 2 FETCH (...)"
  std::string name;                     // untagged, upper case: "OK", "CAPABILITY", "EXISTS", "FETCH" ...
  RespCode code;                        // status responses: the [resp-text-code]
  std::string text;                     // status responses: the human text; continuation: what follows "+ "
  std::vector<Token> data;              // other untagged responses: the values after the name
};

// Where a literal goes. The parser asks for every literal that is a message (the value of
// BODY[...], BINARY[...] or RFC822* in a FETCH response); the sink streams it or lets it pass.
class LiteralSink {
 public:
  virtual ~LiteralSink() = default;
  // seq: the FETCH's message number; uid: the UID if the FETCH named it before the literal.
  // True: data() gets the bytes; false: they are skipped (neither buffered nor handed on).
  virtual bool begin(std::uint32_t seq, std::optional<std::uint32_t> uid, std::string_view item,
                     std::uint64_t size) = 0;
  virtual void data(std::string_view bytes) = 0;  // exactly as sent, in order
  virtual void end() = 0;                         // the literal's last byte arrived
};

struct Limits {
  std::size_t max_line = 1024 * 1024;          // between two literals; RFC 9051 leaves it open
  std::size_t max_response = 16 * 1024 * 1024; // lines and buffered literals of one response
  std::size_t max_tokens = 262144;             // values in one response (a SEARCH of 262144 UIDs)
  std::size_t max_depth = 64;                  // BODYSTRUCTURE nests a few levels, not thousands
  std::size_t max_buffered_literal = 1024 * 1024;
  std::uint64_t max_streamed_literal = std::uint64_t(1) << 32;  // RFC 3501 9: literal size is a 32-bit number
};

// Incremental parser: feed() bytes as they arrive, take() each complete response.
class Parser {
 public:
  explicit Parser(Limits limits = {});
  void set_sink(LiteralSink* sink) { sink_ = sink; }
  // Consumes bytes up to the end of at most one response and returns how many; stops (returns 0)
  // while a response is ready. Throws ParseError; the parser then stays failed.
  std::size_t feed(std::string_view in);
  bool ready() const { return state_ == State::ready; }
  Response take();
  // Forgets everything half-parsed (after STARTTLS nothing sent before the handshake counts).
  void reset();
  // True while inside a response (mid-line or mid-literal): a cut connection there lost data.
  bool in_response() const { return state_ != State::idle || !line_.empty(); }

 private:
  enum class State { idle, line, literal, ready, failed };
  [[noreturn]] void fail(ParseErrorKind kind, const std::string& what);
  void end_of_line();
  void parse_head(std::string_view line);
  void parse_data(std::string_view rest);
  void start_literal(std::uint64_t size);
  void end_literal();
  void push(Token t);
  void complete();
  std::size_t feed_literal(std::string_view in);

  Limits limits_;
  LiteralSink* sink_ = nullptr;
  State state_ = State::idle;
  bool head_done_ = false;  // the tag / "*" / "+" part of current_ is parsed
  std::string line_;
  Response current_;
  std::size_t depth_ = 0;
  std::size_t response_bytes_ = 0;
  std::uint64_t literal_left_ = 0;
  bool literal_streamed_ = false;  // going to the sink (true) or skipped/buffered (false)
  bool literal_skipped_ = false;
  std::uint64_t literal_size_ = 0;
  std::string literal_buf_;
  std::optional<std::uint32_t> fetch_uid_;  // "UID n" seen at depth 1 of this FETCH
};

// Parsed status text after OK/NO/BAD/BYE/PREAUTH: "[CODE args] text" (RFC 9051 7.1).
void parse_resp_text(std::string_view s, RespCode& code, std::string& text);

// RFC 9051 7.2.2 capability names, upper case, with the ones the client acts on named.
struct Capabilities {
  std::vector<std::string> words;
  bool has(std::string_view name) const;
  bool has_auth(std::string_view mechanism) const { return has("AUTH=" + std::string(mechanism)); }
  bool imap4() const { return has("IMAP4REV1") || has("IMAP4REV2"); }
};
Capabilities parse_capabilities(const std::vector<Token>& atoms);
Capabilities parse_capabilities(const std::vector<std::string>& words);

// The items of one "* n FETCH (...)" response the client uses. nullopt when malformed.
struct FetchData {
  std::uint32_t seq = 0;
  std::optional<std::uint32_t> uid;
  std::optional<std::uint64_t> size;       // RFC822.SIZE
  std::optional<std::uint64_t> body_size;  // a streamed BODY[] literal's size
  std::optional<std::string> body;         // BODY[] as a quoted string or buffered literal
  bool body_nil = false;                   // BODY[] NIL
  std::vector<std::string> flags;          // FLAGS (...)
};
std::optional<FetchData> parse_fetch(const Response& r);

// RFC 9051 9 sequence-set of UIDs: sorted, ranges joined ("1:3,7,9:10"). Empty for no UIDs.
std::string sequence_set(std::vector<std::uint32_t> uids);

}  // namespace pb::imap
