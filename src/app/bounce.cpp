// DSN generation: who receives it (loop rules), what it says (mail::build_dsn), and queuing it
// like any other message on route "local".
#include "app/bounce.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>

#include "app/notice.hpp"
#include "app/route.hpp"
#include "mail/dsn.hpp"
#include "queue/spool.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace pb::app {

std::string read_header_block(const std::filesystem::path& spool_dir, const std::string& spool_name,
                              std::size_t max_bytes) {
  std::string head;
  try {
    queue::SpoolReader reader(spool_dir, spool_name);
    char buf[16384];
    while (head.size() < max_bytes) {
      std::size_t n = reader.read(buf, sizeof buf);
      if (n == 0) break;
      head.append(buf, n);
      auto end = head.find("\r\n\r\n");
      if (end != std::string::npos) {
        head.resize(end + 2);
        return head;
      }
    }
  } catch (const std::exception& e) {
    log::warn(std::string("cannot read the original headers for a bounce: ") + e.what());
  }
  if (head.size() > max_bytes) head.resize(max_bytes);
  return head;
}

namespace {

bool never_notify(const std::string& notify) { return text::to_upper(notify).find("NEVER") != std::string::npos; }

}  // namespace

queue::MessageId queue_bounce(Context& ctx, const queue::QueuedMessage& msg, const std::vector<BounceRecipient>& rcpts,
                              NoticeKind kind, const std::string& remote_host, const std::string& explanation) {
  const auto& cfg = *ctx.config;
  // Who gets it: the sender of relayed mail; the postmaster for fetched mail (its sender is out on
  // the internet and the office admin must act), for the null sender, and for a failed bounce.
  std::string to = msg.sender;
  bool to_postmaster = msg.sender.empty() || !msg.account.empty() || msg.is_bounce;
  if (to_postmaster) to = cfg.service.postmaster;
  if (msg.is_bounce && std::any_of(msg.recipients.begin(), msg.recipients.end(), [&](const queue::Recipient& r) {
        return text::iequals(r.address, cfg.service.postmaster);
      })) {
    log::error("a notice to the postmaster could not be delivered (message " + std::to_string(msg.id) +
               "); it is not bounced again");
    return 0;
  }
  mail::DsnInput in;
  in.reporting_mta = cfg.service.hostname;
  in.postmaster = "postmaster@" + cfg.service.hostname;
  in.to = to;
  in.envid = msg.envid;
  in.arrival = msg.created_at;
  in.now = Context::now();
  in.explanation = to_postmaster ? postmaster_explanation(cfg, msg, kind == NoticeKind::failed) : explanation;
  in.to_postmaster = to_postmaster;
  for (const auto& r : rcpts) {
    auto stored = std::find_if(msg.recipients.begin(), msg.recipients.end(),
                               [&](const queue::Recipient& q) { return text::iequals(q.address, r.address); });
    if (kind == NoticeKind::failed && stored != msg.recipients.end() && never_notify(stored->notify) && !to_postmaster)
      continue;  // RFC 3461 4.1: NOTIFY=NEVER
    mail::DsnRecipient d;
    d.original = r.orcpt.empty() && stored != msg.recipients.end() ? stored->orcpt : r.orcpt;
    d.final_recipient = r.address;
    d.action = kind == NoticeKind::failed ? "failed" : "delayed";
    d.status = r.status;
    d.remote_mta = remote_host;
    d.diagnostic = r.diagnostic;
    d.last_attempt = in.now;
    in.recipients.push_back(std::move(d));
  }
  if (in.recipients.empty()) return 0;
  in.original_headers = read_header_block(ctx.store.spool_dir(), msg.spool_name);

  queue::SpoolFile spool(ctx.store.spool_dir());
  spool.write(mail::build_dsn(in));
  queue::NewMessage m;
  m.route = kLocalRoute;
  m.sender = "";  // RFC 3464 2: DSNs use the null reverse-path
  m.recipients = {to};
  m.size = spool.size();
  m.subject = kind == NoticeKind::failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)";
  m.is_bounce = true;
  m.spool_name = spool.commit();
  auto id = ctx.store.enqueue(m, Context::now());
  if (ctx.on_queued) ctx.on_queued(kLocalRoute);
  std::string who;
  for (const auto& r : in.recipients) who += (who.empty() ? "" : ", ") + r.final_recipient;
  ctx.store.add_event({Context::now(), "bounce", msg.account, msg.route, msg.id, "", to, m.subject, m.size, 1,
                       kind == NoticeKind::failed ? "failed" : "delayed", who});
  log::notice("message " + std::to_string(msg.id) + ": " + (kind == NoticeKind::failed ? "bounce" : "delay notice") +
              " for " + who + " queued to " + to + " (message " + std::to_string(id) + ")");
  return id;
}

bool bounce_now(const config::Config& cfg, queue::Store& store, const queue::QueuedMessage& msg) {
  boost::asio::io_context io;  // Context wants an executor; nothing runs on it here
  Context ctx{io.get_executor(), store, std::make_shared<const config::Config>(cfg)};
  const std::string why = "returned by the administrator (postbridge queue bounce)";
  std::vector<queue::DeliveryResult> results;
  std::vector<BounceRecipient> rcpts;
  for (const auto& r : msg.recipients) {
    if (r.state != queue::RcptState::pending) continue;
    results.push_back({r.address, queue::RcptState::failed, why});
    rcpts.push_back({r.address, r.orcpt, "5.0.0", why + (msg.last_reply.empty() ? "" : "; last reply: " + msg.last_reply)});
  }
  if (results.empty()) return false;
  store.record_results(msg.id, results, why, msg.next_attempt);
  queue_bounce(ctx, msg, rcpts, NoticeKind::failed, "",
               "The administrator of the mail gateway returned this message; it was not delivered.\n"
               "Der Administrator des Mail-Gateways hat die Nachricht zurueckgeschickt; sie wurde nicht zugestellt.");
  return true;
}

}  // namespace pb::app
