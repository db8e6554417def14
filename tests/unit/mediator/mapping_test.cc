// Pure parts of the mediator: the observation mapping table and rule-7 normalisation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mediator/observations.h"
#include "mediator/validation.h"

namespace chtlink::mediator {
namespace {

using ::testing::HasSubstr;

TEST(ObservationMappingTest, ParsesRowsAndRoundTrips) {
  auto rows = parseObservationMappings(
      R"([{"field":"vitals.weight","system":"http://loinc.org","code":"29463-7","type":"quantity","unit":"kg"},
          {"field":"visit.done","system":"s","code":"c"}])");
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].type, ObservationValueType::Quantity);
  EXPECT_EQ((*rows)[1].type, ObservationValueType::String);
  auto again = parseObservationMappings(renderObservationMappings(*rows));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)[0].unit, "kg");
}

TEST(ObservationMappingTest, RefusalsNameTheRowAndKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "not valid JSON"},
      {"{}", "expected a JSON array"},
      {"[1]", "row 0: expected an object"},
      {R"([{"system":"s","code":"c"}])", "row 0: \"field\" is required"},
      {R"([{"field":"f","system":"s","code":1}])", "row 0: \"code\" must be a string"},
      {R"([{"field":"f","system":"s","code":"c","type":"money"}])", "\"type\" must be one of"},
      {R"([{"field":"f","system":"s","code":"c","colour":"red"}])", "unknown key \"colour\""},
  };
  for (const auto& [json, message] : cases) {
    auto rows = parseObservationMappings(json);
    ASSERT_FALSE(rows.has_value()) << json;
    EXPECT_THAT(rows.error().message, HasSubstr(message)) << json;
  }
}

TEST(ObservationMappingTest, MapsPresentFieldsAndSkipsValuesOfTheWrongType) {
  std::vector<ObservationMapping> rows = {
      {"vitals.weight", "http://loinc.org", "29463-7", "", ObservationValueType::Quantity, "kg"},
      {"vitals.count", "s", "n", "", ObservationValueType::Integer, ""},
      {"visit.done", "s", "done", "", ObservationValueType::Boolean, ""},
      {"absent.field", "s", "a", "", ObservationValueType::String, ""},
  };
  Json fields{{"vitals", Json{{"weight", "65"}, {"count", "2.5"}}},
              {"visit", Json{{"done", "yes"}}}};
  auto mapped = mapObservations(rows, fields);
  ASSERT_EQ(mapped.observations.size(), 2u);
  EXPECT_EQ(mapped.observations[0]["valueQuantity"]["value"], 65.0);
  EXPECT_EQ(mapped.observations[1]["valueBoolean"], true);
  ASSERT_EQ(mapped.skipped.size(), 1u);
  EXPECT_THAT(mapped.skipped[0], HasSubstr("vitals.count: expected an integer"));
}

TEST(NormalisationTest, ReferenceOutboundShapesBecomeValidR4) {
  auto enc = checkEncounter(parseJson(R"({"identifier":[{"system":"cht",
      "value":"b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"}],"status":"finished","class":"outpatient",
      "type":["visit"],"subject":{"reference":"Patient/1"},"participant":[{}]})")
                                .value());
  ASSERT_TRUE(enc.ok) << enc.invalid.message;
  EXPECT_EQ(enc.value.resource["class"]["system"],
            "http://terminology.hl7.org/CodeSystem/v3-ActCode");
  EXPECT_EQ(enc.value.resource["type"][0]["text"], "visit");
  auto org = checkOrganization(parseJson(R"({"identifier":[{"value":"o"}],"name":["Org"],
      "endpoint":[{"type":"Endpoint","reference":"Endpoint/e1"}]})")
                                   .value());
  ASSERT_TRUE(org.ok) << org.invalid.message;
  EXPECT_EQ(org.value["name"], "Org");
  EXPECT_FALSE(org.value["endpoint"][0].contains("type"));
  auto patient = checkPatient(parseJson(R"({"identifier":[{"system":"cht",
      "value":"b7c1a0f25d1e4c8e9a510c2f8e6d4a10"}],"name":[{"system":"cht","family":"A",
      "given":["B"]}],"gender":"male","birthDate":"2000"})")
                                  .value());
  ASSERT_TRUE(patient.ok) << patient.invalid.message;
  EXPECT_FALSE(patient.value["name"][0].contains("system"));
}

TEST(NormalisationTest, GuidsAsJoiAcceptsThem) {
  EXPECT_TRUE(isGuid("b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"));
  EXPECT_TRUE(isGuid("b7c1a0f25d1e4c8e9a510c2f8e6d4a10"));
  EXPECT_FALSE(isGuid("b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a1"));
  EXPECT_FALSE(isGuid("b7c1a0f2_5d1e-4c8e-9a51-0c2f8e6d4a10"));
  EXPECT_FALSE(isGuid("40471"));
}

}  // namespace
}  // namespace chtlink::mediator
