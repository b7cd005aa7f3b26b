// The alert webhook's bodies (src/app/alert_webhook.cpp): our own JSON per alert, ntfy's and
// Gotify's one push per batch; never the token in a body.
#include "app/alert_webhook.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace pb;
using alerts::AlertKind;
using alerts::Condition;

namespace {

config::Config webhook_config(config::WebhookFormat f, const std::string& url) {
  config::Config cfg;
  cfg.service.hostname = "gw.firma.test";
  cfg.alerts.webhook_url = url;
  cfg.alerts.webhook_format = f;
  cfg.alerts.webhook_token.value = "tk_never_in_a_body";
  return cfg;
}

std::vector<alerts::Alert> two_alerts() {
  alerts::Open login{Condition::mailbox_login, "account info", 1'764'000'000, 1'764'000'000, 1'764'000'000, 0,
                     "the provider refused the login", "check the password"};
  alerts::Open disk{Condition::disk_low, "state folder", 1'764'000'060, 1'764'000'060, 1'764'000'060, 0,
                    "only 1 MB free", "free up space"};
  return {{AlertKind::raised, login}, {AlertKind::resolved, disk}};
}

}  // namespace

TEST_CASE("alert webhook: json sends one body per alert with every field") {
  auto cfg = webhook_config(config::WebhookFormat::json, "https://hooks.firma.test/pb");
  auto posts = app::webhook_posts(cfg, two_alerts(), {"mailbox info cannot log in", "the state folder is almost full"},
                                  "postbridge: 1 problem, 1 resolved", "body");
  REQUIRE(posts.size() == 2);
  auto b = boost::json::parse(posts[0].body).as_object();
  CHECK(b.at("problem").as_string() == "mailbox info cannot log in");
  CHECK(b.at("condition").as_string() == "mailbox_login");
  CHECK(b.at("object").as_string() == "account info");
  CHECK(b.at("since").as_string() == "2025-11-24T16:00:00Z");
  CHECK(b.at("words").as_string() == "the provider refused the login");
  CHECK(b.at("fix").as_string() == "check the password");
  CHECK(b.at("kind").as_string() == "raised");
  CHECK(b.at("host").as_string() == "gw.firma.test");
  auto r = boost::json::parse(posts[1].body).as_object();
  CHECK(r.at("kind").as_string() == "resolved");
  CHECK(r.at("fix").as_string() == "");
  for (const auto& p : posts) CHECK(p.body.find("tk_never") == std::string::npos);
}

TEST_CASE("alert webhook: ntfy gets one push with the topic from the URL") {
  auto cfg = webhook_config(config::WebhookFormat::ntfy, "https://ntfy.firma.test/postbridge");
  auto posts = app::webhook_posts(cfg, two_alerts(), {"a", "b"}, "postbridge: 1 problem, 1 resolved", "the text");
  REQUIRE(posts.size() == 1);
  auto b = boost::json::parse(posts[0].body).as_object();
  CHECK(b.at("topic").as_string() == "postbridge");
  CHECK(b.at("title").as_string() == "postbridge: 1 problem, 1 resolved");
  CHECK(b.at("message").as_string() == "the text");
  CHECK(b.at("priority").as_int64() == 4);  // a new problem in the batch: high
}

TEST_CASE("alert webhook: gotify gets title, message and priority, and no webhook means nothing") {
  auto cfg = webhook_config(config::WebhookFormat::gotify, "https://gotify.firma.test/message");
  std::vector<alerts::Alert> resolved{two_alerts()[1]};
  auto posts = app::webhook_posts(cfg, resolved, {"b"}, "postbridge: resolved: b", "the text");
  REQUIRE(posts.size() == 1);
  auto b = boost::json::parse(posts[0].body).as_object();
  CHECK(b.at("title").as_string() == "postbridge: resolved: b");
  CHECK(b.at("priority").as_int64() == 2);
  CHECK_FALSE(b.contains("topic"));
  cfg.alerts.webhook_url.clear();
  CHECK(app::webhook_posts(cfg, resolved, {"b"}, "s", "m").empty());
}
