// The redirected copy: "X-Postbridge-Redirected:" fields first (one per refused recipient, the
// server's reply sanitised so it cannot break the header), then the original message unchanged.
#include "app/redirect.hpp"

#include "queue/spool.hpp"
#include "util/text.hpp"

namespace pb::app {
namespace {

// One header field body: printable, no CR/LF, short enough for RFC 5322 2.1.1's 998 limit.
std::string field_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= 700) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? ' ' : c);
  }
  return out;
}

}  // namespace

queue::NewMessage redirect_copy(Context& ctx, const queue::QueuedMessage& msg, const std::vector<RefusedRecipient>& refused,
                                const std::string& default_recipient) {
  queue::SpoolFile copy(ctx.store.spool_dir());
  // A dictionary spam to a catch-all can name hundreds of unknown users: the note stays short.
  constexpr std::size_t kMaxNotes = 20;
  for (std::size_t i = 0; i < refused.size() && i < kMaxNotes; ++i)
    copy.write("X-Postbridge-Redirected: for <" + field_text(refused[i].address) + ">, refused by the office server (" +
               field_text(refused[i].reply) + "); delivered to the default recipient " + field_text(default_recipient) +
               "\r\n");
  if (refused.size() > kMaxNotes)
    copy.write("X-Postbridge-Redirected: and " + std::to_string(refused.size() - kMaxNotes) +
               " more refused recipients (see the postbridge log)\r\n");
  queue::SpoolReader original(ctx.store.spool_dir(), msg.spool_name);
  std::string buf(64 * 1024, '\0');
  while (std::size_t n = original.read(buf.data(), buf.size())) copy.write(std::string_view(buf.data(), n));

  queue::NewMessage m;
  m.route = "local";
  m.account = msg.account;  // listed with its mailbox; no UIDL: that belongs to the original
  m.sender = msg.sender;
  m.recipients = {default_recipient};
  m.subject = msg.subject;
  m.message_id = msg.message_id;
  m.size = copy.size();
  m.spool_name = copy.commit();  // durable before the row that names it
  return m;
}

}  // namespace pb::app
