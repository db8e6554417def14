// rest-hook Subscriptions in-process: criteria, acceptance rules, matching (in memory and by
// SQL, checked against the search itself), and delivery through a WorkerPool driven by hand
// with a FakeClock and a FakeHttpClient.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "fake_http_client.h"
#include "fhir/search/indexer.h"
#include "fhir/subscription/criteria.h"
#include "fhir/subscription/notifier.h"
#include "fhir_harness.h"
#include "queue/queue.h"
#include "wait_until.h"

namespace chtlink::fhir {
namespace {

using testing::FhirHarness;
using ::testing::HasSubstr;

Json restHook(const std::string& criteria, const std::string& endpoint, bool payload = true) {
  Json s = {{"resourceType", "Subscription"},
            {"status", "requested"},
            {"reason", "test"},
            {"criteria", criteria},
            {"channel", {{"type", "rest-hook"}, {"endpoint", endpoint}}}};
  if (payload) s["channel"]["payload"] = "application/fhir+json";
  return s;
}

Json encounter(const std::string& identifier) {
  return {
      {"resourceType", "Encounter"},
      {"status", "finished"},
      {"class", {{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"}, {"code", "AMB"}}},
      {"identifier", {{{"system", "cht"}, {"value", identifier}}}}};
}

std::vector<queue::Job> jobs(FhirHarness& h, std::optional<queue::JobState> state = {}) {
  queue::JobFilter f;
  f.kind = std::string(subscription::kJobKind);
  f.state = state;
  auto list = queue::JobStore(h.db(), h.clock()).list(f);
  EXPECT_TRUE(list.has_value()) << list.error().message;
  return list.has_value() ? *list : std::vector<queue::Job>{};
}

TEST(SubscriptionCriteriaTest, ParsesSearchUrlsAndRefusesWhatCannotBeMatched) {
  search::Indexer indexer(Definitions::load());
  struct Case {
    std::string text;
    bool ok;
    bool in_memory;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"Encounter?identifier=abc", true, true, ""},
      {"Encounter/?identifier=abc", true, true, ""},
      {"Encounter", true, true, ""},
      {"Encounter?", true, true, ""},
      {"Observation?code=http://loinc.org|1975-2", true, true, ""},
      {"Encounter?subject=Patient/1&status=finished,cancelled", true, true, ""},
      {"Encounter?subject:identifier=cht|p1", true, true, ""},
      {"Patient?name:contains=ann", true, true, ""},
      {"Encounter?date=ge2020-01-01", true, false, ""},
      {"Encounter?subject.name=ann", true, false, ""},
      {"Encounter?status:not=finished", true, false, ""},
      {"", false, false, "empty"},
      {"Nope?x=1", false, false, "not a FHIR R4 resource type"},
      {"Encounter?nope=1", false, false, "nope"},
      {"Encounter?identifier=a&_sort=date", false, false, "result parameters"},
      {"[*]", false, false, "one Subscription per type"},
      {"[Encounter,Patient]", false, false, "one Subscription per type"},
      {"http://other/fhir/Encounter?x=1", false, false, "relative search URL"},
      {"Encounter?date=notadate", false, false, "is not a date"},
      {"Observation?value-quantity=abc", false, false, "not a number"},
  };
  for (const auto& c : cases) {
    auto parsed = subscription::parseCriteria(indexer, c.text);
    EXPECT_EQ(parsed.has_value(), c.ok) << c.text;
    if (parsed.has_value()) {
      EXPECT_EQ(parsed->in_memory, c.in_memory) << c.text;
      EXPECT_EQ(parsed->type, c.text.substr(0, c.text.find_first_of("/?")) == ""
                                  ? ""
                                  : c.text.substr(0, c.text.find_first_of("/?")))
          << c.text;
    } else {
      EXPECT_THAT(parsed.error().message, HasSubstr(c.error)) << c.text;
    }
  }
}

TEST(SubscriptionCreateTest, RequestedIsStoredActiveAndBadSubscriptionsAre400) {
  FhirHarness h;
  Json created = h.create(restHook("Encounter?identifier=p1", "http://cb.test/fhir"));
  EXPECT_EQ(created["status"], "active");
  EXPECT_EQ(
      h.json(h.call("GET", "/fhir/Subscription/" + created["id"].get<std::string>()))["status"],
      "active");

  struct Case {
    std::string name;
    std::function<void(Json&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"bad criteria", [](Json& s) { s["criteria"] = "Encounter?nope=1"; }, "nope"},
      {"unknown type", [](Json& s) { s["criteria"] = "Bogus?x=1"; }, "Bogus"},
      {"no criteria", [](Json& s) { s.erase("criteria"); }, "criteria is required"},
      {"websocket", [](Json& s) { s["channel"]["type"] = "websocket"; },
       "only rest-hook is supported"},
      {"email", [](Json& s) { s["channel"]["type"] = "email"; }, "only rest-hook is supported"},
      {"no endpoint", [](Json& s) { s["channel"].erase("endpoint"); },
       "channel.endpoint is required"},
      {"bad endpoint", [](Json& s) { s["channel"]["endpoint"] = "ftp://x/y"; }, "endpoint"},
      {"xml payload", [](Json& s) { s["channel"]["payload"] = "application/fhir+xml"; }, "payload"},
      {"bad header", [](Json& s) { s["channel"]["header"] = {"no colon here"}; }, "header[0]"},
      {"bad status", [](Json& s) { s["status"] = "paused"; }, "status"},
      {"no channel", [](Json& s) { s.erase("channel"); }, "channel is required"},
  };
  for (const auto& c : cases) {
    Json s = restHook("Encounter?identifier=p1", "http://cb.test/fhir");
    c.change(s);
    auto r = h.call("POST", "/fhir/Subscription", dumpJson(s));
    EXPECT_EQ(r.status, 400) << c.name << ": " << r.body;
    Json oo = h.json(r);
    EXPECT_EQ(oo.value("resourceType", ""), "OperationOutcome") << c.name;
    EXPECT_THAT(r.body, HasSubstr(c.message)) << c.name;
  }
  // The same rules on update.
  Json bad = created;
  bad["channel"]["type"] = "websocket";
  auto r = h.call("PUT", "/fhir/Subscription/" + created["id"].get<std::string>(), dumpJson(bad));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("only rest-hook"));
}

TEST(SubscriptionMatchTest, MatchingWritesEnqueueOneJobInTheSameTransaction) {
  FhirHarness h;
  Json sub = h.create(restHook("Encounter?identifier=p1", "http://cb.test/fhir"));
  const std::string sub_id = sub["id"];
  h.create(encounter("p2"));                                    // other patient
  h.create({{"resourceType", "Patient"}, {"gender", "male"}});  // other type
  EXPECT_TRUE(jobs(h).empty());

  Json e = h.create(encounter("p1"));
  auto queued = jobs(h);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].destination, "Subscription/" + sub_id);
  EXPECT_EQ(queued[0].state, queue::JobState::Pending);

  // An update matches again; an identical re-PUT makes no version and no notification.
  Json changed = e;
  changed["status"] = "cancelled";
  const std::string path = "/fhir/Encounter/" + e["id"].get<std::string>();
  ASSERT_EQ(h.call("PUT", path, dumpJson(changed)).status, 200);
  ASSERT_EQ(h.call("PUT", path, dumpJson(changed)).status, 200);
  EXPECT_EQ(jobs(h).size(), 2u);

  // A write that fails (rolled back) leaves no job behind.
  Json invalid = encounter("p1");
  invalid["subject"] = {{"reference", "Patient?identifier=none"}};
  EXPECT_EQ(h.call("POST", "/fhir/Encounter", dumpJson(invalid)).status, 404);
  EXPECT_EQ(jobs(h).size(), 2u);

  // Deletes notify nothing (HAPI's default).
  ASSERT_EQ(h.call("DELETE", path).status, 200);
  EXPECT_EQ(jobs(h).size(), 2u);
}

// Whatever the strategy (in memory or SQL restricted to the resource), a subscription fires
// exactly when the search with the same criteria finds the resource.
TEST(SubscriptionMatchTest, MatchingAgreesWithSearch) {
  FhirHarness h;
  const std::vector<std::string> criteria = {
      "Encounter?identifier=p1",
      "Encounter?identifier=cht|p1",
      "Encounter?identifier=other|p1",
      "Encounter?identifier=|p1",
      "Encounter?status=finished",
      "Encounter?status=finished,cancelled",
      "Encounter?status:not=finished",
      "Encounter?class=AMB",
      "Encounter?subject=Patient/pat-1",
      "Encounter?subject=pat-1",
      "Encounter?subject:Patient=pat-1",
      "Encounter?subject:Group=pat-1",
      "Encounter?subject:identifier=cht|x",
      "Encounter?date=ge2020-01-01",
      "Encounter?date=lt2020-01-01",
      "Encounter?identifier=p1&status=planned",
      "Encounter?_id=nope",
      "Encounter?reason-code:missing=true",
      "Encounter",
      "Patient?name=ann",
  };
  // The Encounter's subject must exist (referential integrity).
  ASSERT_EQ(
      h.call("PUT", "/fhir/Patient/pat-1", R"({"resourceType":"Patient","id":"pat-1"})").status,
      201);
  Json e = encounter("p1");
  e["subject"] = {{"reference", "Patient/pat-1"}};
  e["period"] = {{"start", "2021-05-01T10:00:00Z"}};
  std::vector<std::string> ids;
  for (const auto& c : criteria) {
    ids.push_back(h.create(restHook(c, "http://cb.test/fhir"))["id"].get<std::string>());
  }
  Json stored = h.create(e);
  std::set<std::string> fired;
  for (const auto& j : jobs(h)) fired.insert(j.destination);
  for (size_t i = 0; i < criteria.size(); ++i) {
    const std::string& c = criteria[i];
    std::string type = c.substr(0, c.find('?'));
    std::string query = c.find('?') == std::string::npos ? "" : c.substr(c.find('?') + 1);
    auto found = h.ids("/fhir/" + type + "?" + query + (query.empty() ? "" : "&") +
                       "_id=" + stored["id"].get<std::string>());
    EXPECT_EQ(fired.count("Subscription/" + ids[i]) == 1, found.size() == 1) << c;
  }
  EXPECT_GE(fired.size(), 8u);
}

TEST(SubscriptionMatchTest, OffAndDeleteCancelPendingNotifications) {
  FhirHarness h;
  Json a = h.create(restHook("Encounter?identifier=p1", "http://cb.test/a"));
  Json b = h.create(restHook("Encounter?identifier=p1", "http://cb.test/b"));
  h.create(encounter("p1"));
  h.create(encounter("p1"));
  ASSERT_EQ(jobs(h).size(), 4u);

  a["status"] = "off";
  ASSERT_EQ(h.call("PUT", "/fhir/Subscription/" + a["id"].get<std::string>(), dumpJson(a)).status,
            200);
  ASSERT_EQ(h.call("DELETE", "/fhir/Subscription/" + b["id"].get<std::string>()).status, 200);
  EXPECT_TRUE(jobs(h).empty());
  h.create(encounter("p1"));
  EXPECT_TRUE(jobs(h).empty());  // off and deleted subscriptions match nothing

  a["status"] = "active";
  ASSERT_EQ(h.call("PUT", "/fhir/Subscription/" + a["id"].get<std::string>(), dumpJson(a)).status,
            200);
  h.create(encounter("p1"));
  EXPECT_EQ(jobs(h).size(), 1u);
}

// A WorkerPool on the harness's database, with a FakeHttpClient answering as told.
class DeliveryRig {
 public:
  explicit DeliveryRig(FhirHarness& h, FhirOptions options = {})
      : h_(h),
        random_(7),
        client_([this](net::ClientRequest request, net::HttpClient::Callback done) {
          int status = 0;
          {
            std::lock_guard lock(mu_);
            sent_.push_back(request);
            status = status_;
          }
          if (status == 0) {
            done(unavailable("connection refused"));
          } else {
            net::ClientResponse r;
            r.status = status;
            done(std::move(r));
          }
        }) {
    (void)options;
    queue_.initial_backoff = std::chrono::milliseconds(1000);
    queue_.max_attempts = 100;
    pool_ = std::make_unique<queue::WorkerPool>(h.db(), h.clock(), random_, queue_,
                                                testing::nullLogger());
    pool_->addHandler(std::string(subscription::kJobKind),
                      h.service().subscriptionHandler(client_, queue_, [] {}));
  }
  ~DeliveryRig() { pool_->stop(std::chrono::seconds(5)); }

  // Runs every due job until none is left, moving the clock past retries `rounds` times.
  void settle(int rounds = 0) {
    for (int i = 0; i <= rounds; ++i) {
      for (;;) {
        auto n = pool_->pollOnce();
        ASSERT_TRUE(n.has_value()) << n.error().message;
        if (*n == 0) break;
        ASSERT_TRUE(testing::waitUntil([&] {
          return pool_->flushOutcomes().has_value() && jobs(h_, queue::JobState::Running).empty();
        }));
      }
      h_.clock().advance(std::chrono::hours(2));
    }
  }
  void answer(int status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  std::vector<net::ClientRequest> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  FhirHarness& h_;
  MtRandom random_;
  testing::FakeHttpClient client_;
  queue::QueueOptions queue_;
  std::unique_ptr<queue::WorkerPool> pool_;
  std::mutex mu_;
  std::vector<net::ClientRequest> sent_;
  int status_ = 200;
};

TEST(SubscriptionDeliveryTest, PutsTheEncounterAtEndpointTypeIdWithHeaders) {
  FhirHarness h;
  DeliveryRig rig(h);
  Json s = restHook("Encounter?identifier=p1", "http://cb.test/fhir/");
  s["channel"]["header"] = {"Authorization: Bearer abc", "X-Extra:  two words "};
  h.create(s);
  Json e = h.create(encounter("p1"));
  rig.settle();
  auto sent = rig.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "PUT");
  EXPECT_EQ(sent[0].url, "http://cb.test/fhir/Encounter/" + e["id"].get<std::string>());
  EXPECT_EQ(sent[0].headers.get("Authorization"), "Bearer abc");
  EXPECT_EQ(sent[0].headers.get("X-Extra"), "two words");
  EXPECT_THAT(std::string(sent[0].headers.get("Content-Type")), HasSubstr("application/fhir+json"));
  auto body = parseJson(sent[0].body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body, e);  // the version that matched, meta included
  EXPECT_TRUE(jobs(h, queue::JobState::Pending).empty());
  EXPECT_EQ(jobs(h, queue::JobState::Done).size(), 1u);
}

TEST(SubscriptionDeliveryTest, WithoutPayloadPostsAnEmptyPingToTheEndpoint) {
  FhirHarness h;
  DeliveryRig rig(h);
  h.create(restHook("Encounter?identifier=p1", "http://cb.test/ping", /*payload=*/false));
  h.create(encounter("p1"));
  rig.settle();
  auto sent = rig.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "POST");
  EXPECT_EQ(sent[0].url, "http://cb.test/ping");
  EXPECT_TRUE(sent[0].body.empty());
}

TEST(SubscriptionDeliveryTest, FailuresKeepOrderThenErrorStatusThenActiveAgain) {
  FhirOptions options;
  options.subscription_max_failures = 3;
  FhirHarness h(options);
  DeliveryRig rig(h);
  Json sub = h.create(restHook("Encounter?identifier=p1", "http://cb.test/fhir"));
  const std::string sub_path = "/fhir/Subscription/" + sub["id"].get<std::string>();
  rig.answer(503);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(h.create(encounter("p1"))["id"]);
  rig.settle(3);
  // Every attempt went to the oldest notification: no later one overtook it.
  for (const auto& r : rig.sent()) EXPECT_THAT(r.url, HasSubstr(ids[0]));
  Json failing = h.json(h.call("GET", sub_path));
  EXPECT_EQ(failing["status"], "error");
  EXPECT_THAT(failing.value("error", ""), HasSubstr("HTTP 503"));

  size_t before = rig.sent().size();
  rig.answer(200);
  rig.settle(1);
  auto sent = rig.sent();
  std::vector<std::string> delivered;
  for (size_t i = before; i < sent.size(); ++i) delivered.push_back(sent[i].url);
  std::vector<std::string> expected;
  for (const auto& id : ids) expected.push_back("http://cb.test/fhir/Encounter/" + id);
  EXPECT_EQ(delivered, expected);
  Json healed = h.json(h.call("GET", sub_path));
  EXPECT_EQ(healed["status"], "active");
  EXPECT_FALSE(healed.contains("error"));
  EXPECT_TRUE(jobs(h, queue::JobState::Pending).empty());
}

TEST(SubscriptionDeliveryTest, OffOrDeletedBeforeDeliverySendsNothing) {
  FhirHarness h;
  DeliveryRig rig(h);
  Json sub = h.create(restHook("Encounter?identifier=p1", "http://cb.test/fhir"));
  rig.answer(500);
  h.create(encounter("p1"));
  rig.settle();  // one failed attempt; the job waits for its retry
  ASSERT_EQ(rig.sent().size(), 1u);
  sub["status"] = "off";
  ASSERT_EQ(
      h.call("PUT", "/fhir/Subscription/" + sub["id"].get<std::string>(), dumpJson(sub)).status,
      200);
  rig.answer(200);
  h.create(encounter("p1"));
  rig.settle(2);
  EXPECT_EQ(rig.sent().size(), 1u);
  EXPECT_TRUE(jobs(h, queue::JobState::Pending).empty());
}

}  // namespace
}  // namespace chtlink::fhir
