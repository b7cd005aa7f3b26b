// DSN generation: who receives it (loop rules), what it says (mail::build_dsn), and queuing it
// like any other message on route "local".
#include "app/bounce.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>

#include "app/notice.hpp"
#include "endpoint/route.hpp"
#include "mail/dsn.hpp"
#include "queue/spool.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

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

// The whole spooled message when it is at most `limit` bytes, else empty.
std::string read_whole(const std::filesystem::path& spool_dir, const queue::QueuedMessage& msg, std::uint64_t limit) {
  if (msg.size > limit) return {};
  std::string whole;
  try {
    queue::SpoolReader reader(spool_dir, msg.spool_name);
    char buf[16384];
    while (whole.size() <= limit) {
      std::size_t n = reader.read(buf, sizeof buf);
      if (n == 0) return whole;
      whole.append(buf, n);
    }
  } catch (const std::exception& e) {
    log::warn(std::string("cannot read the original message for a bounce; its headers go instead: ") + e.what());
  }
  return {};
}

// RET=FULL (RFC 3461 4.3) asks for the whole message in a failure report; without RET, or with
// HDRS, the headers are enough: the sender has the message, and a report that carries large
// attachments back may not fit the mailbox it is for.
bool return_full(const queue::QueuedMessage& msg, NoticeKind kind) {
  return kind == NoticeKind::failed && text::iequals(msg.ret, "FULL");
}

const char* action_of(NoticeKind kind) {
  return kind == NoticeKind::failed ? "failed" : kind == NoticeKind::delayed ? "delayed" : "relayed";
}

// A relayed notice is good news: "ok", so the page does not list it among the problems.
queue::EventResult result_of(NoticeKind kind) {
  return kind == NoticeKind::failed    ? queue::EventResult::failed
         : kind == NoticeKind::delayed ? queue::EventResult::delayed
                                       : queue::EventResult::ok;
}

const char* notice_words(NoticeKind kind) {
  return kind == NoticeKind::failed ? "bounce" : kind == NoticeKind::delayed ? "delay notice" : "relayed notice";
}

}  // namespace

bool notify_requests(std::string_view notify, NoticeKind kind) {
  std::string_view t = text::trim(notify);
  if (t.empty()) return kind != NoticeKind::relayed;
  const std::string_view wanted = kind == NoticeKind::failed    ? "FAILURE"
                                  : kind == NoticeKind::delayed ? "DELAY"
                                                                : "SUCCESS";
  while (!t.empty()) {  // "NEVER" matches no kind
    std::size_t comma = t.find(',');
    if (text::iequals(text::trim(t.substr(0, comma)), wanted)) return true;
    t = comma == std::string_view::npos ? std::string_view{} : t.substr(comma + 1);
  }
  return false;
}

queue::MessageId queue_bounce(Context& ctx, const queue::QueuedMessage& msg, const std::vector<BounceRecipient>& rcpts,
                              NoticeKind kind, const std::string& remote_host, const std::string& explanation) {
  const auto& cfg = *ctx.config;
  // Who gets it: the sender of relayed mail; the postmaster for fetched mail (its sender is out on
  // the internet and the office admin must act), for the null sender, and for a failed bounce.
  std::string to = msg.sender;
  bool to_postmaster = msg.sender.empty() || !msg.account.empty() || msg.is_bounce;
  if (to_postmaster) to = cfg.service.postmaster;
  // A success notice goes to the sender who asked for it (RFC 3461 4.1), never to the postmaster.
  if (kind == NoticeKind::relayed && to_postmaster) return 0;
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
    bool asked = stored != msg.recipients.end() ? notify_requests(stored->notify, kind) : kind != NoticeKind::relayed;
    if (!asked && !to_postmaster) continue;  // RFC 3461 4.1: the sender's NOTIFY decides
    mail::DsnRecipient d;
    d.original = r.orcpt.empty() && stored != msg.recipients.end() ? stored->orcpt : r.orcpt;
    d.final_recipient = r.address;
    d.action = action_of(kind);
    d.status = r.status;
    d.remote_mta = remote_host;
    d.diagnostic = r.diagnostic;
    d.last_attempt = in.now;
    in.recipients.push_back(std::move(d));
  }
  if (in.recipients.empty()) return 0;
  in.original_headers = read_header_block(ctx.store.spool_dir(), msg.spool_name);
  if (return_full(msg, kind)) {
    in.original_message = read_whole(ctx.store.spool_dir(), msg, kReturnFullLimit);
    if (in.original_message.empty())
      in.explanation += "\n\nOnly the header of your message is attached: it is larger than " +
                        format_size({kReturnFullLimit}) + ".\nNur der Kopf Ihrer Nachricht ist angehängt: sie ist "
                        "größer als " + format_size({kReturnFullLimit}) + ".";
  }

  queue::SpoolFile spool(ctx.store.spool_dir());
  spool.write(mail::build_dsn(in));
  queue::NewMessage m;
  m.route = endpoint::kLocalRoute;
  m.sender = "";  // RFC 3464 2: DSNs use the null reverse-path
  m.recipients = {to};
  m.size = spool.size();
  m.subject = mail::report_subject(in);
  m.is_bounce = true;
  m.spool_name = spool.commit();
  auto id = ctx.store.queue().enqueue(m, Context::now());
  if (ctx.on_queued) ctx.on_queued(endpoint::kLocalRoute);
  std::string who;
  for (const auto& r : in.recipients) who += (who.empty() ? "" : ", ") + r.final_recipient;
  ctx.store.events().add(queue::Event::bounced(Context::now(), msg, to, m, result_of(kind), who));
  log::notice("message " + std::to_string(msg.id) + ": " + notice_words(kind) + " for " + who + " queued to " + to +
              " (message " + std::to_string(id) + ")");
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
  store.queue().record_results(msg.id, results, why, msg.next_attempt);
  queue_bounce(ctx, msg, rcpts, NoticeKind::failed, "",
               "The administrator of the mail gateway returned this message; it was not delivered.\n"
               "Der Administrator des Mail-Gateways hat die Nachricht zurueckgeschickt; sie wurde nicht zugestellt.");
  return true;
}

}  // namespace pb::app
