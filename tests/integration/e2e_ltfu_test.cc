// End to end: one `chtlink serve` in sandbox mode (router, admin API, FHIR, mediator and
// cht-sim on free ports, the reference configuration installed), driven over HTTP only, as
// the reference deployment's own end-to-end test drives the six containers.
#include <gtest/gtest.h>

#include <csignal>
#include <optional>

#include "base/json.h"
#include "e2e_calls.h"
#include "receiver.h"
#include "serve_process.h"
#include "temp_dir.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

using namespace std::chrono_literals;

class E2e : public ::testing::Test, protected E2eCalls {
 protected:
  // Sandbox serve with the reference configuration; `sets` pin ports for a restart.
  void start(std::vector<std::string> sets = {}) {
    sets.insert(sets.begin(), {"sandbox.mode=on", "sandbox.seed=true", "cht_sim.port=0"});
    serve_ = std::make_unique<ServeProcess>(dir_, sets);
    ASSERT_NE(serve_->port("mediator"), 0) << serve_->process().output();
    ASSERT_NE(serve_->port("cht"), 0) << serve_->process().output();
    // The sandbox installs its channels asynchronously after start: wait for both.
    ASSERT_TRUE(
        waitUntil([&] { return status("GET", router("/mediator/"), std::nullopt) == 200; }, 20s))
        << serve_->process().output();
    ASSERT_TRUE(waitUntil(
        [&] { return status("GET", router("/fhir/metadata"), std::nullopt) == 200; }, 20s))
        << serve_->process().output();
  }

  std::string router(const std::string& path) const { return serve_->url(path); }
  std::string cht(const std::string& path) const { return serve_->url(path, "cht"); }

  int64_t total(const std::string& search) { return E2eCalls::total(router("/fhir/" + search)); }

  // A CHT place and CHW user; returns {place id, chw contact id}.
  std::pair<std::string, std::string> createChw(const std::string& username) {
    Json place =
        json("POST", cht("/api/v1/places"),
             Json{{"name", "CHP Branch Two"}, {"type", "district_hospital"}}, 200, kChtSimAdmin);
    std::string place_id = place.value("id", "");
    Json user = json(
        "POST", cht("/api/v2/users"),
        Json{{"username", username},
             {"password", "Dakar1234"},
             {"type", "chw"},
             {"place", {{"name", "Mary's Area"}, {"type", "health_center"}, {"parent", place_id}}},
             {"contact", {{"name", "Maria Blob"}, {"phone", "+2868917046"}}}},
        200, kChtSimAdmin);
    return {user.value("/place/id"_json_pointer, place_id),
            user.value("/contact/id"_json_pointer, std::string())};
  }
  std::string createPatient(const std::string& place, const net::BasicAuth& as) {
    Json person = json("POST", cht("/api/v1/people"),
                       Json{{"name", "John Test"},
                            {"phone", "+2548277217095"},
                            {"date_of_birth", "1980-06-06"},
                            {"sex", "male"},
                            {"type", "person"},
                            {"role", "patient"},
                            {"contact_type", "patient"},
                            {"place", place}},
                       200, as);
    return person.value("id", "");
  }
  // Endpoint (callback `address`) and Organization through the mediator; returns the
  // organization's identifier.
  std::string registerRequester(const std::string& address) {
    Json endpoint = json(
        "POST", router("/mediator/endpoint"),
        Json{{"resourceType", "Endpoint"},
             {"identifier", Json::array({{{"system", "official"}, {"value", "test-endpoint"}}})},
             {"status", "active"},
             {"connectionType",
              {{"system", "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"},
               {"code", "hl7-fhir-rest"}}},
             {"payloadType", Json::array({{{"text", "application/json"}}})},
             {"address", address}},
        201);
    json("POST", router("/mediator/organization"),
         Json{{"resourceType", "Organization"},
              {"name", "athena"},
              {"identifier", Json::array({{{"system", "official"}, {"value", "test-org"}}})},
              {"endpoint", Json::array({{{"reference", "Endpoint/" + endpoint.value("id", "")}}})}},
         201);
    EXPECT_EQ(total("Endpoint/?identifier=test-endpoint"), 1);
    EXPECT_EQ(total("Organization/?identifier=test-org"), 1);
    return "test-org";
  }
  Json followUpReport(const std::string& place, const std::string& chw_contact,
                      const std::string& patient) {
    return {{"docs",
             Json::array(
                 {{{"_id", "0f1e2d3c-4b5a-4968-8776-" + patient.substr(0, 12)},
                   {"_rev", "1-4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d"},
                   {"type", "data_record"},
                   {"form", "interop_follow_up"},
                   {"from", ""},
                   {"hidden_fields", Json::array({"meta"})},
                   {"contact", {{"_id", chw_contact}, {"parent", {{"_id", place}}}}},
                   {"fields",
                    {{"inputs",
                      {{"source", "task"},
                       {"is_covid_vaccine_referral", ""},
                       {"contact", {{"_id", patient}}}}},
                     {"vaccination_details", {{"interop_follow_up", "yes"}}},
                     {"meta", {{"instanceID", "uuid:0fbe39f1-8aa5-477a-89ea-863831766766"}}}}}}})},
            {"new_edits", false}};
  }
  std::string serviceRequestStatus(const std::string& patient) {
    auto r = call("GET", router("/fhir/ServiceRequest?subject:Patient.identifier=" + patient),
                  std::nullopt);
    if (!r.has_value() || r->status != 200) return "";
    auto parsed = parseJson(r->body);
    if (!parsed.has_value() || !(*parsed)["entry"].is_array() || (*parsed)["entry"].empty())
      return "";
    return (*parsed)["entry"][0].value("/resource/status"_json_pointer, std::string());
  }
  // Encounter notifications the receiver got for this patient's Encounter.
  size_t encounterNotifications(const Receiver& receiver) {
    size_t n = 0;
    for (const auto& r : receiver.requests())
      if (r.method == "PUT" && r.path.find("/callback/Encounter/") != std::string::npos) ++n;
    return n;
  }

  TempDir dir_;
  std::unique_ptr<ServeProcess> serve_;
};

// Flow 2 as a new user sees it: `chtlink demo ltfu` against the running sandbox.
TEST_F(E2e, DemoLtfuSucceedsAgainstTheSandbox) {
  start();
  RunResult demo = runCommand({CHTLINK_BINARY, "demo", "ltfu", "--url", router(""), "--cht-url",
                               cht(""), "--timeout-ms", "20000"},
                              dir_.path().string());
  EXPECT_EQ(demo.exit_code, 0) << demo.output << "\nserve:\n" << serve_->process().output();
  EXPECT_NE(demo.output.find("SUCCESS"), std::string::npos) << demo.output;
}

// Flow 1: a CHT person becomes one FHIR Patient through outbound push, router and mediator,
// however often CHT pushes it; a CHW becomes a Practitioner.
TEST_F(E2e, ChtPersonBecomesOnePatientAndChwBecomesPractitioner) {
  start();
  auto [place, chw_contact] = createChw("maria");
  std::string patient = createPatient(place, {"maria", "Dakar1234"});
  ASSERT_FALSE(patient.empty());
  ASSERT_TRUE(waitUntil([&] { return total("Patient/?identifier=" + patient) == 1; }, 20s))
      << serve_->process().output();

  // CHT pushes the same person again when its doc changes (here: an edit that leaves the
  // payload equal, then one that changes the name): still exactly one Patient.
  Json doc = json("GET", cht("/medic/" + patient), std::nullopt, 200, kChtSimAdmin);
  doc["notes"] = "edited";
  json("PUT", cht("/medic/" + patient), doc, 201, kChtSimAdmin);
  doc = json("GET", cht("/medic/" + patient), std::nullopt, 200, kChtSimAdmin);
  doc["name"] = "John Test Renamed";
  json("PUT", cht("/medic/" + patient), doc, 201, kChtSimAdmin);
  ASSERT_TRUE(waitUntil(
      [&] {
        auto r = call("GET", router("/fhir/Patient/?identifier=" + patient), std::nullopt);
        return r.has_value() && r->body.find("John Test Renamed") != std::string::npos;
      },
      20s))
      << serve_->process().output();
  EXPECT_EQ(total("Patient/?identifier=" + patient), 1);

  // A person with role chw: the reference FHIR_practitioner config posts to /fhir/Practitioner.
  Json chw = json("POST", cht("/api/v1/people"),
                  Json{{"name", "Grace CHW"},
                       {"date_of_birth", "1990-01-01"},
                       {"sex", "female"},
                       {"phone", "+254712000111"},
                       {"type", "person"},
                       {"role", "chw"},
                       {"place", place}},
                  200, kChtSimAdmin);
  ASSERT_TRUE(waitUntil([&] { return total("Practitioner?name=Grace") >= 1; }, 20s))
      << serve_->process().output();
}

// Flow 2 with a crash: serve is SIGKILLed after the service request was accepted and before
// the CHW's report; restarted on the same ports, the flow completes, nothing lost or doubled.
TEST_F(E2e, LtfuCompletesAcrossSigkillBeforeTheChwReport) {
  Receiver receiver;
  start();
  auto [place, chw_contact] = createChw("geo");
  registerRequester(receiver.url("/callback"));
  std::string patient = createPatient(place, {"geo", "Dakar1234"});
  ASSERT_TRUE(waitUntil([&] { return total("Patient/?identifier=" + patient) == 1; }, 20s))
      << serve_->process().output();
  Json subscription = json("POST", router("/mediator/service-request"),
                           Json{{"intent", "order"},
                                {"status", "active"},
                                {"subject", {{"reference", "Patient/" + patient}}},
                                {"requester", {{"reference", "Organization/test-org"}}}},
                           201);
  std::string criteria = subscription.value("criteria", "");
  ASSERT_EQ(criteria, "Encounter?identifier=" + patient) << subscription.dump();

  std::vector<std::string> same_ports = {
      "server.port=" + std::to_string(serve_->port("server")),
      "him.api_port=" + std::to_string(serve_->port("api")),
      "fhir.port=" + std::to_string(serve_->port("fhir")),
      "mediator.port=" + std::to_string(serve_->port("mediator")),
      "cht_sim.port=" + std::to_string(serve_->port("cht"))};
  serve_->process().signal(SIGKILL);
  ASSERT_TRUE(serve_->process().wait(10s).has_value());
  serve_.reset();
  start(same_ports);

  // The follow-up record survived, once.
  Json found = json("POST", cht("/medic/_find"),
                    Json{{"selector", {{"type", "data_record"}, {"fields.patient_uuid", patient}}}},
                    200, kChtSimAdmin);
  ASSERT_EQ(found["docs"].size(), 1u) << found.dump();
  EXPECT_EQ(serviceRequestStatus(patient), "active");

  json("POST", cht("/medic/_bulk_docs"), followUpReport(place, chw_contact, patient), 201,
       {"geo", "Dakar1234"});
  ASSERT_TRUE(waitUntil([&] { return encounterNotifications(receiver) >= 1; }, 30s))
      << serve_->process().output();
  EXPECT_EQ(total(criteria), 1);
  ASSERT_TRUE(waitUntil([&] { return serviceRequestStatus(patient) == "completed"; }, 20s));
  EXPECT_EQ(total("Subscription?criteria=" + criteria), 1);
  // Exactly one Encounter notification, even after the restart (no replayed duplicates).
  EXPECT_EQ(encounterNotifications(receiver), 1u);
}

}  // namespace
}  // namespace chtlink::testing
