// Referential integrity as HAPI enforces it (fhir.md 2.3, 2.8): dangling local references are
// refused on write (400), referenced resources cannot be deleted (409), and transactions
// check once every entry is written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "fhir_harness.h"

namespace chtlink::fhir {
namespace {

using testing::FhirHarness;
using ::testing::HasSubstr;

class IntegrityTest : public ::testing::TestWithParam<testing::TestBackend> {};
INSTANTIATE_TEST_SUITE_P(Backends, IntegrityTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

Json encounterOf(const std::string& reference) {
  return {{"resourceType", "Encounter"},
          {"status", "finished"},
          {"class", {{"code", "AMB"}}},
          {"subject", {{"reference", reference}}}};
}

std::string diagnostics(FhirHarness& h, const net::Response& r) {
  Json oo = h.json(r);
  return oo.contains("issue") ? oo["issue"][0].value("diagnostics", "") : r.body;
}

TEST_P(IntegrityTest, WritesRefuseDanglingLocalReferences) {
  FhirHarness h(GetParam());
  auto r = h.call("POST", "/fhir/Encounter", dumpJson(encounterOf("Patient/missing")));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(diagnostics(h, r), HasSubstr("Resource Patient/missing not found, specified in path: "
                                           "Encounter.subject"));
  EXPECT_EQ(h.json(h.call("GET", "/fhir/Encounter"))["total"], 0);

  std::string p = h.create({{"resourceType", "Patient"}})["id"];
  std::string e = h.create(encounterOf("Patient/" + p))["id"];
  // Versioned and absolute-external references; a logical reference without a literal one.
  h.create(encounterOf("Patient/" + p + "/_history/1"));
  h.create(encounterOf("http://elsewhere.test/fhir/Patient/missing"));
  h.create({{"resourceType", "Encounter"},
            {"status", "finished"},
            {"class", {{"code", "AMB"}}},
            {"subject", {{"identifier", {{"system", "cht"}, {"value", "x"}}}}}});

  // Update and PUT-create are checked as well; so is a deleted target.
  Json bad = encounterOf("Patient/missing");
  bad["id"] = e;
  EXPECT_EQ(h.call("PUT", "/fhir/Encounter/" + e, dumpJson(bad)).status, 400);
  bad["id"] = "client-id";
  EXPECT_EQ(h.call("PUT", "/fhir/Encounter/client-id", dumpJson(bad)).status, 400);
  std::string gone = h.create({{"resourceType", "Patient"}})["id"];
  ASSERT_EQ(h.call("DELETE", "/fhir/Patient/" + gone).status, 200);
  r = h.call("POST", "/fhir/Encounter", dumpJson(encounterOf("Patient/" + gone)));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(diagnostics(h, r), HasSubstr("deleted"));
  // A resource may refer to itself when it is created with PUT.
  Json self{
      {"resourceType", "Patient"},
      {"id", "self"},
      {"link", Json::array({{{"other", {{"reference", "Patient/self"}}}, {"type", "seealso"}}})}};
  EXPECT_EQ(h.call("PUT", "/fhir/Patient/self", dumpJson(self)).status, 201);
}

TEST_P(IntegrityTest, DeleteOfAReferencedResourceIsAConflict) {
  FhirHarness h(GetParam());
  std::string p = h.create({{"resourceType", "Patient"}})["id"];
  std::string e = h.create(encounterOf("Patient/" + p))["id"];
  auto r = h.call("DELETE", "/fhir/Patient/" + p);
  EXPECT_EQ(r.status, 409);
  EXPECT_THAT(diagnostics(h, r), HasSubstr("Encounter/" + e));
  EXPECT_EQ(h.json(r)["issue"][0]["code"], "conflict");
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + p).status, 200);
  // Conditional delete goes through the same check.
  EXPECT_EQ(h.call("DELETE", "/fhir/Patient?_id=" + p).status, 409);
  // Once the referrer is gone, the delete succeeds.
  ASSERT_EQ(h.call("DELETE", "/fhir/Encounter/" + e).status, 200);
  EXPECT_EQ(h.call("DELETE", "/fhir/Patient/" + p).status, 200);
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + p).status, 410);
  // A resource referring only to itself can be deleted.
  Json self{
      {"resourceType", "Patient"},
      {"id", "self"},
      {"link", Json::array({{{"other", {{"reference", "Patient/self"}}}, {"type", "seealso"}}})}};
  ASSERT_EQ(h.call("PUT", "/fhir/Patient/self", dumpJson(self)).status, 201);
  EXPECT_EQ(h.call("DELETE", "/fhir/Patient/self").status, 200);
}

TEST_P(IntegrityTest, TransactionsCheckOnceEveryEntryIsWritten) {
  FhirHarness h(GetParam());
  // The Encounter comes first and refers to the Patient of a later entry.
  Json tx{{"resourceType", "Bundle"},
          {"type", "transaction"},
          {"entry", Json::array({{{"fullUrl", "urn:uuid:e1"},
                                  {"resource", encounterOf("urn:uuid:p1")},
                                  {"request", {{"method", "POST"}, {"url", "Encounter"}}}},
                                 {{"fullUrl", "urn:uuid:p1"},
                                  {"resource", {{"resourceType", "Patient"}, {"id", "tp1"}}},
                                  {"request", {{"method", "PUT"}, {"url", "Patient/tp1"}}}}})}};
  auto r = h.call("POST", "/fhir", dumpJson(tx));
  ASSERT_EQ(r.status, 200) << r.body;
  std::string e = h.ids("/fhir/Encounter?subject=Patient/tp1").at(0);

  // Deleting the Patient and the Encounter that refers to it together is fine...
  Json del{
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry", Json::array({{{"request", {{"method", "DELETE"}, {"url", "Patient/tp1"}}}},
                             {{"request", {{"method", "DELETE"}, {"url", "Encounter/" + e}}}}})}};
  // ... but the Patient alone is not, and the failed transaction changes nothing.
  Json del_patient = del;
  del_patient["entry"].erase(1);
  r = h.call("POST", "/fhir", dumpJson(del_patient));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(h.call("GET", "/fhir/Patient/tp1").status, 200);
  r = h.call("POST", "/fhir", dumpJson(del));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(h.call("GET", "/fhir/Patient/tp1").status, 410);

  // A dangling reference fails the whole transaction: the Patient entry is not stored.
  Json dangling{
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry", Json::array({{{"resource", {{"resourceType", "Patient"}, {"id", "tp2"}}},
                              {"request", {{"method", "PUT"}, {"url", "Patient/tp2"}}}},
                             {{"resource", encounterOf("Patient/missing")},
                              {"request", {{"method", "POST"}, {"url", "Encounter"}}}}})}};
  r = h.call("POST", "/fhir", dumpJson(dangling));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(h.call("GET", "/fhir/Patient/tp2").status, 404);

  // In a batch only the failing entry fails; the next request checks at once again.
  dangling["type"] = "batch";
  r = h.call("POST", "/fhir", dumpJson(dangling));
  ASSERT_EQ(r.status, 200) << r.body;
  Json batch = h.json(r);
  EXPECT_EQ(batch["entry"][0]["response"]["status"], "201 Created");
  EXPECT_EQ(batch["entry"][1]["response"]["status"], "400 Bad Request");
  EXPECT_EQ(h.call("POST", "/fhir/Encounter", dumpJson(encounterOf("Patient/missing"))).status,
            400);
}

TEST_P(IntegrityTest, ChecksCanBeTurnedOff) {
  FhirOptions options;
  options.referential_integrity_on_write = false;
  options.referential_integrity_on_delete = false;
  FhirHarness h(options, GetParam());
  h.create(encounterOf("Patient/missing"));
  std::string p = h.create({{"resourceType", "Patient"}})["id"];
  h.create(encounterOf("Patient/" + p));
  EXPECT_EQ(h.call("DELETE", "/fhir/Patient/" + p).status, 200);
  Json cs = h.json(h.call("GET", "/fhir/metadata"));
  const Json& policy = cs["rest"][0]["resource"][0]["referencePolicy"];
  EXPECT_EQ(std::find(policy.begin(), policy.end(), "enforced"), policy.end());
}

}  // namespace
}  // namespace chtlink::fhir
