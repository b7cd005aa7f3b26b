// What a provider's own refusal (SMTP, POP3, OAuth token endpoint) means and what the admin changes.
// Pure and Asio-free: one table, recognised by code and stable token first, then words, then host.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pb::words {

// Two short plain sentences: what is wrong (naming the provider or host) and what to change.
struct Explanation {
  std::string problem;
  std::string fix;
};

// "problem: fix" — the form the status page, the log and the DSN show after the server's words.
std::string one_line(const Explanation& e);

// An SMTP reply (RFC 5321 4.2): its code, its enhanced status code (RFC 3463, "5.7.139" or empty)
// and its text as received (all lines). `host`: the server's name, for provider-specific words.
std::optional<Explanation> explain_smtp(int code, std::string_view enhanced, std::string_view text,
                                        std::string_view host);

// A refused POP3 login: the -ERR text (with or without "-ERR", RFC 2449 response codes kept).
std::optional<Explanation> explain_pop3(std::string_view text, std::string_view host);

// A token endpoint's refusal (RFC 6749 5.2): error and error_description. Microsoft's AADSTS
// numbers are matched in the description. Empty for states that are not failures (AADSTS70016,
// authorization pending during a device login: RFC 8628 3.5).
std::optional<Explanation> explain_oauth(std::string_view error, std::string_view description);

}  // namespace pb::words
