// Notices from postbridge to the postmaster (e.g. "a message is too large to fetch"): ordinary
// queued messages on route "local" with the null sender, so they can never bounce back in a loop.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "app/context.hpp"

namespace pb::app {

// Builds an RFC 5322 message (Auto-Submitted: auto-generated, RFC 3834 5) and queues it durably.
void queue_notice(Context& ctx, const std::string& subject, const std::string& body);
// The same to `recipients`, without an event of its own (the caller logs what it means, e.g. an
// alert); returns the queue id and size. `route` and `sender`: another way out than the office
// server (an alert through a smarthost), with a sender the smarthost takes, also in From.
struct QueuedMail {
  queue::MessageId id = 0;
  std::uint64_t size = 0;
};
QueuedMail queue_mail(Context& ctx, const std::vector<std::string>& recipients, const std::string& subject,
                      const std::string& body, const std::string& route = "local", const std::string& sender = "");

// The first paragraphs of a DSN that goes to the postmaster rather than to a sender (fetched
// mail, the null sender, a failed bounce), in English and German: which message, from which
// mailbox, where it is now and the commands that deliver or drop it. `failed`: a failure notice,
// else a delay notice.
std::string postmaster_explanation(const config::Config& cfg, const queue::QueuedMessage& msg, bool failed);

// "the mailbox info@example.net at pop.example.net (account info)"; the account's name alone
// when it is no longer configured.
std::string mailbox_words(const config::Config& cfg, const std::string& account);

}  // namespace pb::app
