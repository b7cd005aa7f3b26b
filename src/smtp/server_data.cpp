// The SMTP server session's message transfer (see server.hpp): DATA (RFC 5321 4.1.1.4) and BDAT
// chunks (RFC 3030), both decoded by smtp::DataDecoder into CRLF lines for the sink, and the one
// place that commits a message and answers for it.
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <string>

#include "smtp/codes.hpp"
#include "smtp/server_session.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace pb::smtp::session {

// Why DATA/BDAT cannot start now, if it cannot.
std::optional<Refusal> Session::data_sequence_refusal(bool bdat) const {
  // RFC 5321 3.3: after MAIL whose recipients were all refused, 554 "no valid recipients".
  if (state_ == State::mail) return Refusal{code::no_valid_recipients, "no valid recipients"};
  if (state_ == State::bdat && !bdat)  // RFC 3030 2: no DATA in a BDAT transaction
    return Refusal{code::bad_sequence, "DATA cannot follow BDAT in the same transaction"};
  if (state_ != State::rcpt && state_ != State::bdat)
    return Refusal{code::bad_sequence, bdat ? "need MAIL and RCPT before BDAT" : "need MAIL and RCPT before DATA"};
  return std::nullopt;
}

asio::awaitable<void> Session::on_data(std::string_view arg) {
  if (!arg.empty()) co_return refuse(code::bad_arguments, "DATA takes no argument");
  if (auto r = data_sequence_refusal(false)) co_return answer_sequence(*r);
  if (!start_message()) {
    reply(code::no_storage, "insufficient system storage, try again later");
    reset_transaction();
    set_state(State::ready);
    co_return;
  }
  reply(code::start_data, "end data with <CR><LF>.<CR><LF>");
  set_state(State::data);
  co_await receive_data();
}

asio::awaitable<void> Session::receive_data() {
  set_wait(s_.data_timeout, "message data");
  DataDecoder decoder(s_.max_message_size, kDataLine, s_.bare_line_ends, Framing::dot);
  while (!decoder.done()) {
    if (in_.size() == 0) co_await fill();
    chunk_.clear();
    in_.consume(decoder.feed(in_.view(), chunk_));
    write_to_sink(chunk_);
  }
  set_wait(s_.command_timeout, "command");
  message_size_ = decoder.size();
  co_await finish_message(decoded_refusal(decoder, "DATA"), "DATA");
}

// Why a decoded message (DATA, or BDAT so far) is refused, if it is; logs what was repaired.
std::optional<Refusal> Session::decoded_refusal(const DataDecoder& decoder, const char* how) {
  if (decoder.nul_bytes() > 0)
    log::info(prefix_ + "message contains " + std::to_string(decoder.nul_bytes()) + " NUL bytes (kept)");
  if (decoder.bare_refused()) {
    // The whole message up to its real end was read and dropped: no part of it was taken as a
    // command, and no part of it is delivered. Refusing (not repairing) means a hop that
    // disagrees with us about where the data ends gets an error, never a second message
    // (CVE-2023-51764). 5.6.11 as Exchange Online uses it for bare line feeds.
    log::notice(prefix_ + "message with a bare CR or LF refused (SMTP smuggling protection; " + how +
                ", [relay] bare_line_feeds = \"reject\")");
    return Refusal{code::bare_line_end, "bare CR or LF in message data refused (SMTP smuggling protection)"};
  }
  if (decoder.line_too_long()) {
    log::notice(prefix_ + "message with a line over " + std::to_string(kDataLine) + " octets refused");
    return Refusal{code::data_line_too_long, "message has a line longer than " + std::to_string(kDataLine) + " octets"};
  }
  if (decoder.too_big()) {
    log::notice(prefix_ + "message (" + how + ") over the size limit refused (" + std::to_string(decoder.size()) +
                " octets)");
    return Refusal{code::message_too_big, "message exceeds the limit of " + std::to_string(s_.max_message_size) + " octets"};
  }
  std::string repaired;
  if (auto n = decoder.bare_lf(); n > 0)
    repaired = std::to_string(n) + (n == 1 ? " line" : " lines") + " ended by a bare LF, stored with CRLF";
  if (auto n = decoder.bare_cr(); n > 0)
    repaired += (repaired.empty() ? "" : "; ") + std::to_string(n) +
                (n == 1 ? " bare CR inside a line, kept (sent on as a space)" : " bare CRs inside lines, kept (sent on as spaces)");
  if (!repaired.empty()) log::info(prefix_ + "message (" + how + "): " + repaired);
  return std::nullopt;
}

asio::awaitable<void> Session::on_bdat(std::string_view arg) {
  auto b = parse_bdat(arg);
  // Without a readable size the chunk cannot be skipped; what follows is then read as commands,
  // which is no smuggling: only this client's own bytes, answered with errors.
  if (!b) co_return refuse(code::bad_arguments, "syntax: BDAT chunk-size [LAST]");
  // Every well-formed BDAT has its octets read whatever the answer: they are never commands
  // (RFC 3030 2: chunks pipelined after a failed one are read and discarded).
  if (auto r = data_sequence_refusal(true)) {
    co_await receive_chunk(b->size, false);
    co_return answer_sequence(*r);
  }
  if (state_ == State::rcpt) {
    if (!start_message()) {
      co_await receive_chunk(b->size, false);
      reply(code::no_storage, "insufficient system storage, try again later");
      reset_transaction();
      set_state(State::ready);
      co_return;
    }
    // The chunks are decoded like DATA (no dots, no end marker): the sink gets the same CRLF
    // lines, so no header line hides behind a bare CR or LF that the next hop would split at.
    chunks_.emplace(s_.max_message_size, kDataLine, s_.bare_line_ends, Framing::chunks);
    set_state(State::bdat);
  }
  co_await receive_chunk(b->size, true);
  if (b->last) {
    chunk_.clear();
    chunks_->finish(chunk_);
    write_to_sink(chunk_);
  }
  message_size_ = chunks_->size();
  // RFC 3030 2: a refused chunk ends the transaction; later chunks get 503 and are skipped.
  bool refused = chunks_->refused();
  if (!refused && !sink_failed_ && !b->last) {
    reply(code::ok, std::to_string(b->size) + " octets received");
    co_return;
  }
  co_await finish_message(decoded_refusal(*chunks_, "BDAT"), "BDAT");
}

// Reads exactly `size` octets (RFC 3030 2: no dot processing, no line structure) through the
// transaction's decoder into the sink, or only past them when !keep.
asio::awaitable<void> Session::receive_chunk(std::uint64_t size, bool keep) {
  set_wait(s_.data_timeout, "BDAT data");
  while (size > 0) {
    if (in_.size() == 0) co_await fill();
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(size, in_.size()));
    if (keep) {
      chunk_.clear();
      chunks_->feed(in_.view().substr(0, take), chunk_);
      write_to_sink(chunk_);
    }
    in_.consume(take);
    size -= take;
  }
  set_wait(s_.command_timeout, "command");
}

// After the end of DATA or BDAT LAST (or a chunk that failed): refuse, or commit and answer what
// commit() says. 250 is never sent before commit() returns: that is the durability promise.
asio::awaitable<void> Session::finish_message(std::optional<Refusal> refused, const char* how) {
  if (!refused && sink_failed_) refused = Refusal{code::no_storage, "insufficient system storage, try again later"};
  std::string summary = "<" + text::printable(tx_.sender) + "> -> " + std::to_string(tx_.recipients.size()) +
                        " recipient(s), " + std::to_string(message_size_) + " octets (" + how + "): ";
  if (refused) {
    abandon_message();
    reply(refused->code, refused->enhanced, refused->text);
    log::info(prefix_ + summary + "refused " + std::to_string(refused->code));
  } else {
    HookReply r;
    try {
      r = co_await hooks_.commit(std::move(sink_), tx_);
    } catch (const std::exception& e) {
      log::error(prefix_ + "storing the message failed: " + e.what());
      r = HookReply{code::local_error, "temporary failure storing the message, try again later"};
    }
    sink_.reset();
    reply_hook(r);
    log::info(prefix_ + summary + std::to_string(r.code) + " " + r.enhanced + " " + one_line(r.text));
  }
  reset_transaction();
  set_state(State::ready);
}

}  // namespace pb::smtp::session
