// rest-hook Subscriptions with the real binary and a real receiver: the mediator's LTFU flow
// (PUT <endpoint>/Encounter/<id>), order per subscription, a receiver that is down for a
// while, status error and back, and a SIGKILL between the commit and the delivery.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/json.h"
#include "receiver.h"
#include "serve_process.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;

class Fhir {
 public:
  explicit Fhir(ServeProcess& serve) : serve_(serve) {}

  Result<net::ClientResponse> send(const std::string& method, const std::string& path,
                                   const Json& body = Json()) {
    net::ClientRequest r;
    r.method = method;
    r.url = serve_.url("/fhir" + path, "fhir");
    if (!body.is_null()) {
      r.body = dumpJson(body);
      r.headers.set("Content-Type", "application/fhir+json");
    }
    return client_.send(std::move(r));
  }
  // POSTs `resource`; the stored resource, or null after a failure reported to gtest.
  Json create(const Json& resource) {
    auto r = send("POST", "/" + resource.value("resourceType", ""), resource);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    if (!r.has_value()) return Json();
    EXPECT_EQ(r->status, 201) << r->body;
    auto j = parseJson(r->body);
    return j.has_value() ? *j : Json();
  }
  Json read(const std::string& path) {
    auto r = send("GET", path);
    if (!r.has_value() || r->status != 200) return Json();
    auto j = parseJson(r->body);
    return j.has_value() ? *j : Json();
  }

 private:
  ServeProcess& serve_;
  TestClient client_;
};

// What the mediator creates for a ServiceRequest (cht-interoperability, fhir.md 0.8).
Json mediatorSubscription(const std::string& patient, const std::string& endpoint) {
  return {{"resourceType", "Subscription"},
          {"id", patient},
          {"status", "requested"},
          {"reason", "Follow up"},
          {"criteria", "Encounter?identifier=" + patient},
          {"channel",
           {{"type", "rest-hook"},
            {"endpoint", endpoint},
            {"payload", "application/fhir+json"},
            {"header", {"Authorization: Bearer s3cret"}}}}};
}

Json encounter(const std::string& patient) {
  return {
      {"resourceType", "Encounter"},
      {"status", "finished"},
      {"class", {{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"}, {"code", "AMB"}}},
      {"identifier", {{{"system", "cht"}, {"value", patient}}}}};
}

// Targets of the requests a receiver saw whose path starts with `prefix`, in arrival order.
std::vector<std::string> targets(const Receiver& receiver, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& r : receiver.requests())
    if (r.target.rfind(prefix, 0) == 0) out.push_back(r.method + " " + r.target);
  return out;
}

std::vector<std::string> puts(const std::string& prefix, const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& id : ids) out.push_back("PUT " + prefix + "/Encounter/" + id);
  return out;
}

TEST(FhirSubscriptionTest, MediatorFlowDeliversExactlyTheMatchingEncountersInOrder) {
  TempDir dir;
  Receiver receiver;
  ServeProcess serve(dir, {"queue.poll_interval=100ms"});
  Fhir fhir(serve);
  const std::string p1 = "3b5f7c1e-0c1a-4d7e-9f00-000000000001";
  const std::string p2 = "3b5f7c1e-0c1a-4d7e-9f00-000000000002";
  Json s1 = fhir.create(mediatorSubscription(p1, receiver.url("/cb1/fhir")));
  Json s2 = fhir.create(mediatorSubscription(p2, receiver.url("/cb2/fhir")));
  EXPECT_EQ(s1["status"], "active");
  EXPECT_NE(s1["id"], p1);  // POST assigns the id (fhir.md 0.1)
  EXPECT_EQ(s1["criteria"], "Encounter?identifier=" + p1);

  std::vector<std::string> ids1, ids2;
  std::vector<Json> bodies1;
  for (int i = 0; i < 5; ++i) {
    Json e = fhir.create(encounter(p1));
    ids1.push_back(e["id"]);
    bodies1.push_back(e);
    if (i % 2 == 0) ids2.push_back(fhir.create(encounter(p2))["id"]);
    fhir.create(encounter("someone-else"));
  }
  fhir.create({{"resourceType", "Patient"}, {"identifier", {{{"value", p1}}}}});

  ASSERT_TRUE(waitUntil([&] { return receiver.received() >= ids1.size() + ids2.size(); },
                        std::chrono::seconds(20)))
      << serve.process().output();
  EXPECT_EQ(targets(receiver, "/cb1"), puts("/cb1/fhir", ids1));
  EXPECT_EQ(targets(receiver, "/cb2"), puts("/cb2/fhir", ids2));
  size_t i = 0;
  for (const auto& r : receiver.requests()) {
    EXPECT_EQ(r.headers.get("Authorization"), "Bearer s3cret");
    EXPECT_THAT(std::string(r.headers.get("Content-Type")), HasSubstr("application/fhir+json"));
    if (r.target.rfind("/cb1", 0) == 0) {
      auto body = parseJson(r.body);
      ASSERT_TRUE(body.has_value());
      EXPECT_EQ(*body, bodies1[i++]);
    }
  }
  // Nothing else arrives: an update that changes nothing, and writes of other types, are quiet.
  Json same = bodies1[0];
  ASSERT_EQ(fhir.send("PUT", "/Encounter/" + ids1[0], same)->status, 200);
  Json changed = bodies1[0];
  changed["status"] = "cancelled";
  ASSERT_EQ(fhir.send("PUT", "/Encounter/" + ids1[0], changed)->status, 200);
  ASSERT_TRUE(waitUntil([&] { return receiver.received() == ids1.size() + ids2.size() + 1; },
                        std::chrono::seconds(20)));
  EXPECT_EQ(targets(receiver, "/cb1").back(), "PUT /cb1/fhir/Encounter/" + ids1[0]);
  auto last = parseJson(receiver.requests().back().body);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ((*last)["status"], "cancelled");  // the update, not the unchanged re-PUT
  EXPECT_EQ((*last)["meta"]["versionId"], "2");
}

// A port nothing listens on (bound, then closed at once): connections to it are refused.
uint16_t closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(FhirSubscriptionTest, ReceiverDownThenBackGetsEverythingInOrderAndStatusRecovers) {
  TempDir dir;
  const uint16_t port = closedPort();  // the receiver is down: connections are refused
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(port) + "/cb/fhir";
  std::unique_ptr<Receiver> receiver;
  ServeProcess serve(
      dir, {"queue.poll_interval=100ms", "queue.initial_backoff=100ms", "queue.max_backoff=400ms",
            "queue.max_attempts=1000", "fhir.subscription_max_failures=3"});
  Fhir fhir(serve);
  Json sub = fhir.create(mediatorSubscription("p1", endpoint));
  const std::string sub_path = "/Subscription/" + sub["id"].get<std::string>();

  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(fhir.create(encounter("p1"))["id"]);
  ASSERT_TRUE(waitUntil([&] { return fhir.read(sub_path).value("status", "") == "error"; },
                        std::chrono::seconds(20)))
      << serve.process().output();
  EXPECT_THAT(fhir.read(sub_path).value("error", ""), HasSubstr("Encounter/" + ids[0]));

  receiver = std::make_unique<Receiver>(port);  // back, on the same address
  ASSERT_TRUE(
      waitUntil([&] { return receiver->received() >= ids.size(); }, std::chrono::seconds(20)))
      << serve.process().output();
  EXPECT_EQ(targets(*receiver, "/cb"), puts("/cb/fhir", ids));
  ASSERT_TRUE(waitUntil([&] { return fhir.read(sub_path).value("status", "") == "active"; }));
  EXPECT_FALSE(fhir.read(sub_path).contains("error"));
}

TEST(FhirSubscriptionTest, KilledAfterCommitBeforeDeliveryDeliversAfterRestart) {
  TempDir dir;
  Receiver receiver;
  receiver.acknowledgeAtMost(0);  // the first delivery is held in flight
  std::vector<std::string> ids;
  {
    ServeProcess a(dir, {"queue.lease=2s", "queue.poll_interval=100ms"});
    Fhir fhir(a);
    fhir.create(mediatorSubscription("p1", receiver.url("/cb/fhir")));
    for (int i = 0; i < 3; ++i) ids.push_back(fhir.create(encounter("p1"))["id"]);
    ASSERT_TRUE(waitUntil([&] { return receiver.held() == 1; }, std::chrono::seconds(20)))
        << a.process().output();
    a.process().signal(SIGKILL);
    EXPECT_EQ(a.process().wait(std::chrono::seconds(10)), 128 + SIGKILL);
  }
  EXPECT_EQ(targets(receiver, "/cb"), puts("/cb/fhir", {ids[0]}));

  receiver.acknowledgeAtMost(-1);
  ServeProcess b(dir, {"queue.lease=2s", "queue.poll_interval=100ms"});
  ASSERT_TRUE(waitUntil([&] { return receiver.received() >= 4; }, std::chrono::seconds(30)))
      << b.process().output();
  // The held one again (at least once), then the rest, in order.
  std::vector<std::string> expected = puts("/cb/fhir", {ids[0]});
  for (const auto& t : puts("/cb/fhir", ids)) expected.push_back(t);
  EXPECT_EQ(targets(receiver, "/cb"), expected);
  auto requests = receiver.requests();
  EXPECT_EQ(requests[0].headers.get("X-Chtlink-Notification-Id"),
            requests[1].headers.get("X-Chtlink-Notification-Id"));
}

TEST(FhirSubscriptionTest, OffAndDeletedSubscriptionsReceiveNothing) {
  TempDir dir;
  Receiver receiver;
  ServeProcess serve(dir, {"queue.poll_interval=100ms"});
  Fhir fhir(serve);
  Json off = fhir.create(mediatorSubscription("p1", receiver.url("/off/fhir")));
  Json gone = fhir.create(mediatorSubscription("p1", receiver.url("/gone/fhir")));
  Json ping = mediatorSubscription("p1", receiver.url("/ping"));
  ping["channel"].erase("payload");
  fhir.create(ping);
  off["status"] = "off";
  ASSERT_EQ(fhir.send("PUT", "/Subscription/" + off["id"].get<std::string>(), off)->status, 200);
  ASSERT_EQ(fhir.send("DELETE", "/Subscription/" + gone["id"].get<std::string>())->status, 200);

  fhir.create(encounter("p1"));
  fhir.create(encounter("p1"));
  // The live subscription's two pings are the sign the writes were processed.
  ASSERT_TRUE(waitUntil([&] { return receiver.received() >= 2; }, std::chrono::seconds(20)));
  EXPECT_EQ(targets(receiver, "/"), (std::vector<std::string>{"POST /ping", "POST /ping"}));
  for (const auto& r : receiver.requests()) EXPECT_TRUE(r.body.empty());
}

}  // namespace
}  // namespace chtlink::testing
