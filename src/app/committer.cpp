// Group commit: the first waiter schedules a flush through the executor, so every session that
// finishes its message in the same turn of the event loop joins the same batch.
#include "app/committer.hpp"

#include <boost/asio/post.hpp>

#include "queue/spool.hpp"
#include "util/log.hpp"

namespace pb::app {

GroupCommitter::GroupCommitter(Context& ctx) : ctx_(ctx), done_(ctx.executor) {}

boost::asio::awaitable<queue::MessageId> GroupCommitter::commit(queue::NewMessage m, queue::Event e) {
  auto w = std::make_shared<Waiter>();
  w->item = {std::move(m), std::move(e)};
  batch_.push_back(w);
  if (!scheduled_) {
    scheduled_ = true;
    boost::asio::post(ctx_.executor, [this] { flush(); });
  }
  while (!w->done) co_await done_.wait(std::chrono::seconds(5));
  if (w->error) std::rethrow_exception(w->error);
  co_return w->id;
}

void GroupCommitter::flush() {
  scheduled_ = false;
  auto batch = std::move(batch_);
  batch_.clear();
  std::vector<std::pair<queue::NewMessage, queue::Event>> items;
  items.reserve(batch.size());
  for (const auto& w : batch) items.push_back(w->item);
  try {
    queue::sync_spool(ctx_.store.spool_dir());
    auto now = Context::now();
    for (auto& [m, e] : items) e.time = now;
    auto ids = ctx_.store.queue().enqueue_batch(items, now);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->id = ids[i];
  } catch (const std::exception& e) {
    log::error(std::string("cannot store accepted mail durably: ") + e.what());
    auto error = std::current_exception();
    for (const auto& w : batch) {
      w->error = error;
      queue::remove_spool_file(ctx_.store.spool_dir(), w->item.first.spool_name);  // nobody was promised it
    }
  }
  for (const auto& w : batch) w->done = true;
  done_.notify();
}

}  // namespace pb::app
