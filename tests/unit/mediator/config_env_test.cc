// The [mediator] settings and the reference mediator's environment names (PORT, FHIR_URL, ...):
// they fill [mediator], CHTLINK_MEDIATOR_* and --set win over them, and the observation table
// is validated at load.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"

namespace chtlink::config {
namespace {

using ::testing::HasSubstr;

TEST(MediatorConfigTest, ReferenceEnvironmentNamesFillTheMediatorSection) {
  ConfigSources src;
  src.env = {{"PORT", "6001"},
             {"FHIR_URL", "http://hapi-fhir:8080/fhir"},
             {"FHIR_USERNAME", "interop-client"},
             {"FHIR_PASSWORD", "interop-password"},
             {"CHT_URL", "https://cht.example.org"},
             {"CHT_USERNAME", "admin"},
             {"CHT_PASSWORD", "pass"},
             {"OPENHIM_API_URL", "https://openhim-core:8080"},
             {"OPENHIM_USERNAME", "interop@openhim.org"},
             {"OPENHIM_PASSWORD", "interop-password"}};
  auto c = loadConfig(src);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->mediator.port, 6001);
  EXPECT_EQ(c->mediator.fhir_url, "http://hapi-fhir:8080/fhir");
  EXPECT_EQ(c->mediator.fhir_username, "interop-client");
  EXPECT_EQ(c->mediator.fhir_password, "interop-password");
  EXPECT_EQ(c->mediator.cht_url, "https://cht.example.org");
  EXPECT_EQ(c->mediator.cht_username, "admin");
  EXPECT_EQ(c->mediator.cht_password, "pass");
  EXPECT_EQ(c->mediator.openhim_api_url, "https://openhim-core:8080");
  EXPECT_EQ(c->mediator.openhim_username, "interop@openhim.org");
  EXPECT_EQ(c->mediator.openhim_password, "interop-password");
  EXPECT_EQ(c->sources["mediator.fhir_url"], "environment FHIR_URL");
}

TEST(MediatorConfigTest, ChtlinkNamesAndSetWinOverReferenceNames) {
  ConfigSources src;
  src.env = {{"CHTLINK_MEDIATOR_FHIR_URL", "http://chtlink:8090/fhir"},
             {"FHIR_URL", "http://hapi-fhir:8080/fhir"},
             {"PORT", "7000"}};
  src.overrides = {"mediator.port=6100"};
  auto c = loadConfig(src);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->mediator.fhir_url, "http://chtlink:8090/fhir");
  EXPECT_EQ(c->mediator.port, 6100);
}

TEST(MediatorConfigTest, DefaultsAndRefusals) {
  auto defaults = loadConfig({});
  ASSERT_TRUE(defaults.has_value());
  EXPECT_TRUE(defaults->mediator.enabled);
  EXPECT_EQ(defaults->mediator.port, 6000);
  EXPECT_EQ(defaults->mediator.heartbeat_interval, std::chrono::seconds(10));
  ASSERT_EQ(defaults->mediator.observations.size(), 1u);

  ConfigSources bad;
  bad.env = {{"PORT", "http"}};
  bad.overrides = {R"(mediator.observations=[{"field":"x","system":"s"}])"};
  auto c = loadConfig(bad);
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("environment PORT: mediator.port: expected an integer"));
  EXPECT_THAT(c.error().message, HasSubstr("mediator.observations: row 0: \"code\" is required"));

  ConfigSources table;
  table.overrides = {
      R"(mediator.observations=[{"field":"vitals.weight","system":"http://loinc.org","code":"29463-7","type":"quantity","unit":"kg"}])"};
  auto t = loadConfig(table);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  ASSERT_EQ(t->mediator.observations.size(), 1u);
  EXPECT_EQ(t->mediator.observations[0].unit, "kg");
}

}  // namespace
}  // namespace chtlink::config
