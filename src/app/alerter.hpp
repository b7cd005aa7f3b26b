// Alerts of the running service: every minute (at once at start, and after each poll) it looks at
// the service's own records, lets alerts::step decide what to tell, stores the open problems and
// queues what fires together as ONE message to [alerts] recipients, each alert also an event.
// The message goes through the office server, and through a smarthost when the office server is
// down; the [alerts] webhook gets every alert as well.
#pragma once
#include <boost/asio/steady_timer.hpp>

#include <optional>
#include <string>
#include <vector>

#include "alerts/tracker.hpp"
#include "app/context.hpp"
#include "app/deliverers.hpp"

namespace pb::app {

class Alerter {
 public:
  Alerter(Context& ctx, Deliverers& deliverers);
  // `unclean_since`: the start of a previous run that did not stop cleanly (run_marker.hpp).
  void start(std::optional<queue::UnixTime> unclean_since);
  void stop();
  void kick();  // look now (a poll just ended); nothing before start()
  // The outcome of a config reload (SIGHUP): `problems` empty when it worked; a failure is a problem
  // until a reload works.
  void config_reloaded(const std::vector<std::string>& problems, queue::UnixTime at);

 private:
  void schedule();
  void evaluate();
  std::vector<alerts::Observation> observe(queue::UnixTime now);
  void observe_accounts(std::vector<alerts::Observation>& out);
  void observe_routes(queue::UnixTime now, std::vector<alerts::Observation>& out);
  void observe_service(queue::UnixTime now, std::vector<alerts::Observation>& out);
  void observe_oauth(queue::UnixTime now, std::vector<alerts::Observation>& out);
  void observe_certificates(queue::UnixTime now, std::vector<alerts::Observation>& out);
  void send(const std::vector<alerts::Alert>& fired, queue::UnixTime now);
  // The office server as the alerts' way out: down when its route is paused or its oldest mail
  // waits for long; then the alert mail goes again through a smarthost that takes the postmaster.
  bool local_down(queue::UnixTime now);
  void fall_back(queue::UnixTime now);
  void send_by_smarthost(const std::string& subject, const std::string& body);

  Context& ctx_;
  Deliverers& deliverers_;
  boost::asio::steady_timer timer_;
  std::optional<queue::UnixTime> unclean_since_;  // told once, then cleared
  std::vector<std::string> reload_problems_;      // the last reload failed with these
  queue::UnixTime reload_failed_at_ = 0;
  // Alert mails queued to the office server and not yet seen delivered: sent again through a
  // smarthost when the office server turns out to be down.
  struct OnLocal {
    queue::MessageId id = 0;
    std::string subject, body;
  };
  std::vector<OnLocal> on_local_;
  bool told_no_way_ = false;  // "no smarthost takes the postmaster" is logged once per run
  queue::UnixTime disk_low_seen_ = 0;  // the last look that found the state folder too full
  bool running_ = false;  // start() ran: --once never tells alerts
};

// The mail for alerts that fired together (pure, for tests and `postbridge test alerts`).
struct AlertMail {
  std::string subject, body;
};
AlertMail alert_mail(const config::Config& cfg, const std::vector<alerts::Alert>& fired);

// Open problems as stored rows and back; rows of a condition this version does not know are dropped.
std::vector<queue::AlertRow> to_rows(const std::vector<alerts::Open>& open);
std::vector<alerts::Open> from_rows(const std::vector<queue::AlertRow>& rows);

}  // namespace pb::app

namespace pb::app {

// `postbridge test alerts`: queues one test alert to [alerts] recipients, as the service would
// send a real one (it delivers it, running or at its next start); returns the queue id.
queue::MessageId queue_test_alert(const config::Config& cfg, queue::Store& store);

}  // namespace pb::app
