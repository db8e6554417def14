#include "fhir/search/fhir_path.h"

#include <gtest/gtest.h>

namespace chtlink::fhir::search {
namespace {

std::vector<std::string> eval(std::string_view expr, const Json& resource) {
  auto path = FhirPath::compile(expr);
  EXPECT_TRUE(path.has_value()) << expr << ": " << (path.has_value() ? "" : path.error().message);
  std::vector<std::string> out;
  if (!path.has_value()) return out;
  for (const auto& v : path->evaluate(resource, resource.value("resourceType", "")))
    out.push_back(v.node->dump() + (v.type.empty() ? "" : ":" + v.type));
  return out;
}

const Json kObservation = Json::parse(R"({
  "resourceType": "Observation",
  "subject": {"reference": "Patient/1"},
  "performer": [{"reference": "Practitioner/2"}, {"reference": "Organization/3"}],
  "valueQuantity": {"value": 5, "unit": "mg"},
  "effectivePeriod": {"start": "2024-01-01"},
  "extension": [{"url": "http://x/ext", "valueString": "hello"}],
  "component": [{"valueString": "a"}, {"valueQuantity": {"value": 1}}]
})");

TEST(FhirPathTest, FollowsPathsAndFlattensArrays) {
  EXPECT_EQ(eval("Observation.performer.reference", kObservation),
            (std::vector<std::string>{"\"Practitioner/2\"", "\"Organization/3\""}));
  EXPECT_TRUE(eval("Patient.name", kObservation).empty());
}

TEST(FhirPathTest, UnionsPickTheTermsOfTheResourceType) {
  EXPECT_EQ(eval("Patient.subject | Observation.subject", kObservation).size(), 1u);
}

TEST(FhirPathTest, ChoiceElementsAndTypeFilters) {
  EXPECT_EQ(eval("Observation.value", kObservation),
            (std::vector<std::string>{R"({"unit":"mg","value":5}:Quantity)"}));
  EXPECT_EQ(eval("(Observation.value as Quantity)", kObservation).size(), 1u);
  EXPECT_TRUE(eval("(Observation.value as CodeableConcept)", kObservation).empty());
  EXPECT_EQ(eval("Observation.effective.as(Period)", kObservation).size(), 1u);
  EXPECT_EQ(eval("Observation.component.value.ofType(Quantity)", kObservation).size(), 1u);
}

TEST(FhirPathTest, WhereResolveIsFiltersReferencesByType) {
  EXPECT_EQ(eval("Observation.performer.where(resolve() is Organization)", kObservation),
            (std::vector<std::string>{R"({"reference":"Organization/3"})"}));
}

TEST(FhirPathTest, ExtensionYieldsItsValue) {
  EXPECT_EQ(eval("Observation.extension('http://x/ext')", kObservation),
            (std::vector<std::string>{"\"hello\":String"}));
}

TEST(FhirPathTest, WhereEqualsFiltersOnAField) {
  Json patient = Json::parse(
      R"({"resourceType":"Patient","telecom":[{"system":"phone","value":"1"},{"system":"email","value":"a@b"}]})");
  EXPECT_EQ(eval("Patient.telecom.where(system='email')", patient).size(), 1u);
}

TEST(FhirPathTest, UnsupportedFormsFailToCompileWithAReason) {
  auto p = FhirPath::compile("Patient.deceased.exists() and Patient.deceased != false");
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message.find("exists"), std::string::npos);
}

}  // namespace
}  // namespace chtlink::fhir::search
