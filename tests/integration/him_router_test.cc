// The router of the real binary in front of an upstream in the test process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "him_fixture.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;

TEST(HimRouterTest, AuthenticatedCallIsForwardedWithTransformedPathAndHeaders) {
  TempDir dir;
  HimServe him(dir);
  Upstream upstream;
  him.createClient("interop-client", "secret", {"interop"});
  Json route = {{"name", "up"},
                {"host", "127.0.0.1"},
                {"port", upstream.port()},
                {"primary", true},
                {"pathTransform", "s/\\/mediator/"}};
  him.createChannel(
      channelTo("Mediator", "^/mediator/.*$", upstream.port(), {{"routes", Json::array({route})}}));

  auto r = him.routerCall("POST", "/mediator/patient?x=1", "interop-client:secret", R"({"a":1})");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, R"({"ok":true})");
  EXPECT_EQ(r->headers.get("X-OpenHIM-TransactionID").size(), 24u);
  ASSERT_EQ(upstream.received(), 1u);
  auto seen = upstream.requests()[0];
  EXPECT_EQ(seen.target, "/patient?x=1");
  EXPECT_EQ(seen.body, R"({"a":1})");
  EXPECT_FALSE(seen.headers.has("Authorization"));
  EXPECT_EQ(seen.headers.get("X-OpenHIM-ClientID"), "interop-client");
  EXPECT_EQ(seen.headers.get("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(seen.headers.get("X-OpenHIM-TransactionID"), r->headers.get("X-OpenHIM-TransactionID"));

  // /health and /metrics stay on the same listener.
  auto health = him.routerCall("GET", "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
}

TEST(HimRouterTest, RefusalsSay404NoChannel401CredentialsOrRoleAnd500UpstreamDown) {
  TempDir dir;
  HimServe him(dir);
  Upstream upstream;
  him.createClient("interop-client", "secret", {"interop"});
  him.createClient("other-client", "secret", {"other"});
  him.createChannel(channelTo("FHIR", "^/fhir/.*$", upstream.port()));
  him.createChannel(channelTo("Down", "^/down/.*$", 1));

  auto none = him.routerCall("GET", "/nowhere");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->status, 404);
  EXPECT_THAT(none->body, HasSubstr("no_channel"));

  auto anonymous = him.routerCall("GET", "/fhir/Patient");
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(anonymous->headers.get("WWW-Authenticate"), "Basic");
  EXPECT_THAT(anonymous->body, HasSubstr("no credentials"));

  auto wrong = him.routerCall("GET", "/fhir/Patient", "interop-client:nope");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 401);
  EXPECT_THAT(wrong->body, HasSubstr("wrong password"));

  auto role = him.routerCall("GET", "/fhir/Patient", "other-client:secret");
  ASSERT_TRUE(role.has_value());
  EXPECT_EQ(role->status, 401);
  EXPECT_THAT(role->body, HasSubstr("not allowed"));
  EXPECT_EQ(upstream.received(), 0u);

  auto down = him.routerCall("GET", "/down/x", "interop-client:secret");
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->status, 500);
  EXPECT_THAT(down->body, HasSubstr("upstream_unavailable"));

  // Only the forwarded call was recorded, as Failed.
  Json failed;
  ASSERT_TRUE(waitUntil([&] {
    failed = him.transactions(R"({"status":"Failed"})");
    return failed.size() == 1;
  })) << failed.dump();
  EXPECT_EQ(failed[0]["request"]["path"], "/down/x");
  EXPECT_TRUE(failed[0]["error"]["message"].is_string());
  EXPECT_EQ(him.transactions().size(), 1u);
}

TEST(HimRouterTest, HigherPriorityChannelWinsUntilDisabled) {
  TempDir dir;
  HimServe him(dir);
  Upstream low;
  Upstream high;
  low.respondWith([](const net::Request&) { return net::Response::json(200, {{"from", "low"}}); });
  high.respondWith([](const net::Request&) {
    return net::Response::json(200, {{"from", "high"}});
  });
  him.createClient("interop-client", "secret", {"interop"});
  him.createChannel(channelTo("Low", "^/fhir/.*$", low.port(), {{"priority", 2}}));
  him.createChannel(channelTo("High", "/fhir/", high.port(), {{"priority", 1}}));

  auto first = him.routerCall("GET", "/fhir/Patient", "interop-client:secret");
  ASSERT_TRUE(first.has_value());
  EXPECT_THAT(first->body, HasSubstr("high"));

  auto channels = parseJson(him.apiCall("GET", "/channels")->body);
  ASSERT_TRUE(channels.has_value());
  std::string high_id;
  for (const auto& c : *channels)
    if (c["name"] == "High") high_id = c["_id"];
  auto put = him.apiCall("PUT", "/channels/" + high_id, {{"status", "disabled"}});
  ASSERT_TRUE(put.has_value());
  EXPECT_EQ(put->status, 200) << put->body;

  auto second = him.routerCall("GET", "/fhir/Patient", "interop-client:secret");
  ASSERT_TRUE(second.has_value());
  EXPECT_THAT(second->body, HasSubstr("low"));
}

TEST(HimRouterTest, PublicChannelNeedsNoCredentialsAndTimeoutGives500) {
  TempDir dir;
  HimServe him(dir);
  Upstream open;
  Upstream slow;
  slow.hold();
  him.createChannel(channelTo("Open", "^/open$", open.port(), {{"authType", "public"}}));
  him.createChannel(
      channelTo("Slow", "^/slow$", slow.port(), {{"authType", "public"}, {"timeout", 200}}));
  auto r = him.routerCall("GET", "/open");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  auto t = him.routerCall("GET", "/slow");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->status, 500);
  EXPECT_THAT(t->body, HasSubstr("Request took longer than 200ms"));
}

TEST(HimRouterTest, MediatorTransactionIsQueryableWithOrchestrationsAndRerunReplaysIt) {
  TempDir dir;
  HimServe him(dir);
  Upstream mediator;
  mediator.respondWith([](const net::Request&) {
    net::Response r;
    r.headers.set("Content-Type", "application/json+openhim");
    r.body = dumpJson({{"x-mediator-urn", "urn:mediator:test"},
                       {"status", "Successful"},
                       {"response",
                        {{"status", 201},
                         {"headers", {{"Content-Type", "application/json"}}},
                         {"body", R"({"created":true})"}}},
                       {"orchestrations", Json::array({{{"name", "FHIR call"},
                                                        {"request",
                                                         {{"path", "/fhir/Patient"},
                                                          {"method", "POST"},
                                                          {"timestamp", "2024-05-01T10:00:00Z"}}},
                                                        {"response", {{"status", 201}}}}})},
                       {"properties", {{"patientId", "abc"}}}});
    return r;
  });
  him.createClient("interop-client", "secret", {"interop"});
  him.createChannel(channelTo("Mediator", "^/mediator/.*$", mediator.port()));

  auto r = him.routerCall("POST", "/mediator/patient", "interop-client:secret", R"({"id":1})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"created":true})");
  EXPECT_EQ(r->headers.get("Content-Type"), "application/json");

  Json txs;
  ASSERT_TRUE(waitUntil([&] {
    txs = him.transactions(R"({"status":"Successful"})");
    return txs.size() == 1;
  })) << txs.dump();
  const Json tx = txs[0];  // a copy: txs is reassigned below
  EXPECT_EQ(tx["properties"]["patientId"], "abc");
  ASSERT_EQ(tx["orchestrations"].size(), 2u);
  EXPECT_EQ(tx["orchestrations"][0]["name"], "FHIR call");
  EXPECT_EQ(tx["request"]["body"], R"({"id":1})");
  EXPECT_EQ(tx["response"]["status"], 201);

  auto metrics =
      him.apiCall("GET", "/metrics?startDate=2000-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->status, 200) << metrics->body;
  auto m = parseJson(metrics->body);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ((*m)[0]["total"], 1);
  EXPECT_EQ((*m)[0]["successful"], 1);
  EXPECT_EQ(him.apiCall("GET", "/metrics")->status, 400);

  auto one = him.apiCall("GET", "/transactions/" + tx["_id"].get<std::string>());
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->status, 200);
  auto simple = him.apiCall("GET", "/transactions?filterLimit=1");
  ASSERT_TRUE(simple.has_value());
  EXPECT_THAT(simple->body, ::testing::Not(HasSubstr("orchestrations")));

  auto task = him.apiCall("POST", "/tasks", {{"tids", {tx["_id"]}}});
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->status, 201) << task->body;
  ASSERT_TRUE(waitUntil([&] { return mediator.received() == 2; }));
  EXPECT_EQ(mediator.requests()[1].body, R"({"id":1})");
  ASSERT_TRUE(waitUntil([&] {
    txs = him.transactions(R"({"status":"Successful"})");
    return txs.size() == 2;
  })) << txs.dump();
  bool found_child = false;
  for (const auto& t : txs) {
    if (t.value("parentID", "") == tx["_id"]) found_child = true;
    if (t["_id"] == tx["_id"]) {
      EXPECT_EQ(t["wasRerun"], true);
      EXPECT_EQ(t["childIDs"].size(), 1u);
    }
  }
  EXPECT_TRUE(found_child) << txs.dump();

  // The other OpenHIM filters: path (case-insensitive regex), status classes, properties,
  // any other field exactly; paging after matching.
  EXPECT_EQ(him.transactions(R"({"request.path":"PATIENT$"})").size(), 2u);
  EXPECT_EQ(him.transactions(R"({"request.path":"^/other"})").size(), 0u);
  EXPECT_EQ(him.transactions(R"({"response.status":"2xx"})").size(), 2u);
  EXPECT_EQ(him.transactions(R"({"response.status":201})").size(), 2u);
  EXPECT_EQ(him.transactions(R"({"response.status":"4xx"})").size(), 0u);
  EXPECT_EQ(him.transactions(R"({"properties":{"patientId":"abc"}})").size(), 2u);
  EXPECT_EQ(him.transactions(R"({"properties":{"patientId":null}})").size(), 2u);
  EXPECT_EQ(him.transactions(R"({"properties":{"patientId":"zzz"}})").size(), 0u);
  Json reruns = him.transactions(R"({"wasRerun":true})");
  ASSERT_EQ(reruns.size(), 1u);
  EXPECT_EQ(reruns[0]["_id"], tx["_id"]);
  EXPECT_EQ(him.transactions(R"({"request.method":"POST","wasRerun":false})").size(), 1u);
  auto page = him.apiCall("GET", "/transactions?filterLimit=1&filterPage=1&filters=" +
                                     std::string("%7B%22response.status%22%3A%222xx%22%7D"));
  ASSERT_TRUE(page.has_value());
  auto paged = parseJson(page->body);
  ASSERT_TRUE(paged.has_value()) << page->body;
  EXPECT_EQ(paged->size(), 1u);
  EXPECT_EQ(him.apiCall("GET", "/transactions?filters=%7B%22request.path%22%3A%22(%22%7D")->status,
            400);
}

}  // namespace
}  // namespace chtlink::testing

namespace chtlink::testing {
namespace {

TEST(HimRouterTest, PollingChannelIsCalledOnItsScheduleAndOnTrigger) {
  TempDir dir;
  HimServe him(dir);
  Upstream polled;
  Upstream triggered;
  him.createChannel(channelTo("Poll", "^/poll-often$", polled.port(),
                              {{"type", "polling"}, {"pollingSchedule", "1 second"}}));
  him.createChannel(channelTo("Daily", "^/poll-daily$", triggered.port(),
                              {{"type", "polling"}, {"pollingSchedule", "1 day"}}));
  // Cron (six fields, seconds first): every second.
  Upstream cron;
  him.createChannel(channelTo("Cron", "^/poll-cron$", cron.port(),
                              {{"type", "polling"}, {"pollingSchedule", "* * * * * *"}}));
  auto bad_cron = him.apiCall("POST", "/channels",
                              channelTo("Bad", "^/bad$", cron.port(),
                                        {{"type", "polling"}, {"pollingSchedule", "* * 99 * *"}}));
  EXPECT_EQ(bad_cron->status, 400);
  EXPECT_THAT(bad_cron->body, ::testing::HasSubstr("day-of-month"));
  ASSERT_TRUE(waitUntil([&] { return polled.received() >= 2; }));
  ASSERT_TRUE(waitUntil([&] { return cron.received() >= 2; }));
  EXPECT_EQ(cron.requests()[0].target, "/trigger");
  EXPECT_EQ(polled.requests()[0].target, "/trigger");
  EXPECT_TRUE(polled.requests()[1].headers.has("X-OpenHIM-LastRunAt"));
  // A polling channel never answers HTTP clients.
  auto direct = him.routerCall("GET", "/poll-often");
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(direct->status, 404);

  EXPECT_EQ(triggered.received(), 0u);
  auto channels = parseJson(him.apiCall("GET", "/channels")->body);
  ASSERT_TRUE(channels.has_value());
  std::string daily_id;
  for (const auto& c : *channels)
    if (c["name"] == "Daily") daily_id = c["_id"];
  auto trigger = him.apiCall("POST", "/channels/" + daily_id + "/trigger");
  ASSERT_TRUE(trigger.has_value());
  EXPECT_EQ(trigger->status, 200) << trigger->body;
  ASSERT_TRUE(waitUntil([&] { return triggered.received() == 1; }));
  ASSERT_TRUE(waitUntil([&] {
    Json txs = him.transactions(R"({"channelID":")" + daily_id + R"("})");
    return txs.size() == 1 && txs[0]["status"] == "Successful";
  }));
}

}  // namespace
}  // namespace chtlink::testing
