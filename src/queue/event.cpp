// The event words and factories (see event.hpp). Each factory fills the fields its event has
// always had, so rows written before these factories existed read the same.
#include "queue/event.hpp"

#include "queue/route_id.hpp"

namespace pb::queue {

std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::fetch: return "fetch";
    case EventKind::poll: return "poll";
    case EventKind::deliver: return "deliver";
    case EventKind::send: return "send";
    case EventKind::receive: return "receive";
    case EventKind::bounce: return "bounce";
    case EventKind::notice: return "notice";
    case EventKind::error: return "error";
    case EventKind::alert: return "alert";
  }
  return "";
}

std::string_view to_string(EventResult r) {
  switch (r) {
    case EventResult::ok: return "ok";
    case EventResult::queued: return "queued";
    case EventResult::deferred: return "deferred";
    case EventResult::failed: return "failed";
    case EventResult::expired: return "expired";
    case EventResult::skipped: return "skipped";
    case EventResult::auth_failed: return "auth-failed";
    case EventResult::paused: return "paused";
    case EventResult::error: return "error";
    case EventResult::delayed: return "delayed";
    case EventResult::held: return "held";
    case EventResult::redirected: return "redirected";
    case EventResult::interrupted: return "interrupted";
    case EventResult::raised: return "raised";
    case EventResult::reminded: return "reminded";
    case EventResult::resolved: return "resolved";
  }
  return "";
}

std::optional<EventKind> parse_event_kind(std::string_view s) {
  for (auto k : kEventKinds)
    if (to_string(k) == s) return k;
  return std::nullopt;
}

std::optional<EventResult> parse_event_result(std::string_view s) {
  for (auto r : kEventResults)
    if (to_string(r) == s) return r;
  return std::nullopt;
}

Event Event::fetched(const std::string& account, const NewMessage& m, std::string shown, EventResult result,
                     std::string text) {
  Event e;
  e.kind = EventKind::fetch;
  e.account = account;
  e.route = RouteId::local().to_string();
  e.sender = m.sender;
  e.recipients = std::move(shown);
  e.subject = m.subject;
  e.size = m.size;
  e.count = 1;
  e.result = result;
  e.text = std::move(text);
  return e;
}

Event Event::received(const NewMessage& m, std::string recipients, std::string text) {
  Event e;
  e.kind = EventKind::receive;
  e.route = m.route;
  e.sender = m.sender;
  e.recipients = std::move(recipients);
  e.subject = m.subject;
  e.size = m.size;
  e.count = 1;
  e.result = EventResult::ok;
  e.text = std::move(text);
  return e;
}

Event Event::fetch_skipped(UnixTime now, const std::string& account, std::uint64_t size, std::string why) {
  Event e;
  e.time = now;
  e.kind = EventKind::fetch;
  e.account = account;
  e.size = size;
  e.result = EventResult::skipped;
  e.text = std::move(why);
  return e;
}

Event Event::poll(UnixTime now, const std::string& account, bool account_ok, EventResult result,
                  std::uint64_t bytes, int fetched, std::string text) {
  Event e;
  e.time = now;
  e.kind = account_ok ? EventKind::poll : EventKind::error;
  e.account = account;
  e.size = bytes;
  e.count = fetched;
  e.result = result;
  e.text = std::move(text);
  return e;
}

Event Event::alert(UnixTime now, MessageId id, const std::string& recipients, const std::string& object,
                   EventResult result, std::string text) {
  Event e;
  e.time = now;
  e.kind = EventKind::alert;
  e.route = RouteId::local().to_string();
  e.message_id = id;
  e.recipients = recipients;
  e.subject = object;
  e.count = 1;
  e.result = result;
  e.text = std::move(text);
  return e;
}

Event Event::notice_queued(UnixTime now, MessageId id, const std::string& postmaster, const NewMessage& notice) {
  Event e;
  e.time = now;
  e.kind = EventKind::notice;
  e.route = RouteId::local().to_string();
  e.message_id = id;
  e.recipients = postmaster;
  e.subject = notice.subject;
  e.size = notice.size;
  e.count = 1;
  e.result = EventResult::queued;
  return e;
}

Event Event::bounced(UnixTime now, const QueuedMessage& about, const std::string& to, const NewMessage& dsn,
                     EventResult result, std::string who) {
  Event e;
  e.time = now;
  e.kind = EventKind::bounce;
  e.account = about.account;
  e.route = about.route;
  e.message_id = about.id;
  e.recipients = to;
  e.subject = dsn.subject;
  e.size = dsn.size;
  e.count = 1;
  e.result = result;
  e.text = std::move(who);
  return e;
}

Event Event::route_paused(UnixTime now, const std::string& route, bool auth, std::string text) {
  Event e;
  e.time = now;
  e.kind = EventKind::error;
  e.route = route;
  e.result = auth ? EventResult::auth_failed : EventResult::paused;
  e.text = std::move(text);
  return e;
}

Event Event::delivery(UnixTime now, bool outbound, const QueuedMessage& msg, const std::string& route,
                      std::string recipients, bool accepted, EventResult result, std::string text) {
  Event e;
  e.time = now;
  e.kind = outbound ? EventKind::send : EventKind::deliver;
  e.account = msg.account;
  e.route = route;
  e.message_id = msg.id;
  e.sender = msg.sender;
  e.recipients = std::move(recipients);
  e.subject = msg.subject;
  e.size = msg.size;
  e.count = accepted ? 1 : 0;
  e.result = result;
  e.text = std::move(text);
  return e;
}

}  // namespace pb::queue
