// SMTP replies by name: each basic reply code (RFC 5321 4.2) paired with the enhanced status code
// (RFC 3463, registry RFC 5248) sent with it, so a pair is chosen once by meaning, never retyped.
#pragma once
#include <string_view>

namespace pb::smtp {

struct Code {
  int basic;                  // RFC 5321 4.2.3
  std::string_view enhanced;  // "class.subject.detail", or "" where none is sent (RFC 2034 3)
};

namespace code {

// 2yz: done.
inline constexpr Code help{214, "2.0.0"};
inline constexpr Code service_ready{220, ""};      // the greeting carries no enhanced code (RFC 2034 3)
inline constexpr Code tls_ready{220, "2.0.0"};     // RFC 3207 4
inline constexpr Code closing{221, "2.0.0"};
inline constexpr Code auth_succeeded{235, "2.7.0"};  // RFC 4954 6
inline constexpr Code hello{250, ""};              // the HELO reply: the domain alone
inline constexpr Code ok{250, "2.0.0"};
inline constexpr Code sender_ok{250, "2.1.0"};
inline constexpr Code recipient_ok{250, "2.1.5"};
inline constexpr Code cannot_verify{252, "2.0.0"};  // RFC 5321 3.5.3

// 3yz: go on.
inline constexpr Code auth_challenge{334, ""};  // RFC 4954 4: the text is the base64 challenge
inline constexpr Code start_data{354, ""};

// 4yz: try again later.
inline constexpr Code closing_policy{421, "4.7.0"};  // too many errors, not an SMTP client
inline constexpr Code bad_connection{421, "4.4.2"};  // timeout, or the connection broke
inline constexpr Code local_error{451, "4.3.0"};
inline constexpr Code no_storage{452, "4.3.1"};
inline constexpr Code too_many_recipients{452, "4.5.3"};  // RFC 5321 4.5.3.1.10
inline constexpr Code auth_temporary{454, "4.7.0"};       // RFC 4954 6

// 5yz: refused.
inline constexpr Code syntax_error{500, "5.5.2"};
inline constexpr Code auth_line_too_long{500, "5.5.6"};  // RFC 4954 4
inline constexpr Code bad_arguments{501, "5.5.4"};
inline constexpr Code bad_argument_syntax{501, "5.5.2"};  // RFC 4954 4: e.g. not base64
inline constexpr Code bad_sender_syntax{501, "5.1.7"};
inline constexpr Code bad_recipient_syntax{501, "5.1.3"};
inline constexpr Code auth_cancelled{501, "5.7.0"};  // RFC 4954 4
inline constexpr Code not_implemented{502, "5.5.1"};
inline constexpr Code bad_sequence{503, "5.5.1"};
inline constexpr Code mechanism_unknown{504, "5.5.4"};  // RFC 4954 4
inline constexpr Code auth_failed{535, "5.7.8"};         // RFC 4954 6
inline constexpr Code encryption_required{538, "5.7.11"};  // RFC 4954 6
inline constexpr Code message_too_big{552, "5.3.4"};     // RFC 1870 6
inline constexpr Code bad_address{553, "5.1.3"};
inline constexpr Code utf8_required{553, "5.6.7"};       // RFC 6531 3.5
inline constexpr Code no_valid_recipients{554, "5.5.1"};  // RFC 5321 3.3
inline constexpr Code data_line_too_long{554, "5.6.0"};
// As Exchange Online answers bare line feeds: the RFC 5248 registry has no better match.
inline constexpr Code bare_line_end{554, "5.6.11"};
inline constexpr Code parameter_unsupported{555, "5.5.4"};  // RFC 5321 4.1.1.11

}  // namespace code
}  // namespace pb::smtp
