// One deliverer per route, spawned on the service's executor.
#include "app/deliverers.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

#include "endpoint/route.hpp"

namespace pb::app {
namespace asio = boost::asio;
using endpoint::kLocalRoute;
using endpoint::smarthost_route_name;

Deliverers::Deliverers(Context& ctx) : ctx_(ctx) { local_ = &get(kLocalRoute); }

Deliverer& Deliverers::get(const std::string& route) {
  auto it = routes_.find(route);
  if (it != routes_.end()) return *it->second;
  auto& d = routes_[route];
  d = std::make_unique<Deliverer>(ctx_, route);
  if (started_) asio::co_spawn(ctx_.executor, d->run(), asio::detached);
  return *d;
}

Deliverer* Deliverers::find(const std::string& route) {
  auto it = routes_.find(route);
  return it == routes_.end() ? nullptr : it->second.get();
}

void Deliverers::start() {
  started_ = true;
  get(kLocalRoute);
  for (const auto& s : ctx_.config->smarthosts) get(smarthost_route_name(s.name));
  // Routes with queued mail but no config (smarthost renamed): their deliverer idles.
  for (const auto& [route, state] : ctx_.store.queue().counts_by_route()) get(route);
  for (auto& [name, d] : routes_) asio::co_spawn(ctx_.executor, d->run(), asio::detached);
}

void Deliverers::config_changed() {
  for (const auto& s : ctx_.config->smarthosts) get(smarthost_route_name(s.name));
  for (auto& [name, d] : routes_) d->config_changed();
}

void Deliverers::kick_all() {
  for (auto& [name, d] : routes_) d->kick();
}

void Deliverers::stop_all() {
  for (auto& [name, d] : routes_) d->stop();
}

void Deliverers::queue_changed() {
  for (auto& [name, d] : routes_) {
    if (d->paused_until() > Context::now()) d->resume();
    else d->kick();
  }
}

bool Deliverers::busy() const {
  return std::any_of(routes_.begin(), routes_.end(), [](const auto& d) { return d.second->busy(); });
}

bool Deliverers::idle() {
  return std::all_of(routes_.begin(), routes_.end(), [](const auto& d) { return d.second->idle(); });
}

}  // namespace pb::app
