// Certificate notes (see certificates.hpp): no I/O of their own, the transport already read the
// certificate for its checks.
#include "app/certificates.hpp"

namespace pb::app {

void note_handshake(Context& ctx, const std::string& object, const std::string& host, const net::Transport& t) {
  auto peer = t.tls_peer();
  if (!t.is_tls() || !peer || !peer->have_certificate) {
    ctx.certificates.erase(object);  // plain text: no certificate to watch
    return;
  }
  ctx.certificates[object] = {host, peer->not_after, ""};
}

void note_tls_refusal(Context& ctx, const std::string& object, const std::string& host, const std::exception& e) {
  auto* nf = dynamic_cast<const net::NetFailure*>(&e);
  if (!nf || nf->kind() != net::NetError::tls_failed) return;
  const std::string words = e.what();
  if (words.find("certificate") == std::string::npos) return;  // a version or cipher problem, not the certificate
  auto& seen = ctx.certificates[object];
  seen.host = host;
  seen.refused = words;
}

}  // namespace pb::app
