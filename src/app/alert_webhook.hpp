// The alert webhook ([alerts] webhook_url): the same alerts as the mail, POSTed as JSON to the
// admin's push service, so they arrive even when the office server is the problem. Sent on the
// service's executor beside the mail path, never in its way: a failing webhook is retried with
// backoff, then logged in plain words and given up. The token goes in a header and nowhere else.
#pragma once
#include <string>
#include <vector>

#include "alerts/tracker.hpp"
#include "app/context.hpp"

namespace pb::app {

// One HTTP request: what to POST (pure, for tests).
struct WebhookPost {
  std::string body;  // JSON
  std::string what;  // "the alert about mailbox alice" for the log
};

// The bodies for alerts that fired together. json: one per alert, our own fields {problem,
// condition, object, since, words, fix, kind, host}; ntfy and gotify: one push for them all
// (the phone buzzes once), titled like the mail's subject.
// `titles[i]` and `subject` are the mail's words for fired[i] and for them all.
std::vector<WebhookPost> webhook_posts(const config::Config& cfg, const std::vector<alerts::Alert>& fired,
                                       const std::vector<std::string>& titles, const std::string& subject,
                                       const std::string& message);

// "2026-12-07T21:29:35Z"
std::string rfc3339(std::int64_t unix_time);

// Sends `posts` in the background (up to 4 tries each: at once, after 10 s, 1 min and 5 min;
// 20 s per try), logging each outcome. Returns at once.
void send_webhook(Context& ctx, std::vector<WebhookPost> posts);

}  // namespace pb::app
