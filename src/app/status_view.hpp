// What the status page sees of the running service and may do to it: the http::ServiceView over
// the scheduler, the deliverers, the store and the config. The page never reaches further.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/context.hpp"
#include "app/deliverers.hpp"
#include "app/scheduler.hpp"
#include "http/model.hpp"
#include "oauth/page_logins.hpp"

namespace pb::app {

// When the config was loaded, and why the last reload failed (kept by the service, shown here).
struct ConfigRecord {
  std::int64_t loaded_at = Context::now();
  std::int64_t reload_failed_at = 0;  // 0: the last reload worked
  std::vector<std::string> reload_problems;
};

class StatusView final : public http::ServiceView {
 public:
  StatusView(Context& ctx, Scheduler& scheduler, Deliverers& deliverers, const ConfigRecord& config);

  std::int64_t started_at() const override { return started_at_; }
  std::vector<http::AccountStatus> accounts() override;
  std::vector<http::RouteStatus> routes() override;
  http::StorageStatus storage() override;
  bool poll_now(const std::string& account) override;
  bool resume(const std::string& smarthost) override;
  void queue_changed() override;
  bool bounce(std::int64_t id) override;
  queue::Store& store() override { return ctx_.store; }
  http::ConfigStatus config_status() override;
  WhyNot start_test(const std::string& kind, const std::string& name,
                    std::function<void(std::string)> done) override;
  WhyNot start_oauth(const std::string& kind, const std::string& name) override;
  std::optional<http::OAuthLoginState> oauth_state(const std::string& kind, const std::string& name) override;
  WhyNot finish_oauth(const std::string& kind, const std::string& name, const std::string& redirect) override;
  login::LoginThrottle& logins() override { return ctx_.logins; }
  http::TestAlertResult send_test_alert() override;

 private:
  boost::asio::awaitable<void> run_test(std::shared_ptr<const config::Config> cfg, std::string kind, std::string name,
                                        std::function<void(std::string)> done);

  Context& ctx_;
  Scheduler& scheduler_;
  Deliverers& deliverers_;
  const ConfigRecord& config_;
  std::int64_t started_at_ = Context::now();
  std::set<std::string> tests_running_;  // "account:NAME" etc.: connection tests from the page
  // OAuth sign-ins from the page; a finished one lets the account or smarthost try at once.
  oauth::PageLogins page_logins_;
  static constexpr std::int64_t kTestAlertGap = 30;  // seconds between test alerts from the page
  std::int64_t last_test_alert_ = 0;
};

}  // namespace pb::app
