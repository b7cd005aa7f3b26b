// Group commit for messages accepted by the SMTP listener: every session whose message is complete
// waits here; one flush makes all their spool files durable (one syncfs) and inserts all their rows
// (one transaction), then each session may answer 250. Durability per message, fsync cost shared.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <exception>
#include <memory>
#include <vector>

#include "app/context.hpp"
#include "app/signal.hpp"

namespace pb::app {

class GroupCommitter {
 public:
  explicit GroupCommitter(Context& ctx);
  // The message's spool file must be complete (SpoolFile::commit_deferred). Returns its queue id
  // once durable; throws if the flush failed (the caller answers 4xx: nothing was promised).
  boost::asio::awaitable<queue::MessageId> commit(queue::NewMessage m, queue::Event e);

 private:
  struct Waiter {
    std::pair<queue::NewMessage, queue::Event> item;
    queue::MessageId id = 0;
    std::exception_ptr error;
    bool done = false;
  };
  void flush();

  Context& ctx_;
  Signal done_;
  std::vector<std::shared_ptr<Waiter>> batch_;
  bool scheduled_ = false;
};

}  // namespace pb::app
