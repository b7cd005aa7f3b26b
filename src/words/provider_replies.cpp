// The providers' replies as one ordered table (first match wins): codes and stable tokens (enhanced
// status codes, AADSTS numbers) before words, words before the host; each entry quotes its reply.
#include "words/provider_replies.hpp"

#include <array>

#include "util/text.hpp"

namespace pb::words {

namespace {

enum Kind : unsigned { smtp = 1, pop3 = 2, oauth = 4 };

// Who runs the server, from its name: the same words mean different things at different providers.
enum class Provider { any, gmx, t_online, ionos, strato };

struct Entry {
  unsigned kinds;
  Provider provider;
  int code;                  // SMTP reply code; 0: any
  std::string_view status;   // SMTP enhanced code ("5.7.139") or OAuth error ("invalid_grant"); "": any
  std::string_view token;    // lower-case words that must appear in the text; "": any
  std::string_view problem;  // "": recognised, and not a failure to show
  std::string_view fix;
};

constexpr std::string_view kMsOAuthSmtp =
    "switch this smarthost to OAuth ([smarthost.oauth2], then postbridge oauth login); until then an admin can "
    "allow SMTP AUTH for this mailbox (Microsoft 365 admin center: Active users, Mail, Manage email apps, "
    "Authenticated SMTP). Microsoft switches Basic Auth for SMTP AUTH off by default for existing tenants at the "
    "end of December 2026, so OAuth is the lasting fix";
constexpr std::string_view kMsTenantBlock =
    "nothing is bounced: the mail waits in the queue and postbridge retries. An admin of the tenant checks "
    "Microsoft Defender (Email & collaboration, Review, Restricted entities) for a blocked or compromised account "
    "and asks Microsoft support to lift the block";
// Providers whose refusal says nothing specific: explained by who runs the server, for a refused
// login only (a POP3 login, an SMTP 535: RFC 4954 6).
constexpr std::string_view kGmxProblem =
    "{host} refused the login: either access by mail programs (POP3/IMAP/SMTP) is switched off for this "
    "account, or the password is wrong";
constexpr std::string_view kTOnlineProblem =
    "{host} refused the login: T-Online mail programs need the separate e-mail password (E-Mail-Passwort), not "
    "the password of the Telekom login";
constexpr std::string_view kIonosProblem =
    "{host} refused the login: the mailbox password is wrong, or IONOS has blocked the mailbox";
constexpr std::string_view kIonosFix =
    "check the mailbox's own password in the IONOS control panel (E-Mail, the mailbox; not the customer login) "
    "and put it in password_file; a blocked mailbox is shown there, and support unblocks it";
constexpr std::string_view kStratoProblem =
    "{host} refused the login: the mailbox password is wrong, or Strato has blocked the mailbox";
constexpr std::string_view kStratoFix =
    "check the mailbox's own password in the Strato customer login (E-Mail, Verwaltung; not the customer "
    "password) and put it in password_file; a blocked mailbox is shown there, and support unblocks it";
constexpr std::string_view kGmxFix =
    "sign in on the provider's website, open the e-mail settings, POP3/IMAP, and allow access by POP3 and IMAP "
    "(it is off by default and is switched off again after a long time unused); if it is on, check the password "
    "in password_file";
constexpr std::string_view kTOnlineFix =
    "set an e-mail password in the Telekom customer centre (Kundencenter, Passwörter, E-Mail-Passwort) and put "
    "that one in password_file; the user name is the full t-online.de address";

using enum Provider;

constexpr std::array kTable = {
    // --- Microsoft 365, SMTP AUTH (smtp.office365.com) ----------------------------------------
    // "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."
    Entry{smtp, any, 0, "5.7.139", "smtpclientauthentication is disabled for the tenant",
          "Microsoft 365 has SMTP AUTH switched off for the whole tenant, so {host} refuses every password login",
          kMsOAuthSmtp},
    // "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy."
    Entry{smtp, any, 0, "5.7.139", "security defaults",
          "the tenant's security defaults block password logins at {host} (they switch off SMTP AUTH)",
          "switch this smarthost to OAuth ([smarthost.oauth2], then postbridge oauth login), or an admin replaces "
          "security defaults with Conditional Access policies that let this mailbox use SMTP AUTH"},
    // "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
    Entry{smtp, any, 0, "5.7.139", "basic authentication is disabled",
          "Microsoft 365 no longer accepts a password (Basic Auth) for SMTP AUTH from this account at {host}",
          kMsOAuthSmtp},
    // Any other 5.7.139 ("SmtpClientAuthentication is disabled for the Mailbox", "the request did not
    // meet the criteria to be authenticated successfully"): SMTP AUTH is off for this mailbox.
    Entry{smtp, any, 0, "5.7.139", "",
          "Microsoft 365 does not allow SMTP AUTH with a password for this mailbox at {host}", kMsOAuthSmtp},
    // "550 5.7.30 Basic authentication is not supported for Client Submission."
    Entry{smtp, any, 0, "5.7.30", "",
          "Microsoft 365 has ended password logins (Basic Auth) for sending through {host}",
          "switch this smarthost to OAuth: set [smarthost.oauth2] and run postbridge oauth login"},
    // "535 5.7.3 Authentication unsuccessful"
    Entry{smtp, any, 535, "5.7.3", "",
          "{host} did not accept this user name and password",
          "check username (the full address) and the password in password_file; an account with multi-factor "
          "sign-in needs an app password, or better OAuth ([smarthost.oauth2])"},
    // "550 5.7.705 Access denied, tenant has exceeded threshold."
    Entry{smtp, any, 0, "5.7.705", "",
          "Microsoft has blocked sending for the whole tenant at {host} (it sent too much spam or bulk mail, or "
          "its subscription was renewed after it expired)",
          kMsTenantBlock},
    // "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP."
    Entry{smtp, any, 0, "5.7.708", "",
          "Microsoft does not accept mail from the tenant's sending address at {host} (common for new or trial "
          "tenants, or after spam)",
          kMsTenantBlock},
    // 5.7.233 (wording not confirmed): the tenant's sending limit or a review of the tenant.
    Entry{smtp, any, 0, "5.7.233", "",
          "Microsoft has limited sending for this tenant at {host} (a sending limit was exceeded or the tenant is "
          "under review)",
          kMsTenantBlock},
    // "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; ..."
    Entry{smtp, any, 0, "", "sendasdenied",
          "{host} does not let this account send as the message's sender address",
          "give the login mailbox Send As permission for that address (Exchange admin center: the address's "
          "mailbox, Delegation, Send As), or set rewrite_sender and rewrite_from_header to the login address"},

    // --- Gmail (smtp.gmail.com, pop.gmail.com) ------------------------------------------------
    // "534-5.7.9 Application-specific password required." / "-ERR [AUTH] Application-specific password required"
    Entry{smtp | pop3, any, 0, "", "application-specific password required",
          "{host} wants an app password: this Google account has 2-Step Verification, so the account password "
          "is refused",
          "create an app password (Google account, Security, 2-Step Verification, App passwords) and put it in "
          "password_file, or use OAuth"},
    // "535-5.7.8 Username and Password not accepted."
    Entry{smtp | pop3, any, 0, "", "username and password not accepted",
          "{host} did not accept this user name and password",
          "check username (the full Gmail address) and password_file; with 2-Step Verification an app password "
          "is needed (Google account, Security, App passwords)"},
    // "-ERR [AUTH] Web login required"
    Entry{pop3, any, 0, "", "web login required",
          "Google has locked mail-program logins for this account at {host} until someone signs in with a web "
          "browser",
          "sign in at mail.google.com once from a browser (confirm it was you), then switch to an app password or "
          "OAuth so it does not happen again"},

    // --- Microsoft 365 / Outlook.com POP3 ---------------------------------------------------
    // "-ERR Logon failure: unknown user name or bad password." (a password login, USER/PASS)
    Entry{pop3, any, 0, "", "logon failure: unknown user name or bad password",
          "{host} refused the password login: Microsoft has switched Basic Auth for POP and IMAP off, so even "
          "the right password is refused",
          "set [account.oauth2] for this account and run postbridge oauth login (the mailbox also needs POP "
          "access allowed by its admin)"},
    // "-ERR Authentication failure: unknown user name or bad password." (seen after AUTH XOAUTH2)
    Entry{pop3, any, 0, "", "authentication failure: unknown user name or bad password",
          "{host} refused the login: with OAuth this means the token is not valid for this mailbox",
          "check that username is the mailbox the sign-in was made for, that the app has the POP scope "
          "(https://outlook.office.com/POP.AccessAsUser.All) and that POP is allowed for the mailbox; then "
          "postbridge oauth login again"},

    // --- GMX / WEB.DE ----------------------------------------------------------------------------
    // POP3 "-ERR authentication failed", SMTP "535 Authentication credentials invalid": the same
    // answer whether the password is wrong or POP3/IMAP/SMTP access is switched off.
    Entry{pop3, gmx, 0, "", "", kGmxProblem, kGmxFix},
    Entry{smtp, gmx, 535, "", "", kGmxProblem, kGmxFix},
    // --- T-Online (securepop / securesmtp.t-online.de) ------------------------------------------
    Entry{pop3, t_online, 0, "", "", kTOnlineProblem, kTOnlineFix},
    Entry{smtp, t_online, 535, "", "", kTOnlineProblem, kTOnlineFix},
    // --- IONOS, Strato -----------------------------------------------------------------------------
    Entry{pop3, ionos, 0, "", "", kIonosProblem, kIonosFix},
    Entry{smtp, ionos, 535, "", "", kIonosProblem, kIonosFix},
    Entry{pop3, strato, 0, "", "", kStratoProblem, kStratoFix},
    Entry{smtp, strato, 535, "", "", kStratoProblem, kStratoFix},

    // --- OAuth token endpoints: Microsoft identity platform (AADSTS numbers) -----------------------
    // "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending." — a state, not a failure.
    Entry{oauth, any, 0, "", "aadsts70016", "", ""},
    Entry{oauth, any, 0, "", "aadsts65001",
          "Microsoft says nobody has consented to this app's permissions in the tenant",
          "an admin grants consent for the app (Microsoft Entra admin center, App registrations, the app, API "
          "permissions, Grant admin consent), then postbridge oauth login again"},
    Entry{oauth, any, 0, "", "aadsts50076",
          "Microsoft requires multi-factor sign-in for this account",
          "run postbridge oauth login again and complete the multi-factor step in the browser"},
    Entry{oauth, any, 0, "", "aadsts50079",
          "Microsoft requires multi-factor sign-in for this account, and it has to be set up (enrolled) first",
          "sign in once at https://aka.ms/mfasetup to set up multi-factor sign-in, then postbridge oauth login "
          "again"},
    Entry{oauth, any, 0, "", "aadsts7000215",
          "Microsoft did not accept the client secret (a wrong value, the secret's ID instead of its value, or an "
          "expired secret)",
          "create a new client secret (App registrations, the app, Certificates & secrets), put its Value in "
          "client_secret and reload"},
    Entry{oauth, any, 0, "", "aadsts700082",
          "the sign-in expired because it was not used for 90 days",
          "sign in again: postbridge oauth login"},
    Entry{oauth, any, 0, "", "aadsts700084",
          "Microsoft issued this sign-in with a fixed short lifetime, and it has expired (the app is registered "
          "as a single-page app)",
          "register the app as \"Mobile and desktop applications\" (public client) instead, then postbridge "
          "oauth login again"},
    Entry{oauth, any, 0, "", "aadsts50126",
          "Microsoft did not accept the user name or password given at the sign-in",
          "run postbridge oauth login again with the mailbox's address and its current password"},
    Entry{oauth, any, 0, "", "aadsts53003",
          "a Conditional Access policy of the tenant blocked this sign-in (many tenants block the device-code "
          "sign-in)",
          "sign in with the browser instead of the device code (postbridge oauth login --browser, or the status "
          "page's sign-in), or ask the tenant's admin to exempt this app or location"},
    // --- Google ------------------------------------------------------------------------------------
    // {"error": "invalid_scope", "error_description": "Invalid device flow scope: https://mail.google.com/"}
    Entry{oauth, any, 0, "invalid_scope", "device flow scope",
          "Google's device sign-in does not allow the mail scope (https://mail.google.com/)",
          "sign in with the browser instead: postbridge oauth login --browser (or the status page's sign-in), "
          "with an OAuth client of type \"Desktop app\""},
    // {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    Entry{oauth, any, 0, "invalid_grant", "token has been expired or revoked",
          "Google ended this sign-in: it was revoked, the password changed, or the app is still in \"Testing\" "
          "status, where sign-ins expire after 7 days",
          "publish the app (Google Cloud console, OAuth consent screen, Publish app) so sign-ins last, then "
          "postbridge oauth login again"},
};

bool contains(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  for (std::size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1)) {
    // A token ending in a digit (an AADSTS number) must not run on into more digits.
    std::size_t end = at + needle.size();
    bool digit_token = needle.back() >= '0' && needle.back() <= '9';
    if (!digit_token || end == haystack.size() || haystack[end] < '0' || haystack[end] > '9') return true;
  }
  return false;
}

Provider provider_of(std::string_view host) {
  const std::string h = text::to_lower(host);
  const auto ends = [&](std::string_view domain) { return h == domain || h.ends_with("." + std::string(domain)); };
  if (ends("gmx.net") || ends("gmx.de") || ends("gmx.com") || ends("web.de")) return Provider::gmx;
  if (ends("t-online.de")) return Provider::t_online;
  if (ends("ionos.de") || ends("ionos.com") || ends("1und1.de") || ends("1and1.com")) return Provider::ionos;
  if (ends("strato.de") || ends("strato.com")) return Provider::strato;
  return Provider::any;
}

std::string filled(std::string_view words, std::string_view host) {
  const std::string name = host.empty() ? std::string("the provider's server") : std::string(host);
  std::string out(words);
  for (auto at = out.find("{host}"); at != std::string::npos; at = out.find("{host}", at + name.size()))
    out.replace(at, 6, name);
  return out;
}

// The first entry that matches. `status` is the SMTP enhanced code or the OAuth error; a status
// an SMTP server sent only in its text (no ENHANCEDSTATUSCODES parse) counts too.
std::optional<Explanation> lookup(Kind kind, int code, std::string_view status, std::string_view text,
                                  std::string_view host) {
  const std::string lower = text::to_lower(text);
  const Provider provider = provider_of(host);
  for (const Entry& e : kTable) {
    if ((e.kinds & kind) == 0) continue;
    if (e.provider != Provider::any && e.provider != provider) continue;
    if (e.code != 0 && e.code != code) continue;
    if (!e.status.empty() && status != e.status && !(kind == smtp && status.empty() && contains(lower, e.status)))
      continue;
    if (!contains(lower, e.token)) continue;
    if (e.problem.empty()) return std::nullopt;
    return Explanation{filled(e.problem, host), filled(e.fix, host)};
  }
  return std::nullopt;
}

}  // namespace

std::string one_line(const Explanation& e) { return e.problem + ": " + e.fix; }

std::optional<Explanation> explain_smtp(int code, std::string_view enhanced, std::string_view text,
                                        std::string_view host) {
  if (code < 400 || code > 599) return std::nullopt;  // RFC 5321 4.2.1: only 4yz/5yz refuse
  return lookup(smtp, code, enhanced, text, host);
}

std::optional<Explanation> explain_pop3(std::string_view text, std::string_view host) {
  return lookup(pop3, 0, {}, text, host);
}

std::optional<Explanation> explain_oauth(std::string_view error, std::string_view description) {
  return lookup(oauth, 0, error, description, {});
}

}  // namespace pb::words
