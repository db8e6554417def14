// The mediator's endpoints over HTTP against a real FHIR listener: for each endpoint a table of
// valid and invalid requests with the expected status and message, idempotency, the OpenHIM
// mediator response format, and upstream failures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mediator_harness.h"

namespace chtlink::mediator {
namespace {

using ::testing::HasSubstr;
using testing::MediatorHarness;

constexpr const char* kPatientId = "b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10";

Json patient() {
  return parseJson(R"({"resourceType":"Patient","identifier":[{"system":"cht","use":"official",
    "value":"b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"}],"name":[{"use":"official",
    "family":"Amina Otieno","given":["Amina"]}],"gender":"female","birthDate":"1990-04-12"})")
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

Json endpointResource() {
  return Json{{"resourceType", "Endpoint"},
              {"identifier", Json::array({Json{{"system", "official"}, {"value", "ep-1"}}})},
              {"connectionType",
               Json{{"system", "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"},
                    {"code", "hl7-fhir-rest"}}},
              {"payloadType", Json::array({Json{{"text", "Now"}}})},
              {"address", "http://127.0.0.1:1/callback"}};
}

Json organization(const std::string& endpoint_id) {
  return Json{{"identifier", Json::array({Json{{"system", "official"}, {"value", "org-1"}}})},
              {"name", Json::array({"Requesting system"})},
              {"endpoint", Json::array({Json{{"reference", "Endpoint/" + endpoint_id}}})}};
}

Json serviceRequest(const std::string& patient_id = kPatientId) {
  return Json{{"intent", "order"},
              {"subject", Json{{"reference", "Patient/" + patient_id}}},
              {"requester", Json{{"reference", "Organization/org-1"}}}};
}

// A body derived from `base` by `edit`.
Json with(Json base, const std::function<void(Json&)>& edit) {
  edit(base);
  return base;
}

struct Case {
  std::string name;
  std::string body;  // sent as is
  std::string content_type;
  int status;
  std::string message;  // substring of "message"
};

Case bad(std::string name, const Json& body, std::string message) {
  return {std::move(name), dumpJson(body), "application/json", 400, std::move(message)};
}

void runTable(MediatorHarness& h, const std::string& path, const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(path + ": " + c.name);
    auto r = h.post(path, c.body, c.content_type);
    EXPECT_EQ(r.status, c.status) << r.body;
    auto body = parseJson(r.body);
    ASSERT_TRUE(body.has_value()) << r.body;
    if (!c.message.empty()) {
      ASSERT_TRUE(body->contains("message")) << r.body;
      EXPECT_THAT((*body)["message"].get<std::string>(), HasSubstr(c.message));
    }
    if (c.status == 400) {
      EXPECT_EQ((*body)["valid"], false) << r.body;
    }
  }
}

// Refusals every endpoint shares.
std::vector<Case> commonRefusals(const Json& valid) {
  return {
      {"wrong content type", dumpJson(valid), "text/plain", 400,
       "Content-Type must be application/json or application/fhir+json (got text/plain)"},
      {"no content type", dumpJson(valid), "", 400, "(got none)"},
      {"invalid JSON", "{\"resourceType\": ", "application/json", 400,
       "the body is not valid JSON"},
      {"not an object", "[1, 2]", "application/fhir+json", 400, "\"value\" must be of type object"},
  };
}

TEST(MediatorEndpointsTest, PatientTableOfValidAndInvalidRequests) {
  MediatorHarness h;
  auto cases = commonRefusals(patient());
  const std::vector<Case> specific = {
      bad("wrong resourceType", with(patient(), [](Json& j) { j["resourceType"] = "Person"; }),
          "\"resourceType\" must be [Patient]"),
      bad("no identifier", with(patient(), [](Json& j) { j.erase("identifier"); }),
          "\"identifier\" is required"),
      bad("identifier not an array", with(patient(), [](Json& j) { j["identifier"] = "x"; }),
          "\"identifier\" must be an array"),
      bad("identifier empty", with(patient(), [](Json& j) { j["identifier"] = Json::array(); }),
          "\"identifier\" must contain at least 1 items"),
      bad("identifier system not cht",
          with(patient(), [](Json& j) { j["identifier"][0]["system"] = "other"; }),
          "\"identifier[0].system\" must be [cht]"),
      bad("identifier value not a GUID",
          with(patient(), [](Json& j) { j["identifier"][0]["value"] = "40471"; }),
          "\"identifier[0].value\" must be a valid GUID"),
      bad("identifier value missing",
          with(patient(), [](Json& j) { j["identifier"][0].erase("value"); }),
          "\"identifier[0].value\" is required"),
      bad("no name", with(patient(), [](Json& j) { j.erase("name"); }), "\"name\" is required"),
      bad("family not a string", with(patient(), [](Json& j) { j["name"][0]["family"] = 3; }),
          "\"name[0].family\" must be a string"),
      bad("two given names",
          with(patient(),
               [](Json& j) {
                 j["name"][0]["given"] = Json::array({"a", "b"});
               }),
          "\"name[0].given\" must contain 1 items"),
      bad("no gender", with(patient(), [](Json& j) { j.erase("gender"); }),
          "\"gender\" is required"),
      bad("gender outside the value set", with(patient(), [](Json& j) { j["gender"] = "wrong"; }),
          "\"Patient.gender\" Code \"wrong\" not found in value set"),
      bad("gender not a string", with(patient(), [](Json& j) { j["gender"] = 1; }),
          "\"gender\" must be a string"),
      bad("no birthDate", with(patient(), [](Json& j) { j.erase("birthDate"); }),
          "\"birthDate\" is required"),
      bad("birthDate not a date", with(patient(), [](Json& j) { j["birthDate"] = "12/04/1990"; }),
          "\"Patient.birthDate\" \"12/04/1990\" is not a valid date"),
      bad("id not a GUID", with(patient(), [](Json& j) { j["id"] = "p1"; }),
          "\"id\" must be a valid GUID"),
      {"valid", dumpJson(patient()), "application/json", 201, ""},
      {"valid again (same CHT id): the same Patient, updated", dumpJson(patient()),
       "application/fhir+json", 200, ""},
      bad("given[0] a number", with(patient(), [](Json& j) { j["name"][0]["given"][0] = 3; }),
          "\"name[0].given[0]\" must be a string"),
      // rule 7: a person without short_name is pushed with given [null]; accepted, given dropped.
      {"given [null] (no short_name), normalised",
       dumpJson(with(patient(), [](Json& j) { j["name"][0]["given"] = Json::array({nullptr}); })),
       "application/json", 200, ""},
  };
  cases.insert(cases.end(), specific.begin(), specific.end());
  runTable(h, "/patient", cases);
  EXPECT_EQ(h.count(std::string("/Patient?identifier=") + kPatientId), 1);
}

TEST(MediatorEndpointsTest, PatientPushesAreIdempotentAndFollowEdits) {
  MediatorHarness h;
  auto first = h.post("/mediator/patient", patient());
  ASSERT_EQ(first.status, 201) << first.body;
  auto id = parseJson(first.body).value()["id"];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.post("/patient", patient()).status, 200);
  auto edited = h.post("/patient", with(patient(), [](Json& j) { j["birthDate"] = "1991-01-01"; }));
  EXPECT_EQ(edited.status, 200);
  EXPECT_EQ(h.count(std::string("/Patient?identifier=") + kPatientId), 1);
  auto stored = h.firstResource(std::string("/Patient?identifier=") + kPatientId);
  EXPECT_EQ(stored["id"], id);
  EXPECT_EQ(stored["birthDate"], "1991-01-01");
}

TEST(MediatorEndpointsTest, EncounterTableOfValidAndInvalidRequests) {
  MediatorHarness h;
  auto cases = commonRefusals(encounter());
  const std::vector<Case> specific = {
      {"unknown patient", dumpJson(encounter()), "application/json", 404, "Patient not found"},
      bad("two identifiers",
          with(encounter(), [](Json& j) { j["identifier"].push_back(j["identifier"][0]); }),
          "\"identifier\" must contain 1 items"),
      bad("identifier system not cht",
          with(encounter(), [](Json& j) { j["identifier"][0]["system"] = "x"; }),
          "\"identifier[0].system\" must be [cht]"),
      bad("identifier value not a GUID",
          with(encounter(), [](Json& j) { j["identifier"][0]["value"] = "nope"; }),
          "\"identifier[0].value\" must be a valid GUID"),
      bad("no status", with(encounter(), [](Json& j) { j.erase("status"); }),
          "\"status\" is required"),
      bad("status outside the value set", with(encounter(), [](Json& j) { j["status"] = "done"; }),
          "\"Encounter.status\" Code \"done\" not found in value set"),
      bad("no class", with(encounter(), [](Json& j) { j.erase("class"); }),
          "\"class\" is required"),
      bad("class a number", with(encounter(), [](Json& j) { j["class"] = 5; }),
          "\"class\" must be a Coding object or a string"),
      bad("two types", with(encounter(), [](Json& j) { j["type"].push_back(j["type"][0]); }),
          "\"type\" must contain 1 items"),
      bad("no subject", with(encounter(), [](Json& j) { j.erase("subject"); }),
          "\"subject\" is required"),
      bad("subject without reference",
          with(encounter(), [](Json& j) { j["subject"] = Json::object(); }),
          "\"subject.reference\" is required"),
      bad("no participant", with(encounter(), [](Json& j) { j.erase("participant"); }),
          "\"participant\" is required"),
      bad("fields not an object", with(encounter(), [](Json& j) { j["fields"] = "x"; }),
          "\"fields\" must be of type object"),
  };
  cases.insert(cases.end(), specific.begin(), specific.end());
  runTable(h, "/encounter", cases);
  EXPECT_EQ(h.count("/Encounter"), 0);  // nothing half-created

  ASSERT_EQ(h.post("/patient", patient()).status, 201);
  auto ok = h.post("/encounter", encounter());
  ASSERT_EQ(ok.status, 201) << ok.body;
  auto stored = parseJson(ok.body).value();
  // rule 7: class as a word became a v3 ActCode Coding; the subject was resolved.
  EXPECT_EQ(stored["class"]["code"], "AMB");
  EXPECT_THAT(stored["subject"]["reference"].get<std::string>(), HasSubstr("Patient/"));
  EXPECT_EQ(stored["subject"]["reference"].get<std::string>().find('?'), std::string::npos);
  // The same push again (CHT retries) stores nothing new.
  EXPECT_EQ(h.post("/encounter", encounter()).status, 200);
  EXPECT_EQ(h.count(std::string("/Encounter?identifier=") + kPatientId), 1);
}

TEST(MediatorEndpointsTest, EncounterFormFieldsBecomeObservationsFromTheMappingTable) {
  MediatorHarness h([](MediatorOptions& o) {
    o.observations.push_back({"vitals.weight", "http://loinc.org", "29463-7", "Body weight",
                              ObservationValueType::Quantity, "kg"});
  });
  ASSERT_EQ(h.post("/patient", patient()).status, 201);
  auto body = with(encounter(), [](Json& j) {
    j["fields"] = Json{{"vaccination_details", Json{{"interop_follow_up", "yes"}}},
                       {"vitals", Json{{"weight", "65.5"}}}};
  });
  auto r = h.post("/encounter", body);
  ASSERT_EQ(r.status, 201) << r.body;
  std::string encounter_id = parseJson(r.body).value()["id"];
  EXPECT_EQ(h.count("/Observation?encounter=Encounter/" + encounter_id), 2);
  auto weight = h.firstResource("/Observation?code=http://loinc.org|29463-7");
  EXPECT_EQ(weight["valueQuantity"]["value"], 65.5);
  EXPECT_EQ(weight["valueQuantity"]["unit"], "kg");
  // Repeated push: no duplicate Observations.
  EXPECT_EQ(h.post("/encounter", body).status, 200);
  EXPECT_EQ(h.count("/Observation"), 2);
}

TEST(MediatorEndpointsTest, OrganizationAndEndpointTables) {
  MediatorHarness h;
  auto ep = endpointResource();
  auto endpoint_cases = commonRefusals(ep);
  const std::vector<Case> endpoint_specific = {
      bad("wrong resourceType", with(ep, [](Json& j) { j["resourceType"] = "Patient"; }),
          "\"resourceType\" must be [Endpoint]"),
      bad("no identifier", with(ep, [](Json& j) { j.erase("identifier"); }),
          "\"identifier\" is required"),
      bad("identifier without value", with(ep, [](Json& j) { j["identifier"][0].erase("value"); }),
          "\"identifier[0].value\" is required"),
      bad("no connectionType", with(ep, [](Json& j) { j.erase("connectionType"); }),
          "\"connectionType\" is required"),
      bad("two connectionTypes",
          with(ep,
               [](Json& j) {
                 j["connectionType"] = Json::array({j["connectionType"], j["connectionType"]});
               }),
          "\"connectionType\" must contain 1 items"),
      bad("connectionType without code",
          with(ep, [](Json& j) { j["connectionType"].erase("code"); }),
          "\"connectionType.code\" is required"),
      bad("no address", with(ep, [](Json& j) { j.erase("address"); }), "\"address\" is required"),
      bad("address not http", with(ep, [](Json& j) { j["address"] = "ftp://x/y"; }),
          "\"address\" must be a valid uri"),
      bad("status outside the value set", with(ep, [](Json& j) { j["status"] = "on"; }),
          "\"Endpoint.status\" must be one of"),
      {"valid", dumpJson(ep), "application/json", 201, ""},
      // The reference schema's shape: an array of one CodeableConcept (rule 7).
      {"valid, reference-shaped connectionType",
       dumpJson(with(ep,
                     [](Json& j) {
                       j["connectionType"] =
                           Json::array({Json{{"coding", Json::array({j["connectionType"]})}}});
                     })),
       "application/json", 200, ""},
  };
  endpoint_cases.insert(endpoint_cases.end(), endpoint_specific.begin(), endpoint_specific.end());
  runTable(h, "/endpoint", endpoint_cases);
  EXPECT_EQ(h.count("/Endpoint?identifier=ep-1"), 1);
  std::string endpoint_id = h.firstResource("/Endpoint?identifier=ep-1")["id"];

  auto org = organization(endpoint_id);
  auto org_cases = commonRefusals(org);
  const std::vector<Case> org_specific = {
      bad("no identifier", with(org, [](Json& j) { j.erase("identifier"); }),
          "\"identifier\" is required"),
      bad("identifier without value", with(org, [](Json& j) { j["identifier"][0].erase("value"); }),
          "\"identifier[0].value\" is required"),
      bad("no name", with(org, [](Json& j) { j.erase("name"); }), "\"name\" is required"),
      bad("two names",
          with(org,
               [](Json& j) {
                 j["name"] = Json::array({"a", "b"});
               }),
          "\"name\" must contain 1 items"),
      bad("name a number", with(org, [](Json& j) { j["name"] = 7; }), "\"name\" must be a string"),
      bad("no endpoint", with(org, [](Json& j) { j.erase("endpoint"); }),
          "\"endpoint\" is required"),
      bad("two endpoints", with(org, [](Json& j) { j["endpoint"].push_back(j["endpoint"][0]); }),
          "\"endpoint\" must contain 1 items"),
      bad("endpoint without reference",
          with(org, [](Json& j) { j["endpoint"][0] = Json::object(); }),
          "\"endpoint[0].reference\" is required"),
      bad("endpoint reference to another type",
          with(org, [](Json& j) { j["endpoint"][0]["reference"] = "Patient/1"; }),
          "\"endpoint[0].reference\" must look like Endpoint/<id>"),
      {"valid", dumpJson(org), "application/json", 201, ""},
      {"valid again", dumpJson(org), "application/json", 200, ""},
  };
  org_cases.insert(org_cases.end(), org_specific.begin(), org_specific.end());
  runTable(h, "/organization", org_cases);
  EXPECT_EQ(h.count("/Organization?identifier=org-1"), 1);
  EXPECT_EQ(h.firstResource("/Organization?identifier=org-1")["name"], "Requesting system");
}

Json practitioner() {
  // The reference FHIR_practitioner payload, byte for byte (cht.md 4.5).
  return parseJson(R"({"resourceType":"Practitioner","gender":"female","name":[{"system":"cht",
    "family":"Amina Otieno","given":["Amina"]}],"identifier":{"use":"usual",
    "value":"cht/b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"},"birthDate":"1990-04-12",
    "telecom":[{"system":"phone","use":"mobile","value":"+254712000111"}],"active":true})")
      .value();
}

TEST(MediatorEndpointsTest, PractitionerTableAcceptsTheReferenceShape) {
  MediatorHarness h;
  auto p = practitioner();
  auto cases = commonRefusals(p);
  const std::vector<Case> specific = {
      bad("wrong resourceType", with(p, [](Json& j) { j["resourceType"] = "Patient"; }),
          "\"resourceType\" must be [Practitioner]"),
      bad("no identifier", with(p, [](Json& j) { j.erase("identifier"); }),
          "\"identifier\" is required"),
      bad("identifier without value", with(p, [](Json& j) { j["identifier"].erase("value"); }),
          "\"identifier[0].value\" is required"),
      bad("identifier a string", with(p, [](Json& j) { j["identifier"] = "x"; }),
          "\"identifier\" must be an array"),
      bad("no name", with(p, [](Json& j) { j.erase("name"); }), "\"name\" is required"),
      bad("name without family", with(p, [](Json& j) { j["name"][0].erase("family"); }),
          "\"name[0].family\" is required"),
      bad("given not an array", with(p, [](Json& j) { j["name"][0]["given"] = "A"; }),
          "\"name[0].given\" must be an array"),
      bad("gender outside the value set", with(p, [](Json& j) { j["gender"] = "f"; }),
          "\"Practitioner.gender\" Code \"f\" not found in value set"),
      bad("birthDate not a date", with(p, [](Json& j) { j["birthDate"] = "soon"; }),
          "\"Practitioner.birthDate\" \"soon\" is not a valid date"),
      bad("telecom an object", with(p, [](Json& j) { j["telecom"] = Json::object(); }),
          "\"telecom\" must be an array"),
      {"valid (identifier object, name.system: rule 7)", dumpJson(p), "application/json", 201, ""},
      {"valid again", dumpJson(p), "application/json", 200, ""},
  };
  cases.insert(cases.end(), specific.begin(), specific.end());
  runTable(h, "/practitioner", cases);
  auto stored =
      h.firstResource("/Practitioner?identifier=cht/b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10");
  EXPECT_TRUE(stored["identifier"].is_array());
  EXPECT_FALSE(stored["name"][0].contains("system"));
}

TEST(MediatorEndpointsTest, PlacesBecomeLocationsAndOrganizationsFollowingTheHierarchy) {
  MediatorHarness h;
  Json district{{"_id", "dh01"}, {"name", "District"}, {"type", "district_hospital"}};
  Json area{{"_id", "area1"},
            {"name", "Area 1"},
            {"type", "contact"},
            {"contact_type", "health_center"},
            {"parent", Json{{"_id", "dh01"}}}};
  auto cases = commonRefusals(district);
  const std::vector<Case> specific = {
      bad("no _id", with(district, [](Json& j) { j.erase("_id"); }), "\"_id\" is required"),
      bad("no name", with(district, [](Json& j) { j.erase("name"); }), "\"name\" is required"),
      bad("name a number", with(district, [](Json& j) { j["name"] = 1; }),
          "\"name\" must be a string"),
      bad("no type", with(district, [](Json& j) { j.erase("type"); }), "\"type\" is required"),
      bad("parent not an object", with(area, [](Json& j) { j["parent"] = "dh01"; }),
          "\"parent\" must be of type object"),
      bad("parent without _id", with(area, [](Json& j) { j["parent"] = Json::object(); }),
          "\"parent._id\" is required"),
      bad("id with a slash", with(district, [](Json& j) { j["_id"] = "a/b"; }),
          "place ids must not contain"),
      bad("doc not an object", Json{{"doc", 5}}, "\"doc\" must be of type object"),
      {"child before its parent", dumpJson(area), "application/json", 404,
       "parent place dh01 of area1 is not in FHIR yet"},
      {"valid top place", dumpJson(district), "application/json", 201, ""},
      {"valid child, nested as {doc}", dumpJson(Json{{"doc", area}}), "application/json", 201, ""},
      {"valid child again", dumpJson(area), "application/json", 200, ""},
  };
  cases.insert(cases.end(), specific.begin(), specific.end());
  runTable(h, "/place", cases);
  auto parent_location = h.firstResource("/Location?identifier=cht|dh01");
  auto child_location = h.firstResource("/Location?identifier=cht|area1");
  EXPECT_EQ(child_location["partOf"]["reference"],
            "Location/" + parent_location["id"].get<std::string>());
  EXPECT_EQ(child_location["type"][0]["text"], "health_center");
  auto parent_org = h.firstResource("/Organization?identifier=cht|dh01");
  auto child_org = h.firstResource("/Organization?identifier=cht|area1");
  EXPECT_EQ(child_org["partOf"]["reference"],
            "Organization/" + parent_org["id"].get<std::string>());
  EXPECT_EQ(h.count("/Location"), 2);
  EXPECT_EQ(h.count("/Organization"), 2);
}

TEST(MediatorEndpointsTest, ThroughOpenHimTheAnswerIsAMediatorResponseWithOrchestrations) {
  MediatorHarness h;
  net::Headers headers;
  headers.set("X-OpenHIM-TransactionID", "65f0c0ffee00000000000001");
  auto r = h.post("/patient", dumpJson(patient()), "application/json", headers);
  EXPECT_EQ(r.status, 201);
  EXPECT_THAT(std::string(r.headers.get("Content-Type")), HasSubstr("application/json+openhim"));
  auto doc = parseJson(r.body).value();
  EXPECT_EQ(doc["x-mediator-urn"], "urn:mediator:ltfu-mediator");
  EXPECT_EQ(doc["status"], "Successful");
  EXPECT_EQ(doc["response"]["status"], 201);
  EXPECT_EQ(parseJson(doc["response"]["body"].get<std::string>()).value()["resourceType"],
            "Patient");
  ASSERT_EQ(doc["orchestrations"].size(), 1u);
  EXPECT_EQ(doc["orchestrations"][0]["name"], "FHIR upsert Patient");
  EXPECT_EQ(doc["orchestrations"][0]["request"]["method"], "PUT");
  EXPECT_EQ(doc["orchestrations"][0]["response"]["status"], 201);

  auto refused = h.post("/patient", "{}", "application/json", headers);
  EXPECT_EQ(refused.status, 400);
  auto refusal = parseJson(refused.body).value();
  EXPECT_EQ(refusal["status"], "Completed");
  EXPECT_EQ(parseJson(refusal["response"]["body"].get<std::string>()).value()["valid"], false);
}

TEST(MediatorEndpointsTest, FhirDownGetsBadGatewayNamingTheServer) {
  MediatorHarness h([](MediatorOptions& o) { o.fhir_url = "http://127.0.0.1:1/fhir"; });
  for (const char* path : {"/patient", "/encounter", "/service-request"}) {
    SCOPED_TRACE(path);
    Json body = std::string(path) == "/patient"     ? patient()
                : std::string(path) == "/encounter" ? encounter()
                                                    : serviceRequest();
    auto r = h.post(path, body);
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_THAT(r.body, HasSubstr("FHIR server at http://127.0.0.1:1/fhir is unreachable"));
  }
}

TEST(MediatorEndpointsTest, StatusEndpointReportsUptime) {
  MediatorHarness h;
  for (const char* path : {"/", "/mediator/"}) {
    SCOPED_TRACE(path);
    auto r = h.get(path);
    EXPECT_EQ(r.status, 200);
    auto doc = parseJson(r.body).value();
    EXPECT_EQ(doc["status"], "success");
    EXPECT_GE(doc["uptime"]["mediator_seconds"].get<double>(), 0.0);
    EXPECT_EQ(doc["fhir_url"], h.fhirUrl());
  }
}

}  // namespace
}  // namespace chtlink::mediator
