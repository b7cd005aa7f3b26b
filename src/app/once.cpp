// The --once run: one pass of delivering and polling, then the verdict for the exit code.
#include "app/once.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <memory>
#include <string>
#include <vector>

#include "app/service.hpp"
#include "util/log.hpp"

namespace pb::app {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct OnceTally {
  int pending = 0, failed = 0;
  std::vector<std::string> problems;
};

asio::awaitable<void> poll_for_once(Scheduler& scheduler, config::Account a, std::shared_ptr<OnceTally> tally) {
  auto o = co_await scheduler.poll_and_record(a);
  if (!o.ok()) {
    ++tally->failed;
    tally->problems.push_back("account " + a.name + ": " + o.error);
  }
  --tally->pending;
  scheduler.polls_done().notify();
}

// Why mail is still queued, one line per route that has some.
void explain_queued(Context& ctx, Deliverers& deliverers, std::vector<std::string>& problems) {
  for (const auto& [route, d] : deliverers) {
    int n = 0;
    for (const auto& [r, state] : ctx.store.queue().counts_by_route())
      if (r == route && state.first == "queued") n += state.second;
    if (n == 0) continue;
    std::string why = d->paused_until() > Context::now()      ? d->pause_reason()
                      : d->rate_limited_until() > Context::now() ? "send limit reached"
                                                                  : "waiting for a retry";
    problems.push_back(std::to_string(n) + " message(s) still queued for " + route + ": " + why);
  }
}

}  // namespace

asio::awaitable<int> run_once(Context& ctx, Scheduler& scheduler, Deliverers& deliverers) {
  auto tally = std::make_shared<OnceTally>();
  Deliverer& local = deliverers.local();
  // Mail already due goes first: a message delivered before its mailbox is polled is deleted at
  // the provider in this same run (else only by the next one, depending on which was quicker).
  while (!deliverers.idle() && !ctx.stopping) co_await local.progress().wait(1s);
  for (const auto& a : ctx.config->accounts) {
    if (!a.enabled) continue;
    ++tally->pending;
    asio::co_spawn(ctx.executor, poll_for_once(scheduler, a, tally), asio::detached);
  }
  while (tally->pending > 0 && !ctx.stopping) co_await scheduler.polls_done().wait(1s);
  int failed = tally->failed;
  auto& problems = tally->problems;
  while (!deliverers.idle() && !ctx.stopping) co_await local.progress().wait(1s);
  if (ctx.stopping) co_return kExitOk;
  int queued = ctx.store.queue().count(queue::MsgState::queued);
  if (queued > 0) explain_queued(ctx, deliverers, problems);
  if (failed == 0 && queued == 0) co_return kExitOk;
  for (const auto& p : problems) log::error("--once: " + p);
  co_return kExitPending;
}

}  // namespace pb::app
