#include "cht/outbound/mapper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../script/script_platform_env.h"
#include "testdata_path.h"

namespace chtlink::cht::outbound {
namespace {

using ::testing::HasSubstr;

constexpr const char* kPerson =
    R"({"_id":"b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10","_rev":"2-0f6c","type":"person",)"
    R"("name":"Amina Otieno","short_name":"Amina","date_of_birth":"1990-04-12","sex":"female",)"
    R"("phone":"+254712000111","role":"patient","patient_id":"40471","reported_date":1717400000000,)"
    R"("parent":{"_id":"c2f0d4b8-hh01","name":"Mwangaza Household"}})";

constexpr const char* kReport =
    R"({"_id":"f1e2d3c4-3333-4a5b-8c6d-7e8f9a0b1c2d","type":"data_record","form":"interop_follow_up",)"
    R"("fields":{"inputs":{"contact":{"_id":"b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"}}}})";

class MapperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine =
        script::Engine::create(script::testing::platform(), script::EngineOptions{}, nullptr);
    ASSERT_TRUE(engine.has_value()) << engine.error().message;
    engine_ = std::move(engine).value();
    auto settings = parseOutboundSettingsText(testing::readTestData("ltfu_outbound.json"));
    ASSERT_TRUE(settings.has_value()) << settings.error().message;
    settings_ = *settings;
  }

  DocumentOutcome evaluate(const std::string& doc_text, const OutboundSettings& settings) {
    auto doc = parseOrderedJson(doc_text);
    EXPECT_TRUE(doc.has_value());
    auto outcome = engine_->runSync<DocumentOutcome>(
        doc_text, [&](script::Session& session) -> Result<DocumentOutcome> {
          return evaluateDocument(session, settings, *doc);
        });
    EXPECT_TRUE(outcome.has_value());
    return outcome.has_value() ? *outcome : DocumentOutcome{};
  }

  static OutboundSettings settingsFor(const std::string& config_json) {
    auto settings = parseOutboundSettingsText(R"({"outbound":{"cfg":)" + config_json + "}}");
    EXPECT_TRUE(settings.has_value());
    return settings.has_value() ? *settings : OutboundSettings{};
  }

  std::unique_ptr<script::Engine> engine_;
  OutboundSettings settings_;
};

TEST_F(MapperTest, PatientPayloadAndHashAreExactlyChts) {
  auto outcome = evaluate(kPerson, settings_);
  EXPECT_EQ(outcome.doc_id, "b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10");
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].payload.has_value()) << outcome.pushes[0].error->message;
  EXPECT_EQ(outcome.pushes[0].config, "FHIR_patient");
  EXPECT_EQ(
      outcome.pushes[0].payload->body,
      R"({"resourceType":"Patient","identifier":[{"system":"cht","use":"official","value":"b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"}],"name":[{"use":"official","family":"Amina Otieno","given":["Amina"]}],"gender":"female","birthDate":"1990-04-12"})");
  EXPECT_EQ(outcome.pushes[0].payload->hash,
            "9af2408cabdfb80b86047044cb79510fafbb1b662c4ebccfd45e9b54c5e8681f");
}

TEST_F(MapperTest, MissingShortNameSendsNullInTheArray) {
  std::string doc = kPerson;
  doc.replace(doc.find(R"("short_name":"Amina",)"), std::string(R"("short_name":"Amina",)").size(),
              "");
  auto outcome = evaluate(doc, settings_);
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].payload.has_value());
  EXPECT_THAT(outcome.pushes[0].payload->body, HasSubstr(R"("given":[null])"));
  EXPECT_EQ(outcome.pushes[0].payload->hash,
            "b19ba9a0f0a45b4486890c56835b8a00b2b5b6fb34330e738188e8c53948367b");
}

TEST_F(MapperTest, PractitionerBuildsAnObjectAndDuplicateLiteralKeysKeepFirstPosition) {
  std::string doc = kPerson;
  doc.replace(doc.find(R"("role":"patient")"), std::string(R"("role":"patient")").size(),
              R"("role":"chw")");
  auto outcome = evaluate(doc, settings_);
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].payload.has_value()) << outcome.pushes[0].error->message;
  EXPECT_EQ(
      outcome.pushes[0].payload->body,
      R"({"resourceType":"Practitioner","gender":"female","name":[{"system":"cht","family":"Amina Otieno","given":["Amina"]}],"identifier":{"use":"usual","value":"cht/b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"},"birthDate":"1990-04-12","telecom":[{"system":"phone","use":"mobile","value":"+254712000111"}],"active":true})");
}

TEST_F(MapperTest, EncounterPayloadAndHash) {
  auto outcome = evaluate(kReport, settings_);
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].payload.has_value()) << outcome.pushes[0].error->message;
  EXPECT_EQ(
      outcome.pushes[0].payload->body,
      R"({"resourceType":"Encounter","identifier":[{"system":"cht","use":"official","value":"b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"}],"status":"finished","class":"outpatient","type":[{"text":"Community health worker visit"}],"subject":{"reference":"Patient/?identifier=b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10"},"participant":[{"type":[{"text":"Community health worker"}]}]})");
  EXPECT_EQ(outcome.pushes[0].payload->hash,
            "9c46f0d6d610baa784b8e2152787301a99959e8d773f8af04d13f682a2bbe9b2");
}

TEST_F(MapperTest, RequiredFieldMissingNamesConfigKeyAndDocument) {
  std::string doc = kPerson;
  doc.replace(doc.find(R"("sex":"female",)"), std::string(R"("sex":"female",)").size(), "");
  auto outcome = evaluate(doc, settings_);
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].error.has_value());
  EXPECT_EQ(outcome.pushes[0].error->message,
            "Mapping error for 'FHIR_patient/gender' on source document "
            "'b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10': cannot find 'doc.sex' on source document");
}

TEST_F(MapperTest, ExprErrorsCarryTheJavaScriptMessage) {
  auto settings = settingsFor(
      R"({"relevant_to":"true","destination":{"base_url":"http://x"},
          "mapping":{"a":{"expr":"doc.nothing.here"},"b":{"expr":"doc.nothing"}}})");
  auto outcome = evaluate(kPerson, settings);
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].error.has_value());
  EXPECT_THAT(outcome.pushes[0].error->message,
              HasSubstr("Mapping error for 'cfg/a' JS error on source document: "
                        "'b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10'"));
  EXPECT_THAT(outcome.pushes[0].error->message, HasSubstr("TypeError"));
}

TEST_F(MapperTest, UndefinedExprAndOptionalValues) {
  auto settings = settingsFor(
      R"({"relevant_to":"true","destination":{"base_url":"http://x"},
          "mapping":{"a":{"expr":"doc.nothing","optional":true},"b":{"path":"doc.nothing","optional":true},
                     "c":{"expr":"null"},"d":{"expr":"0"},"e":{"expr":"''"},"f":{"expr":"false"},
                     "g.0":{"expr":"1"},"h":{"expr":"doc.nothing"}}})");
  auto outcome = evaluate(kPerson, settings);
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].error.has_value());
  EXPECT_THAT(outcome.pushes[0].error->message,
              HasSubstr("'cfg/h' on source document 'b7c1a0f2-5d1e-4c8e-9a51-0c2f8e6d4a10': "
                        "expr evaluated to undefined"));
  auto settings2 = settingsFor(
      R"({"relevant_to":"true","destination":{"base_url":"http://x"},
          "mapping":{"a":{"expr":"doc.nothing","optional":true},"c":{"expr":"null"},"d":{"expr":"0"},
                     "e":{"expr":"''"},"f":{"expr":"false"},"g.0":{"expr":"1"},"n":{"expr":"1/3"}}})");
  auto ok = evaluate(kPerson, settings2);
  ASSERT_EQ(ok.pushes.size(), 1u);
  ASSERT_TRUE(ok.pushes[0].payload.has_value());
  EXPECT_EQ(ok.pushes[0].payload->body,
            R"({"c":null,"d":0,"e":"","f":false,"g":[1],"n":0.3333333333333333})");
}

TEST_F(MapperTest, RelevantToErrorsAndFalsyAndMissing) {
  auto throws = settingsFor(
      R"({"relevant_to":"doc.a.b","destination":{"base_url":"http://x"},"mapping":{}})");
  auto outcome = evaluate(kPerson, throws);
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].error.has_value());
  EXPECT_THAT(outcome.pushes[0].error->message, HasSubstr("relevant_to of outbound config 'cfg'"));
  EXPECT_TRUE(
      evaluate(
          kPerson,
          settingsFor(R"({"relevant_to":"0","destination":{"base_url":"http://x"},"mapping":{}})"))
          .pushes.empty());
  EXPECT_TRUE(
      evaluate(kPerson, settingsFor(R"({"destination":{"base_url":"http://x"},"mapping":{}})"))
          .pushes.empty());
}

TEST_F(MapperTest, EndlessMappingIsATimeoutNamingTheConfig) {
  script::EngineOptions options;
  options.threads = 1;
  options.time_limit = std::chrono::milliseconds(100);
  auto engine = script::Engine::create(script::testing::platform(), options, nullptr);
  ASSERT_TRUE(engine.has_value());
  engine_ = std::move(engine).value();
  auto outcome = evaluate(
      kPerson,
      settingsFor(
          R"({"relevant_to":"true","destination":{"base_url":"http://x"},"mapping":{"a":{"expr":"while(true){}"}}})"));
  ASSERT_EQ(outcome.pushes.size(), 1u);
  ASSERT_TRUE(outcome.pushes[0].error.has_value());
  EXPECT_EQ(outcome.pushes[0].error->reason, "script_timeout");
  EXPECT_THAT(outcome.pushes[0].error->message, HasSubstr("'cfg/a'"));
}

}  // namespace
}  // namespace chtlink::cht::outbound
