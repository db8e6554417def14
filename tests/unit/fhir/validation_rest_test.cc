// The validator behind the REST API: $validate, and create/update in both modes.
#include <gtest/gtest.h>

#include "fhir_harness.h"

namespace chtlink::fhir {
namespace {

using testing::FhirHarness;

bool hasIssue(const Json& oo, std::string_view severity, std::string_view expression,
              std::string_view text) {
  if (!oo.contains("issue")) return false;
  for (const auto& i : oo["issue"]) {
    bool at = expression.empty() || (i.contains("expression") && i["expression"][0] == expression);
    if (i.value("severity", "") == severity && at &&
        i.value("diagnostics", "").find(text) != std::string::npos)
      return true;
  }
  return false;
}

TEST(ValidationRestTest, TypeValidateAnswersAnOperationOutcomeWithLocations) {
  FhirHarness h;
  auto r = h.call("POST", "/fhir/Patient/$validate",
                  R"({"resourceType":"Patient","gender":"mail","name":[{"given":["a",""]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json oo = h.json(r);
  EXPECT_EQ(oo["resourceType"], "OperationOutcome");
  EXPECT_TRUE(hasIssue(oo, "error", "Patient.gender", "required ValueSet")) << r.body;
  EXPECT_TRUE(hasIssue(oo, "warning", "Patient.name[0].given[1]", "empty string")) << r.body;
}

TEST(ValidationRestTest, BaseValidateTakesParametersAndPreferStrict) {
  FhirHarness h;
  std::string params =
      R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":)"
      R"({"resourceType":"Encounter","status":"finished","class":"outpatient"}}]})";
  Json lenient = h.json(h.call("POST", "/fhir/$validate", params));
  EXPECT_TRUE(hasIssue(lenient, "warning", "Encounter.class", "must be a JSON object")) << lenient;
  net::Headers prefer;
  prefer.set("Prefer", "handling=strict");
  Json strict = h.json(h.call("POST", "/fhir/$validate", params, prefer));
  EXPECT_TRUE(hasIssue(strict, "error", "Encounter.class", "must be a JSON object")) << strict;

  auto none = h.call("POST", "/fhir/$validate", R"({"resourceType":"Parameters"})");
  EXPECT_EQ(none.status, 400) << none.body;
  auto clean = h.json(h.call("POST", "/fhir/Patient/$validate", R"({"resourceType":"Patient"})"));
  EXPECT_FALSE(hasIssue(clean, "error", "", "")) << clean;
  auto wrong = h.json(h.call("POST", "/fhir/Encounter/$validate", R"({"resourceType":"Patient"})"));
  EXPECT_TRUE(hasIssue(wrong, "error", "", "posted to Encounter/$validate")) << wrong;
  EXPECT_EQ(h.call("GET", "/fhir/Patient/$validate").status, 405);
}

TEST(ValidationRestTest, DefaultModeStoresWhatHapiAcceptsAndRejectsInvalidValues) {
  FhirHarness h;
  // The CHT outbound Encounter (class as a string) is stored, as HAPI does.
  auto cht = h.call("POST", "/fhir/Encounter",
                    R"({"resourceType":"Encounter","status":"finished","class":"outpatient"})");
  EXPECT_EQ(cht.status, 201) << cht.body;
  auto bad =
      h.call("POST", "/fhir/Patient", R"({"resourceType":"Patient","birthDate":"2020-13-01"})");
  ASSERT_EQ(bad.status, 400) << bad.body;
  EXPECT_TRUE(hasIssue(h.json(bad), "error", "Patient.birthDate", "not a valid date")) << bad.body;
  auto put =
      h.call("PUT", "/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1","gender":"mail"})");
  EXPECT_EQ(put.status, 400) << put.body;
  EXPECT_EQ(h.call("GET", "/fhir/Patient/p1").status, 404);
}

TEST(ValidationRestTest, StrictModeRejectsAnyErrorWith422) {
  FhirOptions options;
  options.validation = "strict";
  FhirHarness h(options);
  auto cht = h.call("POST", "/fhir/Encounter",
                    R"({"resourceType":"Encounter","status":"finished","class":"outpatient"})");
  ASSERT_EQ(cht.status, 422) << cht.body;
  Json oo = h.json(cht);
  EXPECT_TRUE(hasIssue(oo, "error", "Encounter.class", "must be a JSON object (Coding)")) << oo;
  for (const auto& i : oo["issue"]) EXPECT_EQ(i["severity"], "error") << oo;
  auto good = h.call(
      "POST", "/fhir/Encounter",
      R"({"resourceType":"Encounter","status":"finished",)"
      R"("class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}})");
  EXPECT_EQ(good.status, 201) << good.body;
  // Inside a transaction the failing entry is named and nothing is written.
  std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"t1"},"request":{"method":"PUT","url":"Patient/t1"}},)"
      R"({"resource":{"resourceType":"Patient","foo":1},"request":{"method":"POST","url":"Patient"}}]})";
  auto tx = h.call("POST", "/fhir", bundle);
  EXPECT_EQ(tx.status, 422) << tx.body;
  EXPECT_NE(tx.body.find("Patient.foo"), std::string::npos) << tx.body;
  EXPECT_EQ(h.call("GET", "/fhir/Patient/t1").status, 404);
}

}  // namespace
}  // namespace chtlink::fhir
