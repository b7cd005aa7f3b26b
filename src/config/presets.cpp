// The provider preset table. Host names and ports are those of docs/migration.md ("Provider
// settings", taken from the providers' help pages named below, December 2026); a send limit is
// filled only where a provider page states a limit in messages, and is 0 (none) otherwise.
#include "config/presets.hpp"

#include <algorithm>

namespace pb::config {

std::optional<std::uint16_t> ServerPreset::port_for(TlsMode mode) const {
  std::uint16_t p = mode == TlsMode::implicit ? implicit_port
                    : mode == TlsMode::starttls ? starttls_port
                                                : 0;  // no provider here documents clear text
  if (p == 0) return std::nullopt;
  return p;
}

std::optional<TlsMode> ServerPreset::tls_for_port(std::uint16_t port) const {
  if (port != 0 && port == implicit_port) return TlsMode::implicit;
  if (port != 0 && port == starttls_port) return TlsMode::starttls;
  return std::nullopt;
}

namespace {

// POP3 over implicit TLS on 995 (RFC 8314 3.3): the only POP3 access every provider below
// documents; none documents STLS on 110.
constexpr ServerPreset pop3s(std::string_view host) { return {host, TlsMode::implicit, 995, 0}; }
// IMAP over implicit TLS on 993 (RFC 8314 3.3), from the same help pages as the POP3 host: the
// access every provider below documents; not all of them document STARTTLS on 143.
constexpr ServerPreset imaps(std::string_view host) { return {host, TlsMode::implicit, 993, 0}; }
// Submission on 465 (implicit TLS, RFC 8314 3.3) and 587 (STARTTLS, RFC 6409 3.1); implicit
// TLS first, as the providers' pages recommend "SSL/TLS" where they offer both.
constexpr ServerPreset submission_both(std::string_view host) {
  return {host, TlsMode::implicit, 465, 587};
}
// Submission on 587 with STARTTLS only.
constexpr ServerPreset submission_587(std::string_view host) {
  return {host, TlsMode::starttls, 0, 587};
}

std::vector<ProviderPreset> make_presets() {
  return {
      // STRATO FAQ "server names and ports for your e-mail program" (strato.de/faq/mail).
      // Limits: 0. STRATO restricts sending of new mailboxes for their first 14 days, but no
      // STRATO page found states a number of messages.
      {"strato", "Strato", pop3s("pop3.strato.de"), imaps("imap.strato.de"), submission_both("smtp.strato.de"), {}},
      // IONOS help "Server information for IMAP, POP3 and SMTP" (ionos.de/hilfe/e-mail).
      // Limit: IONOS help "What are the mass mailing limits?"
      // (ionos.com/help/email/general-topics/what-are-the-mass-mailing-limits): Mail Basic and
      // Mail Business, contract older than 30 days: 500 e-mails per hour (0-7 days: 50,
      // 8-14: 100, 15-30: 400; a new contract sets max_per_hour itself). No daily limit stated.
      {"ionos", "IONOS", pop3s("pop.ionos.de"), imaps("imap.ionos.de"), submission_both("smtp.ionos.de"), {500, 0}},
      // Telekom help "E-Mail-Programm einrichten: Serverdaten" (telekom.de/hilfe).
      // Limits: 0; no Telekom page found states a send limit for securesmtp.
      {"t-online", "T-Online", pop3s("securepop.t-online.de"), imaps("secureimap.t-online.de"),
       submission_both("securesmtp.t-online.de"), {}},
      // GMX help "POP3 and IMAP: settings for your e-mail program" (hilfe.gmx.net).
      // Limits: 0; no GMX page found states a send limit.
      {"gmx", "GMX", pop3s("pop.gmx.net"), imaps("imap.gmx.net"), submission_both("mail.gmx.net"), {}},
      // WEB.DE help "POP3/IMAP: settings for your e-mail program" (hilfe.web.de): SMTP on 587
      // with STARTTLS only. Limits: 0; no WEB.DE page found states a send limit.
      {"webde", "web.de", pop3s("pop3.web.de"), imaps("imap.web.de"), submission_587("smtp.web.de"), {}},
      // Google Gmail Help "Read Gmail messages on other email clients using POP"
      // (support.google.com/mail/answer/7104828): pop.gmail.com 995, smtp.gmail.com 465/587;
      // "Check Gmail through other email platforms" (answer/7126229): imap.gmail.com 993.
      // Limit: Google Workspace Admin Help "Gmail sending limits in Google Workspace"
      // (support.google.com/a/answer/166852): 2,000 messages per day, 500 for trial accounts,
      // counted over a rolling 24 hours (as max_per_day is). 500 is the lower of the two, because
      // going over suspends sending for up to 24 hours; a paid Workspace account sets
      // max_per_day = 2000. No hourly limit stated.
      {"gmail", "Gmail", pop3s("pop.gmail.com"), imaps("imap.gmail.com"), submission_both("smtp.gmail.com"), {0, 500}},
      // Microsoft Support "POP, IMAP, and SMTP settings for Outlook.com" (POP:
      // outlook.office365.com 995, IMAP: the same host, 993) and Microsoft Learn "How to set up a multifunction device or
      // application to send email using Microsoft 365" (SMTP AUTH client submission:
      // smtp.office365.com 587, STARTTLS). Limits: 0. Microsoft Learn "Exchange Online limits"
      // states 30 messages per minute and 10,000 recipients per day; neither is a message count
      // per hour or day, so neither fits max_per_hour / max_per_day. Going over them gets a
      // temporary refusal, which pauses the smarthost.
      {"microsoft365", "Microsoft 365", pop3s("outlook.office365.com"), imaps("outlook.office365.com"),
       submission_587("smtp.office365.com"), {}},
  };
}

}  // namespace

const std::vector<ProviderPreset>& provider_presets() {
  static const std::vector<ProviderPreset> presets = make_presets();
  return presets;
}

const ProviderPreset* find_provider(std::string_view name) {
  const auto& all = provider_presets();
  auto it = std::find_if(all.begin(), all.end(), [&](const ProviderPreset& p) { return p.name == name; });
  return it == all.end() ? nullptr : &*it;
}

std::vector<std::string_view> provider_names() {
  std::vector<std::string_view> names;
  for (const ProviderPreset& p : provider_presets()) names.push_back(p.name);
  return names;
}

}  // namespace pb::config
