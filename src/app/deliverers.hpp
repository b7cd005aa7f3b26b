// The deliverers of the running service, one per route: created on demand and kept for the life
// of the service (a deliverer's loop ends by itself when a reload removes its route; queued mail
// then waits for a route of that name).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "app/context.hpp"
#include "app/deliverer.hpp"

namespace pb::app {

class Deliverers {
 public:
  explicit Deliverers(Context& ctx);

  // The deliverer of `route`, created (and started, once start() ran) when it is new.
  Deliverer& get(const std::string& route);
  Deliverer* find(const std::string& route);  // nullptr: no deliverer of that name
  Deliverer& local() { return *local_; }
  // Starts local, every configured smarthost and every route that still has queued mail.
  void start();
  // After a reload: new smarthosts get a deliverer; every route looks at its settings again.
  void config_changed();
  void kick_all();
  void stop_all();
  // An admin acted on the queue (CLI or page): like `postqueue -f`, paused routes try again now.
  void queue_changed();
  bool busy() const;  // a session is open somewhere
  bool idle();        // nothing due or in flight anywhere (--once may finish)

  auto begin() const { return routes_.begin(); }
  auto end() const { return routes_.end(); }

 private:
  Context& ctx_;
  std::map<std::string, std::unique_ptr<Deliverer>> routes_;
  Deliverer* local_ = nullptr;
  bool started_ = false;
};

}  // namespace pb::app
