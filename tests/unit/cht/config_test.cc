#include "cht/outbound/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testdata_path.h"

namespace chtlink::cht::outbound {
namespace {

using ::testing::HasSubstr;

OutboundSettings parse(const std::string& text) {
  auto settings = parseOutboundSettingsText(text);
  EXPECT_TRUE(settings.has_value()) << settings.error().message;
  return settings.has_value() ? *settings : OutboundSettings{};
}

TEST(OutboundConfigTest, ParsesTheReferenceLtfuConfigs) {
  auto settings = parse(testing::readTestData("ltfu_outbound.json"));
  EXPECT_TRUE(settings.enabled);
  ASSERT_EQ(settings.configs.size(), 3u);
  EXPECT_EQ(settings.configs[0].name, "FHIR_patient");
  EXPECT_EQ(settings.configs[2].name, "FHIR_encounter");
  const auto& patient = settings.configs[0];
  EXPECT_FALSE(patient.problem.has_value());
  EXPECT_EQ(patient.auth.type, AuthType::Basic);
  EXPECT_EQ(patient.auth.password_key, "openhim1");
  ASSERT_EQ(patient.mapping.size(), 5u);
  EXPECT_EQ(patient.mapping[0].dest, "resourceType");
  EXPECT_EQ(patient.mapping[0].expr, "'Patient'");
  EXPECT_EQ(patient.mapping[3].path, "doc.sex");
  EXPECT_TRUE(patient.mapping[3].required);
  const auto* practitioner = settings.find("FHIR_practitioner");
  ASSERT_NE(practitioner, nullptr);
  EXPECT_EQ(practitioner->mapping[7].expr, "true");  // non-string expr is source text
  EXPECT_FALSE(practitioner->mapping[6].required);
}

TEST(OutboundConfigTest, ProblemsNameTheConfigAndKeyAndLeaveOthersUsable) {
  auto settings = parse(R"({"outbound":{
    "bad_auth":{"relevant_to":"true","destination":{"base_url":"http://x","path":"/p",
                "auth":{"type":"oauth"}},"mapping":{}},
    "no_type":{"relevant_to":"true","destination":{"base_url":"http://x","auth":{}},"mapping":{}},
    "bad_header":{"relevant_to":"true","destination":{"base_url":"http://x",
                "auth":{"type":"header","name":"x-api-key","value_key":"k"}},"mapping":{}},
    "no_mapping":{"relevant_to":"true","destination":{"base_url":"http://x"}},
    "no_destination":{"relevant_to":"true","mapping":{}},
    "good":{"relevant_to":"true","destination":{"base_url":"http://x","path":"p"},"mapping":{"a":"doc._id"}}
  }})");
  ASSERT_EQ(settings.configs.size(), 6u);
  EXPECT_FALSE(settings.enabled);
  auto problem = [&](const char* name) {
    const auto* config = settings.find(name);
    return config && config->problem ? config->problem->message : std::string("(none)");
  };
  EXPECT_THAT(problem("bad_auth"),
              HasSubstr("'bad_auth': destination.auth.type: Invalid auth type 'oauth'"));
  EXPECT_THAT(problem("no_type"), HasSubstr("No auth.type"));
  EXPECT_THAT(problem("bad_header"), HasSubstr("Unsupported header name 'x-api-key'"));
  EXPECT_THAT(problem("no_mapping"), HasSubstr("'no_mapping': mapping"));
  EXPECT_THAT(problem("no_destination"), HasSubstr("'no_destination': destination"));
  EXPECT_EQ(problem("good"), "(none)");
}

TEST(OutboundConfigTest, MarkForOutboundCanBeDisabled) {
  EXPECT_FALSE(parse(R"({"transitions":{"mark_for_outbound":{"disable":true}}})").enabled);
  EXPECT_TRUE(parse(R"({"transitions":{"mark_for_outbound":{}}})").enabled);
}

TEST(OutboundConfigTest, WholeDocumentErrors) {
  EXPECT_FALSE(parseOutboundSettingsText("[]").has_value());
  EXPECT_FALSE(parseOutboundSettingsText(R"({"outbound":[]})").has_value());
  auto bad = parseOutboundSettingsText("{");
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message, HasSubstr("app_settings is not valid JSON"));
}

TEST(OutboundConfigTest, JoinUrlPutsExactlyOneSlash) {
  EXPECT_EQ(joinUrl("http://h:5001", "/mediator/patient"), "http://h:5001/mediator/patient");
  EXPECT_EQ(joinUrl("http://h:5001/", "mediator"), "http://h:5001/mediator");
  EXPECT_EQ(joinUrl("http://h:5001//", "//mediator"), "http://h:5001/mediator");
  EXPECT_EQ(joinUrl("http://h:5001", ""), "http://h:5001");
}

}  // namespace
}  // namespace chtlink::cht::outbound
