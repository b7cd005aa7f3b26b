// Postmaster notices: plain-text messages written to the spool like any fetched message.
#include "app/notice.hpp"

#include "mail/headers.hpp"
#include "queue/spool.hpp"
#include "util/log.hpp"

namespace pb::app {

void queue_notice(Context& ctx, const std::string& subject, const std::string& body) {
  const auto& cfg = *ctx.config;
  auto now = Context::now();
  queue::SpoolFile spool(ctx.store.spool_dir());
  std::string msg;
  msg += "From: postbridge <MAILER-DAEMON@" + cfg.service.hostname + ">\r\n";
  msg += "To: <" + cfg.service.postmaster + ">\r\n";
  msg += "Subject: " + subject + "\r\n";
  msg += "Date: " + mail::rfc5322_date(now) + "\r\n";
  msg += "Message-ID: <notice." + std::to_string(now) + "." + std::to_string(ctx.rng() % 1000000000) + "@" +
         cfg.service.hostname + ">\r\n";
  msg += "Auto-Submitted: auto-generated\r\n";
  msg += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  for (char c : body) {
    if (c == '\n') msg += "\r\n";
    else msg += c;
  }
  if (!msg.ends_with("\r\n")) msg += "\r\n";
  spool.write(msg);
  queue::NewMessage m;
  m.route = "local";
  m.sender = "";
  m.recipients = {cfg.service.postmaster};
  m.size = spool.size();
  m.subject = subject;
  m.spool_name = spool.commit();
  auto id = ctx.store.enqueue(m, now);
  if (ctx.on_queued) ctx.on_queued(m.route);
  ctx.store.add_event({now, "notice", "", "local", id, "", cfg.service.postmaster, subject, m.size, 1, "queued", ""});
  log::notice("notice to " + cfg.service.postmaster + " queued: " + subject);
}

}  // namespace pb::app
