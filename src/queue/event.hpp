// The event log's vocabulary: what happened (EventKind), how it ended (EventResult), and one named
// factory per thing the service logs. Promise: the words written to SQLite and sent by the JSON
// API are exactly those of to_string() below; a word this version does not know (an older or newer
// database) is kept as read, so the page still shows it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "queue/message.hpp"

namespace pb::queue {

enum class EventKind {
  fetch,    // a message fetched by POP3, or left at the provider as too large
  poll,     // a POP3 poll ended well (or was interrupted after progress)
  deliver,  // an attempt to the office server (route local)
  send,     // an attempt to a smarthost
  receive,  // a message accepted from an office client for relaying
  bounce,   // a DSN queued: failure, delay, or relayed notice
  notice,   // a notice to the postmaster queued
  error,    // a failed poll, or a route paused
  alert,    // a problem told to the admin (raised, reminded or resolved), queued as one message
};

enum class EventResult {
  ok,
  queued,       // a notice waits in the queue
  deferred,     // a delivery attempt will be retried
  failed,       // failed for good (a delivery, or a bounce that reports a failure)
  expired,      // undelivered after max_queue_time
  skipped,      // a message left at the provider: larger than max_message_size
  auth_failed,  // a login refused ("auth-failed")
  paused,       // a route paused: its server cannot be reached
  error,        // a poll failed for another reason
  delayed,      // a delay notice was queued
  held,         // a multidrop mail loop: held for the admin
  redirected,   // a refused recipient went to the multidrop default_recipient
  interrupted,  // a poll broke after it made progress; it continues at once
  raised,       // an alert: a problem told for the first time
  reminded,     // an alert: a problem that lasts, told again
  resolved,     // an alert: a problem told before is gone
};

inline constexpr EventKind kEventKinds[] = {EventKind::fetch,   EventKind::poll,   EventKind::deliver,
                                            EventKind::send,    EventKind::receive, EventKind::bounce,
                                            EventKind::notice,  EventKind::error,  EventKind::alert};
inline constexpr EventResult kEventResults[] = {
    EventResult::ok,          EventResult::queued, EventResult::deferred, EventResult::failed,
    EventResult::expired,     EventResult::skipped, EventResult::auth_failed, EventResult::paused,
    EventResult::error,       EventResult::delayed, EventResult::held,      EventResult::redirected,
    EventResult::interrupted, EventResult::raised, EventResult::reminded, EventResult::resolved};

std::string_view to_string(EventKind k);
std::string_view to_string(EventResult r);
// nullopt for a word this version does not know.
std::optional<EventKind> parse_event_kind(std::string_view s);
std::optional<EventResult> parse_event_result(std::string_view s);

// One word of a stored event: a known value, or the text as read when this version does not know
// it (a row from another version must not make the whole log unreadable).
template <class Enum>
class EventWord {
 public:
  EventWord() = default;  // no word yet: reads as ""
  EventWord(Enum e) : known_(e) {}  // NOLINT(google-explicit-constructor): e.kind = EventKind::fetch
  static EventWord parse(std::string_view s) {
    EventWord w;
    w.known_ = parse_known(s, static_cast<Enum*>(nullptr));
    if (!w.known_) w.raw_ = std::string(s);
    return w;
  }
  std::optional<Enum> known() const { return known_; }
  std::string_view str() const { return known_ ? to_string(*known_) : std::string_view(raw_); }
  bool operator==(Enum e) const { return known_ == e; }
  bool operator==(const EventWord& o) const { return str() == o.str(); }

 private:
  static std::optional<EventKind> parse_known(std::string_view s, EventKind*) { return parse_event_kind(s); }
  static std::optional<EventResult> parse_known(std::string_view s, EventResult*) { return parse_event_result(s); }
  std::optional<Enum> known_;
  std::string raw_;
};

using KindWord = EventWord<EventKind>;
using ResultWord = EventWord<EventResult>;

struct Event {
  UnixTime time = 0;
  KindWord kind;
  std::string account;  // may be empty
  std::string route;    // a RouteId's text; may be empty
  MessageId message_id = 0;
  std::string sender;
  std::string recipients;  // comma-separated, for display
  std::string subject;
  std::uint64_t size = 0;
  int count = 0;           // e.g. messages fetched in a poll
  ResultWord result;
  std::string text;        // plain-words detail or the peer's reply (never a secret)

  // The group commit sets time and message_id of these two when it stores the message.
  // A message fetched from `account` (route local); `shown` lists where it goes, duplicates too.
  static Event fetched(const std::string& account, const NewMessage& m, std::string shown, EventResult result,
                       std::string text);
  // A message accepted from an office client for relaying on m.route.
  static Event received(const NewMessage& m, std::string recipients, std::string text);

  // A message left at the provider: larger than max_message_size.
  static Event fetch_skipped(UnixTime now, const std::string& account, std::uint64_t size, std::string why);
  // A POP3 poll that ended: kind poll when the account is fine, error otherwise.
  static Event poll(UnixTime now, const std::string& account, bool account_ok, EventResult result,
                    std::uint64_t bytes, int fetched, std::string text);
  // A notice to the postmaster, queued as message `id` on route local.
  static Event notice_queued(UnixTime now, MessageId id, const std::string& postmaster, const NewMessage& notice);
  // An alert about `object` ("account info") queued as message `id` to `recipients`; `result` is
  // raised, reminded or resolved, `text` the plain words told (never a secret).
  static Event alert(UnixTime now, MessageId id, const std::string& recipients, const std::string& object,
                     EventResult result, std::string text);
  // A DSN about message `about` queued to `to`; `who` names the recipients it reports on.
  static Event bounced(UnixTime now, const QueuedMessage& about, const std::string& to, const NewMessage& dsn,
                       EventResult result, std::string who);
  // A route stopped trying for a while: its server refused the login (auth) or cannot be reached.
  static Event route_paused(UnixTime now, const std::string& route, bool auth, std::string text);
  // An attempt to deliver `msg` on `route` ended (or the message expired): "send" when outbound
  // (a smarthost), "deliver" for the office server; `accepted` when some recipient was accepted.
  static Event delivery(UnixTime now, bool outbound, const QueuedMessage& msg, const std::string& route,
                        std::string recipients, bool accepted, EventResult result, std::string text);
};

}  // namespace pb::queue
