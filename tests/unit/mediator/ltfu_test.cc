// The LTFU workflow (POST /service-request) against a real FHIR listener and a fake CHT:
// acceptance table, compensation when CHT fails, recovery of an operation interrupted between
// two steps, and completion of the ServiceRequest when the follow-up Encounter arrives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mediator_harness.h"

namespace chtlink::mediator {
namespace {

using ::testing::HasSubstr;
using testing::MediatorHarness;

constexpr const char* kPatientId = "b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10";

Json patient() {
  return parseJson(R"({"resourceType":"Patient","identifier":[{"system":"cht",
    "value":"b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"}],"name":[{"family":"Amina Otieno",
    "given":["Amina"]}],"gender":"female","birthDate":"1990-04-12"})")
      .value();
}

Json encounter() {
  return parseJson(R"({"resourceType":"Encounter","identifier":[{"system":"cht","use":"official",
    "value":"b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"}],"status":"finished","class":"outpatient",
    "type":[{"text":"Community health worker visit"}],
    "subject":{"reference":"Patient/?identifier=b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"},
    "participant":[{"type":[{"text":"Community health worker"}]}]})")
      .value();
}

Json serviceRequest(const std::string& patient_id = kPatientId, const std::string& org = "org-1") {
  return Json{{"intent", "order"},
              {"subject", Json{{"reference", "Patient/" + patient_id}}},
              {"requester", Json{{"reference", "Organization/" + org}}}};
}

// Patient, Endpoint and Organization registered through the mediator.
void registerParties(MediatorHarness& h) {
  ASSERT_EQ(h.post("/patient", patient()).status, 201);
  Json endpoint{{"identifier", Json::array({Json{{"value", "ep-1"}}})},
                {"connectionType",
                 Json{{"system", "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"},
                      {"code", "hl7-fhir-rest"}}},
                {"address", "http://127.0.0.1:9/callback"}};
  auto ep = h.post("/endpoint", endpoint);
  ASSERT_EQ(ep.status, 201) << ep.body;
  std::string endpoint_id = parseJson(ep.body).value()["id"];
  Json org{{"identifier", Json::array({Json{{"value", "org-1"}}})},
           {"name", "Requesting system"},
           {"endpoint", Json::array({Json{{"reference", "Endpoint/" + endpoint_id}}})}};
  ASSERT_EQ(h.post("/organization", org).status, 201);
}

std::string operationState(MediatorHarness& h) {
  auto state = h.db().runFor<std::string>(
      store::Access::Read, [](store::Transaction& tx) -> Result<std::string> {
        CHTLINK_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT state FROM mediator_ltfu"));
        if (rows.size() != 1) return std::string("rows: ") + std::to_string(rows.size());
        return rows.text(0, 0);
      });
  return state.has_value() ? *state : state.error().message;
}

struct Case {
  std::string name;
  Json body;
  int status;
  std::string message;
};

TEST(MediatorLtfuTest, ServiceRequestTableOfValidAndInvalidRequests) {
  MediatorHarness h;
  registerParties(h);
  // An Organization without an Endpoint, written straight to FHIR.
  ASSERT_EQ(h.fhir("POST", "/Organization",
                   Json{{"resourceType", "Organization"},
                        {"identifier", Json::array({Json{{"value", "org-bare"}}})},
                        {"name", "No callback"}})
                .status,
            201);
  const std::vector<Case> cases = {
      {"no intent",
       Json{{"subject", serviceRequest()["subject"]}, {"requester", serviceRequest()["requester"]}},
       400, "\"intent\" is required"},
      {"intent outside the value set",
       [] {
         auto j = serviceRequest();
         j["intent"] = "wish";
         return j;
       }(),
       400, "\"ServiceRequest.intent\" Code \"wish\" not found in value set"},
      {"no subject",
       [] {
         auto j = serviceRequest();
         j.erase("subject");
         return j;
       }(),
       400, "\"subject\" is required"},
      {"subject without reference",
       [] {
         auto j = serviceRequest();
         j["subject"] = Json::object();
         return j;
       }(),
       400, "\"subject.reference\" is required"},
      {"subject not a Patient",
       [] {
         auto j = serviceRequest();
         j["subject"]["reference"] = "Person/1";
         return j;
       }(),
       400, "\"subject.reference\" must look like Patient/<CHT patient id>"},
      {"no requester",
       [] {
         auto j = serviceRequest();
         j.erase("requester");
         return j;
       }(),
       400, "\"requester\" is required"},
      {"requester not an Organization",
       [] {
         auto j = serviceRequest();
         j["requester"]["reference"] = "Practitioner/x";
         return j;
       }(),
       400, "\"requester.reference\" must look like Organization/<organization identifier>"},
      {"requester with a query", serviceRequest(kPatientId, "org?x=1"), 400, "must not contain"},
      {"wrong resourceType",
       [] {
         auto j = serviceRequest();
         j["resourceType"] = "Task";
         return j;
       }(),
       400, "\"resourceType\" must be [ServiceRequest]"},
      {"unknown patient", serviceRequest("0d1e2f3a-0000-4000-8000-000000000000"), 404,
       "Patient not found"},
      {"unknown organization", serviceRequest(kPatientId, "org-404"), 404,
       "Organization not found"},
      {"organization without endpoint", serviceRequest(kPatientId, "org-bare"), 400,
       "Organization has no endpoint attached"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = h.post("/service-request", c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    auto body = parseJson(r.body).value();
    EXPECT_THAT(body.value("message", ""), HasSubstr(c.message));
  }
  // Nothing was started by the refusals.
  EXPECT_EQ(h.count("/Subscription"), 0);
  EXPECT_TRUE(h.cht().records().empty());

  auto r = h.post("/mediator/service-request", serviceRequest());
  ASSERT_EQ(r.status, 201) << r.body;
  auto subscription = parseJson(r.body).value();
  EXPECT_EQ(subscription["resourceType"], "Subscription");
  EXPECT_EQ(subscription["criteria"], std::string("Encounter?identifier=") + kPatientId);
  EXPECT_EQ(subscription["channel"]["endpoint"], "http://127.0.0.1:9/callback");
  EXPECT_EQ(subscription["channel"]["type"], "rest-hook");
  ASSERT_EQ(h.cht().records().size(), 1u);
  auto record = parseJson(h.cht().records()[0]).value();
  EXPECT_EQ(record["_meta"]["form"], "interop_follow_up");
  EXPECT_EQ(record["patient_uuid"], kPatientId);
  auto request = h.firstResource("/ServiceRequest");
  EXPECT_EQ(request["status"], "active");
  EXPECT_EQ(operationState(h), "completed");
}

TEST(MediatorLtfuTest, ChtServerErrorRemovesTheSubscriptionAndRevokesTheRequest) {
  MediatorHarness h;
  registerParties(h);
  h.cht().setMode(testing::FakeCht::Mode::ServerError);
  auto r = h.post("/service-request", serviceRequest());
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_THAT(r.body, HasSubstr("Unable to create the follow up task: CHT answered 500"));
  EXPECT_EQ(h.count("/Subscription"), 0);
  EXPECT_EQ(h.firstResource("/ServiceRequest")["status"], "revoked");
  EXPECT_EQ(operationState(h), "undone");
  // The recovery job finds nothing left to do.
  h.drainJobs();
  EXPECT_EQ(operationState(h), "undone");
  EXPECT_EQ(h.cht().records().size(), 1u);
}

TEST(MediatorLtfuTest, ChtUnreachableIsUndoneToo) {
  MediatorHarness h([](MediatorOptions& o) { o.cht_url = "http://127.0.0.1:1"; });
  registerParties(h);
  auto r = h.post("/service-request", serviceRequest());
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_THAT(r.body, HasSubstr("CHT at http://127.0.0.1:1 is unreachable"));
  EXPECT_EQ(h.count("/Subscription"), 0);
  EXPECT_EQ(operationState(h), "undone");
}

// An operation interrupted after its Subscription (the process died): the recovery job
// continues from the recorded state.
void interruptedOperation(MediatorHarness& h) {
  ASSERT_EQ(h.fhir("PUT", "/Subscription/sub-1",
                   Json{{"resourceType", "Subscription"},
                        {"id", "sub-1"},
                        {"status", "requested"},
                        {"reason", "Follow up request for patient"},
                        {"criteria", std::string("Encounter?identifier=") + kPatientId},
                        {"channel", Json{{"type", "rest-hook"},
                                         {"endpoint", "http://127.0.0.1:9/callback"},
                                         {"payload", "application/fhir+json"}}}})
                .status,
            201);
  auto stored_patient = h.post("/patient", patient());
  ASSERT_EQ(stored_patient.status, 201);
  std::string patient_ref =
      "Patient/" + parseJson(stored_patient.body).value()["id"].get<std::string>();
  Json sr{{"resourceType", "ServiceRequest"},
          {"id", "sr-1"},
          {"status", "active"},
          {"intent", "order"},
          {"subject", Json{{"reference", patient_ref}}}};
  auto put = h.fhir("PUT", "/ServiceRequest/sr-1", sr);
  ASSERT_EQ(put.status, 201) << put.body;
  auto s = h.db().run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute(
        "INSERT INTO mediator_ltfu VALUES ('op-1', 'subscribed', ?, 'http://127.0.0.1:9/callback',"
        " 'sub-1', 'sr-1', ?, '', '', 0, 0)",
        {std::string(kPatientId), dumpJson(sr)}));
    queue::JobSpec job;
    job.kind = std::string(kLtfuJobKind);
    job.destination = "mediator.ltfu";
    job.payload = R"({"operation":"op-1"})";
    CHTLINK_TRY(queue::enqueue(tx, job, queue::QueueOptions{}, SystemClock().now()));
    return ok();
  });
  ASSERT_TRUE(s.has_value()) << s.error().message;
}

TEST(MediatorLtfuTest, RecoveryJobFinishesAnOperationInterruptedAfterItsSubscription) {
  MediatorHarness h;
  interruptedOperation(h);
  h.drainJobs();
  EXPECT_EQ(operationState(h), "completed");
  ASSERT_EQ(h.cht().records().size(), 1u);
  EXPECT_EQ(h.count("/Subscription"), 1);
}

TEST(MediatorLtfuTest, RecoveryJobUndoesWhenChtRefuses) {
  MediatorHarness h;
  interruptedOperation(h);
  h.cht().setMode(testing::FakeCht::Mode::ServerError);
  h.drainJobs();
  EXPECT_EQ(operationState(h), "undone");
  EXPECT_EQ(h.count("/Subscription"), 0);
  EXPECT_EQ(h.firstResource("/ServiceRequest")["status"], "revoked");
}

TEST(MediatorLtfuTest, FollowUpEncounterCompletesTheServiceRequest) {
  MediatorHarness h;
  registerParties(h);
  ASSERT_EQ(h.post("/service-request", serviceRequest()).status, 201);
  ASSERT_EQ(h.post("/encounter", encounter()).status, 201);
  EXPECT_EQ(operationState(h), "fulfilling");
  h.drainJobs();
  EXPECT_EQ(operationState(h), "fulfilled");
  EXPECT_EQ(h.firstResource("/ServiceRequest")["status"], "completed");
}

}  // namespace
}  // namespace chtlink::mediator
