// An account's [[account]] settings turned into POP3 session options, in one place, so the
// doctor tests exactly what the fetcher will do.
#include "endpoint/pop3.hpp"

namespace pb::endpoint {

pop3::ClientOptions pop3_options(const config::Account& a) {
  pop3::ClientOptions o;
  o.security = a.tls == config::TlsMode::implicit   ? pop3::Security::implicit
               : a.tls == config::TlsMode::starttls ? pop3::Security::stls
                                                    : pop3::Security::none;
  o.auth = a.auth == config::Pop3Auth::sasl_plain ? pop3::AuthMethod::sasl_plain
           : a.auth == config::Pop3Auth::apop     ? pop3::AuthMethod::apop
           : a.auth == config::Pop3Auth::user_pass ? pop3::AuthMethod::user_pass
                                                   : pop3::AuthMethod::automatic;
  o.username = a.username;
  o.password = a.password.value;
  o.allow_plaintext = a.allow_plaintext;
  o.timeout = a.timeout;
  return o;
}

}  // namespace pb::endpoint
