// The mediator in the real binary: the LTFU workflow end to end with chtlink's FHIR, the
// `chtlink cht-sim --seed ltfu` process and a real callback receiver; compensation when CHT
// answers 500; SIGKILL between the Subscription and the CHT record; OpenHIM registration and
// heartbeat against chtlink's own admin API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "child_process.h"
#include "cht_sim_process.h"
#include "him_fixture.h"
#include "receiver.h"
#include "serve_process.h"
#include "temp_dir.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kInterop = "interop-client:interop-password";

// A port that was free a moment ago.
uint16_t freePort() {
  Receiver probe;
  return probe.port();
}

// Calls as CHT's admin, to cht-sim, and plain calls to FHIR or the mediator.
class Http {
 public:
  net::ClientResponse send(const std::string& method, const std::string& url,
                           const std::string& body = "",
                           std::optional<net::BasicAuth> auth = std::nullopt) {
    net::ClientRequest request;
    request.method = method;
    request.url = url;
    request.body = body;
    if (!body.empty()) request.headers.set("Content-Type", "application/json");
    request.auth = std::move(auth);
    auto answer = client_.send(std::move(request));
    EXPECT_TRUE(answer.has_value()) << (answer ? "" : answer.error().message);
    return answer.has_value() ? *answer : net::ClientResponse{};
  }
  net::ClientResponse cht(const std::string& method, const std::string& url,
                          const std::string& body = "") {
    return send(method, url, body, net::BasicAuth{"medic", "password"});
  }
  int64_t total(const std::string& url) {
    auto j = parseJson(send("GET", url).body);
    return j && j->contains("total") ? (*j)["total"].get<int64_t>() : -1;
  }
  Json first(const std::string& url) {
    auto j = parseJson(send("GET", url).body);
    if (!j || !j->contains("entry") || (*j)["entry"].empty()) return Json();
    return (*j)["entry"][0]["resource"];
  }

 private:
  TestClient client_;
};

Json endpointFor(const std::string& callback) {
  return Json{{"identifier", Json::array({Json{{"system", "official"}, {"value", "ep-1"}}})},
              {"connectionType",
               Json{{"system", "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"},
                    {"code", "hl7-fhir-rest"}}},
              {"payloadType", Json::array({Json{{"text", "Now"}}})},
              {"address", callback}};
}

Json organizationFor(const std::string& endpoint_id) {
  return Json{{"identifier", Json::array({Json{{"system", "official"}, {"value", "org-1"}}})},
              {"name", Json::array({"Requesting system"})},
              {"endpoint", Json::array({Json{{"reference", "Endpoint/" + endpoint_id}}})}};
}

Json serviceRequestFor(const std::string& patient_id) {
  return Json{{"intent", "order"},
              {"subject", Json{{"reference", "Patient/" + patient_id}}},
              {"requester", Json{{"reference", "Organization/org-1"}}}};
}

std::string idOf(const net::ClientResponse& r) {
  auto j = parseJson(r.body);
  return j && j->contains("id") ? (*j)["id"].get<std::string>() : "";
}

// chtlink serve (router + admin API + FHIR + mediator) and cht-sim pointing at each other.
class LtfuStack {
 public:
  explicit LtfuStack(std::vector<std::string> extra = {})
      : cht_port_(freePort()), serve_(dir_, sets(cht_port_, std::move(extra))) {
    sim_ = std::make_unique<ChtSimProcess>(dir_, serve_.router(""),
                                           std::vector<std::string>{"--test-hooks"}, cht_port_);
    serve_.createClient("interop-client", "interop-password", {"interop"});
    serve_.createChannel(
        channelTo("Mediator", "^/mediator/.*$", serve_.serve().port("mediator"),
                  Json{{"routes", Json::array({Json{{"name", "Mediator"},
                                                    {"host", "127.0.0.1"},
                                                    {"port", serve_.serve().port("mediator")},
                                                    {"pathTransform", "s/\\/mediator/"},
                                                    {"primary", true}}})}}));
  }
  static std::vector<std::string> sets(uint16_t cht_port, std::vector<std::string> extra) {
    std::vector<std::string> s = {"mediator.cht_url=http://127.0.0.1:" + std::to_string(cht_port),
                                  "mediator.cht_username=medic", "mediator.cht_password=password",
                                  "queue.poll_interval=50ms"};
    s.insert(s.end(), extra.begin(), extra.end());
    return s;
  }
  HimServe& serve() { return serve_; }
  ChtSimProcess& sim() { return *sim_; }
  std::string fhir(const std::string& path) { return serve_.serve().url("/fhir" + path, "fhir"); }
  net::ClientResponse viaRouter(const std::string& path, const Json& body) {
    auto r = serve_.routerCall("POST", path, kInterop, dumpJson(body));
    EXPECT_TRUE(r.has_value());
    return r.has_value() ? *r : net::ClientResponse{};
  }

  // A patient created in cht-sim, pushed by its outbound FHIR_patient through the router.
  std::string pushedPatient() {
    auto place = http.cht("POST", sim_->url("/api/v1/places"),
                          R"({"name":"Home","type":"district_hospital"})");
    EXPECT_EQ(place.status, 200) << place.body;
    const std::string place_id = idOf(place);
    auto person = http.cht("POST", sim_->url("/api/v1/people"),
                           R"({"name":"Amina Otieno","short_name":"Amina","sex":"female",)"
                           R"("date_of_birth":"1990-04-12","role":"patient","place":")" +
                               place_id + "\"}");
    EXPECT_EQ(person.status, 200) << person.body;
    std::string id = idOf(person);
    EXPECT_TRUE(waitUntil([&] { return http.total(fhir("/Patient?identifier=" + id)) == 1; }, 15s))
        << serve_.serve().process().output();
    return id;
  }

  Http http;

 private:
  TempDir dir_;
  uint16_t cht_port_;
  HimServe serve_;
  std::unique_ptr<ChtSimProcess> sim_;
};

TEST(MediatorLtfuIntegrationTest, FollowUpRequestReachesTheChwAndTheEncounterComesBack) {
  LtfuStack stack;
  ASSERT_NE(stack.sim().port(), 0) << stack.sim().process().output();
  Receiver callback;
  const std::string patient_id = stack.pushedPatient();
  ASSERT_FALSE(patient_id.empty());

  // The requesting system registers its callback and itself through the router.
  auto endpoint = stack.viaRouter("/mediator/endpoint", endpointFor(callback.url("/callback")));
  ASSERT_EQ(endpoint.status, 201) << endpoint.body;
  auto org = stack.viaRouter("/mediator/organization", organizationFor(idOf(endpoint)));
  ASSERT_EQ(org.status, 201) << org.body;
  EXPECT_EQ(stack.http.total(stack.fhir("/Endpoint/?identifier=ep-1")), 1);
  EXPECT_EQ(stack.http.total(stack.fhir("/Organization/?identifier=org-1")), 1);

  // The CHW's report will carry its form fields (one mapping line added to FHIR_encounter),
  // so the default mapping table yields an Observation.
  auto settings = parseJson(stack.http.cht("GET", stack.sim().url("/api/v1/settings")).body);
  ASSERT_TRUE(settings.has_value());
  (*settings)["outbound"]["FHIR_encounter"]["mapping"]["fields"] = Json{{"path", "doc.fields"}};
  ASSERT_EQ(stack.http.cht("PUT", stack.sim().url("/api/v1/settings"), dumpJson(*settings)).status,
            200);

  auto request = stack.viaRouter("/mediator/service-request", serviceRequestFor(patient_id));
  ASSERT_EQ(request.status, 201) << request.body;
  auto subscription = parseJson(request.body).value();
  EXPECT_EQ(subscription["criteria"], "Encounter?identifier=" + patient_id);
  // The router keeps the mediator's orchestrations in its transaction log (written once the
  // exchange has finished, so poll).
  EXPECT_TRUE(waitUntil(
      [&] {
        return dumpJson(stack.serve().transactions()).find("CHT create interop_follow_up record") !=
               std::string::npos;
      },
      10s));

  // The interop_follow_up record exists in CHT.
  auto docs = stack.http.cht("GET", stack.sim().url("/medic/_all_docs?include_docs=true"));
  EXPECT_THAT(docs.body, HasSubstr("\"form\":\"INTEROP_FOLLOW_UP\""));
  EXPECT_THAT(docs.body, HasSubstr("\"patient_uuid\":\"" + patient_id + "\""));
  EXPECT_EQ(stack.http.first(stack.fhir("/ServiceRequest"))["status"], "active");

  // The CHW completes the task: the report is written as the app would (bulk docs).
  Json report{
      {"_id", "f1e2d3c4-3333-4a5b-8c6d-7e8f9a0b1c2d"},
      {"_rev", "1-2b7d9e"},
      {"type", "data_record"},
      {"form", "interop_follow_up"},
      {"content_type", "xml"},
      {"reported_date", 1717500000000},
      {"contact", Json{{"_id", "chw-1"}}},
      {"fields",
       Json{{"inputs", Json{{"source", "task"},
                            {"contact", Json{{"_id", patient_id}, {"name", "Amina Otieno"}}}}},
            {"vaccination_details", Json{{"interop_follow_up", "yes"}}}}}};
  auto bulk = stack.http.cht("POST", stack.sim().url("/medic/_bulk_docs"),
                             dumpJson(Json{{"docs", Json::array({report})}, {"new_edits", false}}));
  ASSERT_EQ(bulk.status, 201) << bulk.body;

  // cht-sim pushes it; the Encounter and its Observation are stored; the Subscription fires.
  ASSERT_TRUE(waitUntil(
      [&] { return stack.http.total(stack.fhir("/Encounter?identifier=" + patient_id)) == 1; },
      15s))
      << stack.serve().serve().process().output();
  std::string encounter_id =
      stack.http.first(stack.fhir("/Encounter?identifier=" + patient_id))["id"];
  EXPECT_EQ(stack.http.total(stack.fhir("/Observation?encounter=Encounter/" + encounter_id)), 1);
  ASSERT_TRUE(waitUntil(
      [&] {
        for (const auto& r : callback.requests())
          if (r.method == "PUT" && r.path == "/callback/Encounter/" + encounter_id) return true;
        return false;
      },
      15s))
      << "callback requests: " << callback.received();
  EXPECT_TRUE(waitUntil(
      [&] { return stack.http.first(stack.fhir("/ServiceRequest"))["status"] == "completed"; },
      15s));

  // Repeated pushes of the same patient (CHT retries) change nothing.
  auto again = stack.viaRouter(
      "/mediator/patient",
      Json{{"resourceType", "Patient"},
           {"identifier", Json::array({Json{{"system", "cht"}, {"value", patient_id}}})},
           {"name", Json::array({Json{{"family", "Amina Otieno"}, {"given", {"Amina"}}}})},
           {"gender", "female"},
           {"birthDate", "1990-04-12"}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(stack.http.total(stack.fhir("/Patient?identifier=" + patient_id)), 1);
}

TEST(MediatorLtfuIntegrationTest, ChtServerErrorLeavesNoSubscription) {
  LtfuStack stack;
  ASSERT_NE(stack.sim().port(), 0) << stack.sim().process().output();
  Receiver callback;
  const std::string patient_id = stack.pushedPatient();
  auto endpoint = stack.viaRouter("/mediator/endpoint", endpointFor(callback.url("/callback")));
  ASSERT_EQ(endpoint.status, 201);
  ASSERT_EQ(stack.viaRouter("/mediator/organization", organizationFor(idOf(endpoint))).status, 201);
  // Without the form in app_settings CHT answers 500 ("Form not found").
  auto settings =
      parseJson(stack.http.cht("GET", stack.sim().url("/api/v1/settings")).body).value();
  settings["forms"].erase("INTEROP_FOLLOW_UP");
  ASSERT_EQ(
      stack.http.cht("PUT", stack.sim().url("/api/v1/settings?overwrite=true"), dumpJson(settings))
          .status,
      200);
  auto request = stack.viaRouter("/mediator/service-request", serviceRequestFor(patient_id));
  EXPECT_EQ(request.status, 500) << request.body;
  EXPECT_THAT(request.body, HasSubstr("Unable to create the follow up task: CHT answered 500"));
  EXPECT_EQ(stack.http.total(stack.fhir("/Subscription")), 0);
  EXPECT_EQ(stack.http.first(stack.fhir("/ServiceRequest"))["status"], "revoked");
}

TEST(MediatorLtfuIntegrationTest, KilledBetweenSubscriptionAndRecordTheRestartFinishesIt) {
  TempDir dir;
  Http http;
  const std::vector<std::string> durable = {
      "mediator.recovery_delay=200ms", "queue.lease=1s",           "queue.initial_backoff=100ms",
      "queue.max_backoff=500ms",       "queue.poll_interval=50ms", "mediator.cht_username=medic",
      "mediator.cht_password=password"};
  std::string patient_id = "b7c1a0f25d1e4c8e9a510c2f8e6d4a10";
  {
    Receiver stalled_cht;  // takes the record request and never answers
    stalled_cht.answerWith(Receiver::kHold);
    auto sets = durable;
    sets.push_back("mediator.cht_url=" + stalled_cht.url(""));
    ServeProcess serve(dir, sets);
    auto mediator = [&](const std::string& path) { return serve.url(path, "mediator"); };
    auto p = http.send(
        "POST", mediator("/patient"),
        dumpJson(Json{{"identifier", Json::array({Json{{"system", "cht"}, {"value", patient_id}}})},
                      {"name", Json::array({Json{{"family", "A"}, {"given", {"B"}}}})},
                      {"gender", "male"},
                      {"birthDate", "1980-01-01"}}));
    ASSERT_EQ(p.status, 201) << p.body;
    auto ep =
        http.send("POST", mediator("/endpoint"), dumpJson(endpointFor("http://127.0.0.1:9/cb")));
    ASSERT_EQ(ep.status, 201);
    ASSERT_EQ(
        http.send("POST", mediator("/organization"), dumpJson(organizationFor(idOf(ep)))).status,
        201);
    // The request hangs at the CHT step; the Subscription is stored by then.
    TestClient async_client;
    std::thread caller([&] {
      net::ClientRequest r;
      r.method = "POST";
      r.url = mediator("/service-request");
      r.body = dumpJson(serviceRequestFor(patient_id));
      r.headers.set("Content-Type", "application/json");
      r.timeout = std::chrono::milliseconds(20'000);
      (void)async_client.send(std::move(r));
    });
    bool reached = waitUntil([&] { return stalled_cht.received() >= 1; }, 10s);
    EXPECT_TRUE(reached);
    EXPECT_EQ(http.total(serve.url("/fhir/Subscription", "fhir")), 1);
    serve.process().signal(SIGKILL);
    serve.process().wait(5s);
    caller.join();
    ASSERT_TRUE(reached);
  }
  // Restart with a CHT that works: the operation is finished (record created, Subscription kept).
  const uint16_t sim_port = freePort();
  ChtSimProcess sim(dir, "http://127.0.0.1:9", {"--test-hooks"}, sim_port);
  ASSERT_NE(sim.port(), 0) << sim.process().output();
  auto sets = durable;
  sets.push_back("mediator.cht_url=" + sim.url());
  ServeProcess serve(dir, sets);
  EXPECT_TRUE(waitUntil(
      [&] {
        auto docs = http.cht("GET", sim.url("/medic/_all_docs?include_docs=true"));
        return docs.body.find("\"form\":\"INTEROP_FOLLOW_UP\"") != std::string::npos;
      },
      15s))
      << serve.process().output();
  EXPECT_EQ(http.total(serve.url("/fhir/Subscription", "fhir")), 1);
  Json sr = http.first(serve.url("/fhir/ServiceRequest", "fhir"));
  EXPECT_EQ(sr["status"], "active");
}

TEST(MediatorRegistrationIntegrationTest, RegistersAndHeartbeatsWithChtlinksAdminApi) {
  TempDir openhim_dir;
  HimServe openhim(openhim_dir);
  TempDir dir;
  ServeProcess mediator(dir, {"mediator.openhim_api_url=" + openhim.api(""),
                              "mediator.openhim_username=root@openhim.org",
                              "mediator.openhim_password=openhim-password",
                              "mediator.heartbeat_interval=100ms", "him.enabled=false"});
  Http http;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto r = openhim.apiCall("GET", "/mediators/urn:mediator:ltfu-mediator");
        if (!r || r->status != 200) return false;
        auto doc = parseJson(r->body);
        return doc && doc->contains("_uptime") && (*doc)["_uptime"].is_number();
      },
      10s))
      << mediator.process().output();
  auto doc =
      parseJson(openhim.apiCall("GET", "/mediators/urn:mediator:ltfu-mediator")->body).value();
  EXPECT_EQ(doc["endpoints"][0]["port"], std::to_string(mediator.port("mediator")));
  EXPECT_EQ(doc["defaultChannelConfig"][0]["urlPattern"], "^/mediator/.*$");
  auto status = parseJson(http.send("GET", mediator.url("/", "mediator")).body).value();
  EXPECT_EQ(status["openhim"]["registered"], true);

  // The operator installs the default channel; the router then reaches the mediator.
  auto install = openhim.apiCall("POST", "/mediators/urn:mediator:ltfu-mediator/channels",
                                 Json::array({"Mediator"}));
  ASSERT_TRUE(install.has_value());
  EXPECT_EQ(install->status, 201) << install->body;
  openhim.createClient("interop-client", "interop-password", {"interop"});
  ASSERT_TRUE(waitUntil(
      [&] {
        auto r = openhim.routerCall("GET", "/mediator/", kInterop);
        return r && r->status == 200 && r->body.find("\"success\"") != std::string::npos;
      },
      10s));
}

}  // namespace
}  // namespace chtlink::testing
