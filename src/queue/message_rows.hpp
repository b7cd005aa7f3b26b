// How a message row reads and writes: state words, address normalization and the column list
// shared by the queue's SELECTs. Internal to src/queue/.
#pragma once
#include <SQLiteCpp/SQLiteCpp.h>

#include <string>
#include <vector>

#include "queue/message.hpp"

namespace pb::queue::rows {

MsgState msg_state_from(const std::string& s);
RcptState rcpt_state_from(const std::string& s);
// Recipients compare equal when they differ only in the domain's case: domains are
// case-insensitive, local parts are the receiving server's business (RFC 5321 2.4).
std::string normalize_address(const std::string& a);
std::vector<std::string> unique_recipients(const std::vector<std::string>& in);

// The columns read_message() expects, in its order; pasted into the SELECTs at compile time so
// each statement stays a literal (the statement cache keys on it).
#define PB_MESSAGE_COLUMNS                                                                     \
  "id, route, account, uidl, sender, spool_name, subject, message_id, size, state, attempts, " \
  "created_at, next_attempt, last_reply, envid, ret, is_bounce, auth_user, delay_notified"

QueuedMessage read_message(const SQLite::Statement& s);

}  // namespace pb::queue::rows
