// The daily report's words (see daily_report.hpp). German and English side by side in one table
// per phrase, so a sentence added in one language cannot be forgotten in the other.
#include "alerts/daily_report.hpp"

#include <algorithm>

namespace pb::alerts {

namespace {

struct Words {
  const char *subject, *for_day, *today_until, *mailboxes, *no_mailboxes, *routes, *no_routes, *fetched, *sent,
      *bounced, *problems, *no_problems, *open_for, *fix, *queue, *queue_empty, *waiting, *oldest, *last_reply,
      *footer;
};

constexpr Words kEnglish{
    "postbridge daily report",
    "Report for",
    "today until",
    "Mailboxes (fetched by POP3):",
    "  no mailboxes are configured",
    "Routes (accepted by the next hop):",
    "  no mail went out",
    "fetched",
    "sent",
    "bounced",
    "Open problems:",
    "  none",
    "for",
    "What to do:",
    "Queue:",
    "  empty: every message has left",
    "message(s) wait",
    "the oldest, on route",
    "last reply:",
    "The status page shows the current state. This report comes every day ([alerts] daily_report in ",
};

constexpr Words kGerman{
    "postbridge Tagesbericht",
    "Bericht für",
    "heute bis",
    "Postfächer (per POP3 abgeholt):",
    "  keine Postfächer eingerichtet",
    "Wege (vom nächsten Server angenommen):",
    "  keine Mail ausgegangen",
    "abgeholt",
    "gesendet",
    "unzustellbar",
    "Offene Probleme:",
    "  keine",
    "seit",
    "Was zu tun ist:",
    "Warteschlange:",
    "  leer: jede Nachricht ist zugestellt",
    "Nachricht(en) warten",
    "die älteste, auf Weg",
    "letzte Antwort:",
    "Die Statusseite zeigt den aktuellen Stand. Dieser Bericht kommt täglich ([alerts] daily_report in ",
};

const Words& words(Language l) { return l == Language::de ? kGerman : kEnglish; }

std::string condition_words(Condition c, Language l) {
  const bool de = l == Language::de;
  switch (c) {
    case Condition::mailbox_login: return de ? "Anmeldung am Postfach abgelehnt" : "mailbox login refused";
    case Condition::mailbox_unreachable: return de ? "Postfach nicht erreichbar" : "mailbox cannot be reached";
    case Condition::smarthost_paused: return de ? "Versand über Smarthost angehalten" : "smarthost paused";
    case Condition::queued_long: return de ? "Mail wartet lange in der Warteschlange" : "mail waits long in the queue";
    case Condition::unclean_restart: return de ? "Neustart nach einem Absturz" : "restart after an unclean stop";
    case Condition::smarthost_limited: return de ? "Sendelimit des Smarthosts erreicht" : "smarthost at its send limit";
    case Condition::disk_low: return de ? "Zu wenig freier Speicher im Statusordner" : "state disk low on space";
    case Condition::reload_failed: return de ? "Neu geladene Konfiguration fehlerhaft" : "config reload failed";
    case Condition::oauth_signin: return de ? "OAuth-Anmeldung nötig" : "OAuth sign-in needed";
    case Condition::oauth_expiring: return de ? "OAuth-Anmeldung läuft bald ab" : "OAuth sign-in ends soon";
    case Condition::certificate: return de ? "Zertifikat des Anbieters läuft ab oder ist ungültig" : "provider certificate expiring or failing";
  }
  return std::string(to_string(c));
}

// "3 days", "5 hours", "12 minutes": rounded down to the largest unit, as a person says it.
std::string age(std::int64_t seconds, Language l) {
  const bool de = l == Language::de;
  seconds = std::max<std::int64_t>(seconds, 0);
  auto say = [&](std::int64_t n, const char* en1, const char* en, const char* de1, const char* den) {
    return std::to_string(n) + " " + (de ? (n == 1 ? de1 : den) : (n == 1 ? en1 : en));
  };
  if (seconds >= 86400) return say(seconds / 86400, "day", "days", "Tag", "Tagen");
  if (seconds >= 3600) return say(seconds / 3600, "hour", "hours", "Stunde", "Stunden");
  return say(seconds / 60, "minute", "minutes", "Minute", "Minuten");
}

std::string counts(const ReportLine& r, const Words& w, bool mailbox) {
  std::string out = "  " + r.name + ": ";
  if (mailbox) out += std::to_string(r.fetched) + " " + w.fetched;
  else out += std::to_string(r.sent) + " " + w.sent;
  return out + ", " + std::to_string(r.bounced) + " " + w.bounced + "\n";
}

std::int64_t total(const std::vector<ReportLine>& lines, std::int64_t ReportLine::*field) {
  std::int64_t n = 0;
  for (const auto& l : lines) n += l.*field;
  return n;
}

std::string problems(const ReportInput& in, const Words& w, Language l) {
  std::string out = std::string(w.problems) + "\n";
  bool any = false;
  for (const auto& o : in.open) {
    if (o.raised_at == 0) continue;  // within its grace time: not told by mail either
    any = true;
    out += "- " + condition_words(o.condition, l) + ": " + o.object;
    if (!one_shot(o.condition)) out += " (" + std::string(w.open_for) + " " + age(in.now - o.since, l) + ")";
    out += "\n  " + o.words + "\n";
    if (!o.fix.empty()) out += "  " + std::string(w.fix) + " " + o.fix + "\n";
  }
  return any ? out : out + w.no_problems + "\n";
}

std::string queue_words(const ReportInput& in, const Words& w, Language l) {
  std::string out = std::string(w.queue) + "\n";
  if (in.queued == 0 || !in.oldest) return out + w.queue_empty + "\n";
  out += "  " + std::to_string(in.queued) + " " + w.waiting + "; " + w.oldest + " " + in.oldest->route + ", " +
         w.open_for + " " + age(in.now - in.oldest->created_at, l);
  if (!in.oldest->last_reply.empty()) out += "; " + std::string(w.last_reply) + " " + in.oldest->last_reply;
  return out + "\n";
}

}  // namespace

ReportMail daily_report(const ReportInput& in, Language lang) {
  const Words& w = words(lang);
  const std::int64_t fetched = total(in.mailboxes, &ReportLine::fetched);
  const std::int64_t sent = total(in.routes, &ReportLine::sent);
  const std::int64_t bounced = total(in.routes, &ReportLine::bounced);
  const auto told = std::count_if(in.open.begin(), in.open.end(), [](const Open& o) { return o.raised_at != 0; });
  const bool de = lang == Language::de;
  const std::string period = in.day + (in.until.empty() ? "" : " (" + std::string(w.today_until) + " " + in.until + ")");

  ReportMail m;
  m.subject = std::string(w.subject) + " " + in.hostname + ", " + period + ": " + std::to_string(fetched) + " " +
              w.fetched + ", " + std::to_string(sent) + " " + w.sent + ", " + std::to_string(bounced) + " " +
              w.bounced + ", " + std::to_string(told) + " " +
              (de ? (told == 1 ? "offenes Problem" : "offene Probleme") : (told == 1 ? "open problem" : "open problems"));
  m.body = std::string(w.for_day) + " " + in.hostname + ", " + period + "\n\n";
  m.body += std::string(w.mailboxes) + "\n";
  if (in.mailboxes.empty()) m.body += std::string(w.no_mailboxes) + "\n";
  for (const auto& r : in.mailboxes) m.body += counts(r, w, true);
  m.body += "\n" + std::string(w.routes) + "\n";
  if (in.routes.empty()) m.body += std::string(w.no_routes) + "\n";
  for (const auto& r : in.routes) m.body += counts(r, w, false);
  m.body += "\n" + problems(in, w, lang) + "\n" + queue_words(in, w, lang) + "\n";
  m.body += "--\n" + std::string(w.footer) + in.config_file + ").\n";
  return m;
}

}  // namespace pb::alerts
