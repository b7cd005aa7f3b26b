// Postmaster notices: plain-text messages written to the spool like any fetched message, and the
// words that tell the postmaster (never a sender) what happened to which message and what to do.
#include "app/notice.hpp"

#include "mail/headers.hpp"
#include "queue/spool.hpp"
#include "util/display.hpp"
#include "util/log.hpp"

namespace pb::app {

namespace {

std::string to_header(const std::vector<std::string>& recipients) {
  std::string out;
  for (const auto& r : recipients) out += (out.empty() ? "<" : ", <") + r + ">";
  return out;
}

}  // namespace

void queue_notice(Context& ctx, const std::string& subject, const std::string& body) {
  const auto& cfg = *ctx.config;
  queue::NewMessage m;
  m.route = "local";
  m.subject = subject;
  auto queued = queue_mail(ctx, {cfg.service.postmaster}, subject, body);
  m.size = queued.size;
  ctx.store.events().add(queue::Event::notice_queued(Context::now(), queued.id, cfg.service.postmaster, m));
}

QueuedMail queue_mail(Context& ctx, const std::vector<std::string>& recipients, const std::string& subject,
                      const std::string& body, const std::string& route, const std::string& sender) {
  const auto& cfg = *ctx.config;
  auto now = Context::now();
  queue::SpoolFile spool(ctx.store.spool_dir());
  std::string msg;
  const std::string from = sender.empty() ? "MAILER-DAEMON@" + cfg.service.hostname : sender;
  msg += "From: postbridge <" + from + ">\r\n";
  msg += "To: " + to_header(recipients) + "\r\n";
  msg += "Subject: " + subject + "\r\n";
  msg += "Date: " + mail::rfc5322_date(now) + "\r\n";
  // The msg-id form the relay listener adds (a hostname from the config may hold characters a
  // msg-id must not, RFC 5322 3.6.4), marked "notice." so filters and tests tell postbridge's own.
  msg += "Message-ID: <notice." + mail::make_message_id(now, ctx.rng(), cfg.service.hostname).substr(1) + "\r\n";
  msg += "Auto-Submitted: auto-generated\r\n";
  msg += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  for (char c : body) {
    if (c == '\n') msg += "\r\n";
    else msg += c;
  }
  if (!msg.ends_with("\r\n")) msg += "\r\n";
  spool.write(msg);
  queue::NewMessage m;
  m.route = route;
  m.sender = sender;
  m.recipients = recipients;
  m.size = spool.size();
  m.subject = subject;
  m.spool_name = spool.commit();
  auto id = ctx.store.queue().enqueue(m, now);
  if (ctx.on_queued) ctx.on_queued(m.route);
  log::notice("notice to " + to_header(recipients) + " queued: " + subject);
  return {id, m.size};
}

std::string mailbox_words(const config::Config& cfg, const std::string& account) {
  const config::Account* a = cfg.find_account(account);
  if (!a) return "the account " + account + " (no longer configured)";
  return "the mailbox " + a->username + " at " + a->host + " (account " + a->name + ")";
}

namespace {

// "a message from anna@example.org (Subject "Offer", Message-ID <x@y>)"; header values escaped.
std::string message_words(const queue::QueuedMessage& msg) {
  std::string out = "a message from " + (msg.sender.empty() ? std::string("the null sender <> (a bounce or an "
                                                                          "automatic reply)")
                                                               : display::safe(msg.sender, 200));
  std::string about;
  if (!msg.subject.empty()) about = "Subject \"" + display::safe(msg.subject, 200) + "\"";
  if (!msg.message_id.empty())
    about += (about.empty() ? "" : ", ") + std::string("Message-ID ") + display::safe(msg.message_id, 200);
  return about.empty() ? out : out + " (" + about + ")";
}

std::string kept_words(const config::Config& cfg, const std::string& id) {
  const std::string command = "postbridge queue -c " + cfg.file.string();
  return "It could not be delivered to the recipients below. It is not lost: postbridge keeps it as message " + id +
         " in its queue. Fix the cause below, then deliver it with\n  " + command + " retry " + id +
         "\nor drop it with\n  " + command + " delete " + id;
}

std::string kept_words_de(const std::string& id) {
  return "Sie konnte an die folgenden Empfänger nicht zugestellt werden. postbridge bewahrt sie als Nachricht " + id +
         " auf: beheben Sie die Ursache und stellen Sie sie mit \"postbridge queue retry " + id +
         "\" erneut zu (oder löschen Sie sie mit \"postbridge queue delete " + id + "\").";
}

}  // namespace

std::string postmaster_explanation(const config::Config& cfg, const queue::QueuedMessage& msg, bool failed) {
  const std::string id = std::to_string(msg.id);
  std::string en = "To the postmaster: postbridge ";
  std::string de = "An den Postmaster: postbridge hat eine Nachricht ";
  if (!msg.account.empty()) {
    en += "fetched " + message_words(msg) + " from " + mailbox_words(cfg, msg.account) + ". ";
    de += "aus dem Konto " + msg.account + " abgeholt. ";
  } else {
    en += "accepted " + message_words(msg) + ". ";
    de += "angenommen. ";
  }
  if (failed) {
    en += kept_words(cfg, id);
    de += kept_words_de(id);
  } else {
    en += "It has not been delivered yet to the recipients below; postbridge keeps trying (message " + id +
          " in its queue: postbridge queue -c " + cfg.file.string() + " shows it).";
    de += "Sie wurde an die folgenden Empfänger noch nicht zugestellt; postbridge versucht es weiter (Nachricht " +
          id + " in der Warteschlange).";
  }
  return en + "\n\n" + de;
}

}  // namespace pb::app
