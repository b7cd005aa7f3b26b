// Message rows (see message_rows.hpp) and the state words of message.hpp.
#include "queue/message_rows.hpp"

#include "queue/database.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>

namespace pb::queue {

const char* to_string(MsgState s) {
  switch (s) {
    case MsgState::queued:
      return "queued";
    case MsgState::delivered:
      return "delivered";
    case MsgState::failed:
      return "failed";
    case MsgState::held:
      return "held";
  }
  return "unknown";
}

const char* to_string(RcptState s) {
  switch (s) {
    case RcptState::pending:
      return "pending";
    case RcptState::delivered:
      return "delivered";
    case RcptState::failed:
      return "failed";
    case RcptState::redirected:
      return "redirected";
    case RcptState::duplicate:
      return "duplicate";
  }
  return "unknown";
}

namespace rows {

using db::from_db;

MsgState msg_state_from(const std::string& s) {
  if (s == "queued") return MsgState::queued;
  if (s == "delivered") return MsgState::delivered;
  if (s == "failed") return MsgState::failed;
  if (s == "held") return MsgState::held;
  throw std::runtime_error("unknown message state '" + s + "' in the database");
}

RcptState rcpt_state_from(const std::string& s) {
  if (s == "pending") return RcptState::pending;
  if (s == "delivered") return RcptState::delivered;
  if (s == "failed") return RcptState::failed;
  if (s == "redirected") return RcptState::redirected;
  if (s == "duplicate") return RcptState::duplicate;
  throw std::runtime_error("unknown recipient state '" + s + "' in the database");
}

std::string normalize_address(const std::string& a) {
  const auto at = a.rfind('@');
  if (at == std::string::npos) return a;
  return a.substr(0, at + 1) + text::to_lower(std::string_view(a).substr(at + 1));
}

std::vector<std::string> unique_recipients(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  out.reserve(in.size());
  for (const auto& r : in) {
    auto n = normalize_address(r);
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
  }
  return out;
}

QueuedMessage read_message(const SQLite::Statement& s) {
  QueuedMessage m;
  m.id = s.getColumn(0).getInt64();
  m.route = s.getColumn(1).getString();
  m.account = s.getColumn(2).getString();
  m.uidl = s.getColumn(3).getString();
  m.sender = s.getColumn(4).getString();
  m.spool_name = s.getColumn(5).getString();
  m.subject = s.getColumn(6).getString();
  m.message_id = s.getColumn(7).getString();
  m.size = from_db(s.getColumn(8).getInt64());
  m.state = msg_state_from(s.getColumn(9).getString());
  m.attempts = s.getColumn(10).getInt();
  m.created_at = s.getColumn(11).getInt64();
  m.next_attempt = s.getColumn(12).getInt64();
  m.last_reply = s.getColumn(13).getString();
  m.envid = s.getColumn(14).getString();
  m.ret = s.getColumn(15).getString();
  m.is_bounce = s.getColumn(16).getInt() != 0;
  m.auth_user = s.getColumn(17).getString();
  m.delay_notified = s.getColumn(18).getInt() != 0;
  return m;
}

}  // namespace rows
}  // namespace pb::queue
