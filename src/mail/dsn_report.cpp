// The RFC 6522 multipart/report that carries a DSN: the human-readable part, the RFC 3464
// delivery-status fields and the returned original; plus the bounce test that keeps reports from
// answering reports (RFC 3464 2, RFC 3834 2).
#include <optional>
#include <string>
#include <vector>

#include "mail/dsn.hpp"
#include "mail/dsn_fields.hpp"
#include "mail/headers.hpp"
#include "util/text.hpp"

namespace pb::mail {

using namespace dsn_fields;

namespace {


std::string delivery_status(const DsnInput& in) {
  std::string out;
  out += fold_field("Reporting-MTA", "dns; " + seven_bit(clean(in.reporting_mta)));
  if (std::string envid = seven_bit(clean(in.envid)); !envid.empty())
    out += fold_field("Original-Envelope-Id", envid);
  if (in.arrival != 0) out += fold_field("Arrival-Date", rfc5322_date(in.arrival));
  for (const DsnRecipient& r : in.recipients) {
    out += "\r\n";  // RFC 3464 2.1: groups of fields are separated by an empty line
    if (std::string orig = original_recipient(r); !orig.empty()) out += fold_field("Original-Recipient", orig);
    out += fold_field("Final-Recipient", address_value(r.final_recipient));
    out += fold_field("Action", action_of(r));
    out += fold_field("Status", status_of(r));
    if (std::string mta = seven_bit(clean(r.remote_mta)); !mta.empty()) out += fold_field("Remote-MTA", "dns; " + mta);
    std::vector<std::string> diag = diagnostic_lines(r.diagnostic);
    if (!diag.empty()) {
      for (std::string& line : diag) line = seven_bit(line);
      diag.front().insert(0, is_smtp_reply(diag.front()) ? "smtp; " : "X-Postbridge; ");
      out += fold_field("Diagnostic-Code", diag);
    }
    if (r.last_attempt != 0) out += fold_field("Last-Attempt-Date", rfc5322_date(r.last_attempt));
    if (is_delayed(r) && r.will_retry_until != 0) out += fold_field("Will-Retry-Until", rfc5322_date(r.will_retry_until));
  }
  return out;
}

struct Part {
  std::string headers;  // MIME headers, CRLF-terminated
  std::string body;     // CRLF-terminated
};

bool contains(const std::vector<Part>& parts, const std::string& s) {
  for (const Part& p : parts)
    if (p.body.find(s) != std::string::npos || p.headers.find(s) != std::string::npos) return true;
  return false;
}

// The whole message with CRLF line ends (a bare CR or LF becomes CRLF), ending with CRLF.
std::string normalise_message(std::string_view m) {
  std::string out;
  out.reserve(m.size() + 2);
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] != '\r' && m[i] != '\n') {
      out.push_back(m[i]);
      continue;
    }
    if (m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n') ++i;
    out += "\r\n";
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

// Can travel inside the report as it is: no NUL, no line over 998 octets (RFC 5322 2.1.1).
bool returnable(std::string_view crlf_text) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < crlf_text.size(); ++i) {
    if (crlf_text[i] == '\r' && i + 1 < crlf_text.size() && crlf_text[i + 1] == '\n') {
      line = 0;
      ++i;
    } else if (crlf_text[i] == '\0' || ++line > 998) {
      return false;
    }
  }
  return true;
}

// Part 3 (RFC 6522 3): the whole original as message/rfc822 when the caller returns it (RET=FULL,
// RFC 3461 4.3) and it can travel inside the report; 8-bit text stays 8-bit, labelled so, since a
// message/rfc822 body may not be encoded (RFC 2046 5.2.1). Otherwise its header section as
// text/rfc822-headers, quoted-printable if 8-bit. Nothing when there is neither.
std::optional<Part> original_part(const DsnInput& in, Kind report, bool& eight_bit) {
  const std::string what = report == Kind::relayed ? "Relayed message" : "Undelivered message";
  std::string full = normalise_message(in.original_message);
  if (!full.empty() && returnable(full)) {
    eight_bit = !is_ascii(full);
    return Part{std::string("Content-Type: message/rfc822\r\n") +
                    (eight_bit ? "Content-Transfer-Encoding: 8bit\r\n" : "") + "Content-Description: " + what + "\r\n",
                std::move(full)};
  }
  std::string orig = normalise_headers(in.original_headers.empty() ? in.original_message : in.original_headers);
  if (orig.empty()) return std::nullopt;
  bool plain = fits_7bit(orig);
  return Part{std::string(plain ? "Content-Type: text/rfc822-headers\r\n"
                                : "Content-Type: text/rfc822-headers; charset=utf-8\r\n"
                                  "Content-Transfer-Encoding: quoted-printable\r\n") +
                  "Content-Description: " + what + " headers\r\n",
              plain ? orig : quoted_printable(orig)};
}

const char* subject_of(Kind report) {
  switch (report) {
    case Kind::delayed: return "Delayed Mail (still being retried)";
    case Kind::relayed: return "Relayed Mail (no further delivery confirmation)";
    case Kind::failed: break;
  }
  return "Undelivered Mail Returned to Sender";
}

}  // namespace

std::string report_subject(const DsnInput& in) { return subject_of(report_kind(in)); }

std::string build_dsn(const DsnInput& in) {
  const Kind report = report_kind(in);
  std::vector<Part> parts;
  parts.push_back({"Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n"
                   "Content-Description: Notification\r\n",
                   quoted_printable(human_part(in, report))});
  parts.push_back({"Content-Type: message/delivery-status\r\n"
                   "Content-Description: Delivery report\r\n",
                   delivery_status(in)});
  bool eight_bit = false;
  if (auto original = original_part(in, report, eight_bit)) parts.push_back(std::move(*original));

  // RFC 2046 5.1.1: the boundary must not occur in any part. "=_" cannot appear in
  // quoted-printable output, and the other parts are checked.
  std::string boundary;
  do {
    boundary = "=_pb_" + random_hex(32);
  } while (contains(parts, "--" + boundary));

  std::string postmaster = clean(in.postmaster);
  std::string to = clean(in.to).empty() ? postmaster : clean(in.to);
  std::string host = clean(in.reporting_mta);
  std::string msg;
  msg += "From: \"Mail Delivery System\" <" + postmaster + ">\r\n";
  msg += "To: <" + to + ">\r\n";
  msg += std::string("Subject: ") + subject_of(report) + "\r\n";
  msg += "Date: " + rfc5322_date(in.now) + "\r\n";
  // The host only makes the id unique: cut (like its other uses) so the line stays below 998.
  msg += "Message-ID: <" + std::to_string(in.now) + "." + random_hex(16) + "@" +
         seven_bit(host.empty() ? "localhost" : host).substr(0, 255) + ">\r\n";
  msg += "MIME-Version: 1.0\r\n";
  if (eight_bit) msg += "Content-Transfer-Encoding: 8bit\r\n";  // RFC 2045 6.4: says what the parts hold
  msg += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  msg += "Auto-Submitted: auto-replied\r\n";  // RFC 3834 5
  msg += "\r\nThis is a MIME-encapsulated message (RFC 3464 delivery status notification).\r\n";
  for (const Part& p : parts) {
    // RFC 2046 5.1.1: the CRLF before "--boundary" belongs to the delimiter, so each body keeps its own.
    msg += "\r\n--" + boundary + "\r\n" + p.headers + "\r\n" + p.body;
  }
  msg += "\r\n--" + boundary + "--\r\n";
  return msg;
}

namespace {

// The value of a Content-Type parameter (RFC 2045 5.1), unquoted; empty if absent.
std::string content_type_param(std::string_view ct, std::string_view name) {
  std::size_t pos = ct.find(';');
  while (pos != std::string_view::npos) {
    std::size_t next = ct.find(';', pos + 1);
    std::string_view param = text::trim(ct.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1));
    std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && text::iequals(text::trim(param.substr(0, eq)), name)) {
      std::string_view v = text::trim(param.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    pos = next;
  }
  return {};
}

}  // namespace

bool is_bounce(const HeaderCollector& h, std::string_view envelope_sender) {
  std::string_view sender = text::trim(envelope_sender);
  if (sender.empty() || sender == "<>") return true;  // RFC 5321 4.5.5: the null reverse-path
  if (auto ct = h.get("Content-Type")) {
    std::string_view type = text::trim(std::string_view(*ct).substr(0, ct->find(';')));
    if (text::iequals(type, "multipart/report") &&
        text::iequals(content_type_param(*ct, "report-type"), "delivery-status"))
      return true;
  }
  if (auto as = h.get("Auto-Submitted")) {
    // RFC 3834 5: auto-submitted = "no" / "auto-generated" / "auto-replied" / extension, params.
    std::string_view v = text::trim(std::string_view(*as).substr(0, as->find_first_of(";(")));
    if (!v.empty() && !text::iequals(v, "no")) return true;
  }
  return false;
}

}  // namespace pb::mail
