#include "him/channel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace chtlink::him {
namespace {

using ::testing::HasSubstr;

const Json kAllMethods =
    Json::array({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"});

Json channelDoc(const std::string& name, const std::string& pattern, Json extra = Json::object()) {
  Json doc = {
      {"_id", name + "-id"},
      {"name", name},
      {"urlPattern", pattern},
      {"methods", kAllMethods},
      {"routes", Json::array({{{"name", "up"}, {"host", "h"}, {"port", 80}, {"primary", true}}})}};
  doc.update(extra);
  return doc;
}

std::vector<Channel> build(const std::vector<Json>& docs) {
  std::vector<Channel> out;
  int64_t order = 0;
  for (const auto& d : docs) {
    auto c = parseChannel(d, order++);
    EXPECT_TRUE(c.has_value()) << d.dump();
    if (c.has_value()) out.push_back(std::move(c).value());
  }
  sortForSelection(out);
  return out;
}

std::string selected(const std::vector<Channel>& channels, std::string_view method,
                     std::string_view path, std::string_view content_type = "") {
  const Channel* c = selectChannel(channels, method, path, content_type);
  return c == nullptr ? "none" : c->name;
}

TEST(ChannelSelectionTest, LowerPriorityNumberWinsThenCreationOrder) {
  auto channels = build({channelDoc("unprioritised", "^/fhir/.*$"),
                         channelDoc("p2", "^/fhir/.*$", {{"priority", 2}}),
                         channelDoc("p1-second", "^/fhir/.*$", {{"priority", 1}}),
                         channelDoc("p1-created-later", "/fhir", {{"priority", 1}})});
  EXPECT_EQ(selected(channels, "GET", "/fhir/Patient"), "p1-second");
}

TEST(ChannelSelectionTest, UnprioritisedChannelsComeAfterPrioritisedOnesInCreationOrder) {
  auto channels = build(
      {channelDoc("a", "^/x"), channelDoc("b", "^/x"), channelDoc("c", "^/x", {{"priority", 50}})});
  EXPECT_EQ(selected(channels, "GET", "/x"), "c");
  auto no_priority = build({channelDoc("a", "^/x"), channelDoc("b", "^/x")});
  EXPECT_EQ(selected(no_priority, "GET", "/x"), "a");
}

TEST(ChannelSelectionTest, PatternIsUnanchored) {
  auto channels = build({channelDoc("fhir", "fhir")});
  EXPECT_EQ(selected(channels, "GET", "/api/fhir/Patient"), "fhir");
  EXPECT_EQ(selected(channels, "GET", "/api/other"), "none");
  auto anchored = build({channelDoc("anchored", "^/fhir$")});
  EXPECT_EQ(selected(anchored, "GET", "/fhir/Patient"), "none");
  EXPECT_EQ(selected(anchored, "GET", "/fhir"), "anchored");
}

TEST(ChannelSelectionTest, MethodMustBeListedAndEmptyListNeverMatches) {
  auto channels = build({channelDoc("get-only", "^/a", {{"methods", {"GET"}}}),
                         channelDoc("none", "^/b", {{"methods", Json::array()}})});
  EXPECT_EQ(selected(channels, "GET", "/a"), "get-only");
  EXPECT_EQ(selected(channels, "POST", "/a"), "none");
  EXPECT_EQ(selected(channels, "GET", "/b"), "none");
}

TEST(ChannelSelectionTest, DisabledChannelsAreSkippedInFavourOfTheNext) {
  auto channels = build({channelDoc("first", "^/x", {{"priority", 1}, {"status", "disabled"}}),
                         channelDoc("second", "^/x", {{"priority", 2}})});
  EXPECT_EQ(selected(channels, "GET", "/x"), "second");
}

TEST(ChannelSelectionTest, ContentTypesMatchTheMediaTypeOnly) {
  auto channels = build({channelDoc("json", "^/x", {{"matchContentTypes", {"application/json"}}})});
  EXPECT_EQ(selected(channels, "POST", "/x", "application/json; charset=utf-8"), "json");
  EXPECT_EQ(selected(channels, "POST", "/x", "text/plain"), "none");
  EXPECT_EQ(selected(channels, "POST", "/x", ""), "none");
}

TEST(ChannelParseTest, InvalidPatternIsRefusedWithTheChannelName) {
  auto c = parseChannel(channelDoc("broken", "(unclosed"));
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("broken"));
}

TEST(ChannelParseTest, StringPortsAndDisabledRoutes) {
  Json doc = channelDoc("c", "^/m");
  doc["routes"] =
      Json::array({{{"name", "a"}, {"host", "m"}, {"port", "6000"}, {"primary", true}},
                   {{"name", "off"}, {"host", "m"}, {"port", 1}, {"status", "disabled"}}});
  auto c = parseChannel(doc);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(c->routes.size(), 1u);
  EXPECT_EQ(c->routes[0].port, 6000);
  doc["routes"][0]["port"] = "60x";
  EXPECT_FALSE(parseChannel(doc).has_value());
}

struct TransformCase {
  std::string path;
  std::string transform;
  std::string expected;
};

TEST(PathTransformTest, SedLikeTransformsAsOpenHim) {
  const TransformCase cases[] = {
      {"/mediator/patient", R"(s/\/mediator/)", "/patient"},
      {"/fhir/Patient", "s/fhir/baseR4/", "/baseR4/Patient"},
      {"/a/a", "s/a/b/g", "/b/b"},
      {"/a/a", "s/a/b", "/b/a"},
      {"/fhir/Patient/1", R"(s/\/fhir\/(\w+)/\/r4\/$1/)", "/r4/Patient/1"},
      {"/x", "s/nomatch/y/", "/x"},
  };
  for (const auto& c : cases) {
    auto out = transformPath(c.path, c.transform);
    ASSERT_TRUE(out.has_value()) << c.transform << ": " << out.error().message;
    EXPECT_EQ(*out, c.expected) << c.transform;
  }
}

TEST(PathTransformTest, MalformedTransformIsAnError) {
  EXPECT_FALSE(transformPath("/a", "x/a/b").has_value());
  EXPECT_FALSE(transformPath("/a", "s/a").has_value());
  EXPECT_FALSE(transformPath("/a", "s/(/b/").has_value());
}

TEST(UpstreamPathTest, FixedPathWinsThenTransformThenIncoming) {
  Route r;
  EXPECT_EQ(*upstreamPath(r, "/in"), "/in");
  r.path_transform = "s/in/out/";
  EXPECT_EQ(*upstreamPath(r, "/in"), "/out");
  r.path = "/fixed";
  EXPECT_EQ(*upstreamPath(r, "/in"), "/fixed");
}

TEST(ValidateChannelTest, ApiRulesWithOpenHimMessages) {
  Json good = channelDoc("c", "^/x");
  EXPECT_TRUE(validateChannelDocument(good).has_value());

  Json no_primary = good;
  no_primary["routes"][0]["primary"] = false;
  EXPECT_THAT(validateChannelDocument(no_primary).error().message,
              HasSubstr("must have a primary route"));

  Json two = good;
  two["routes"].push_back(good["routes"][0]);
  EXPECT_THAT(validateChannelDocument(two).error().message, HasSubstr("multiple primary"));

  Json both = good;
  both["routes"][0]["path"] = "/p";
  both["routes"][0]["pathTransform"] = "s/a/b/";
  EXPECT_THAT(validateChannelDocument(both).error().message,
              HasSubstr("both path and pathTransform"));

  Json priority = good;
  priority["priority"] = 0;
  EXPECT_THAT(validateChannelDocument(priority).error().message, HasSubstr("priority"));

  Json dup = good;
  dup["methods"] = {"GET", "GET"};
  EXPECT_THAT(validateChannelDocument(dup).error().message, HasSubstr("duplicates"));

  Json timeout = good;
  timeout["timeout"] = 0;
  EXPECT_THAT(validateChannelDocument(timeout).error().message, HasSubstr("timeout"));

  Json no_name = good;
  no_name.erase("name");
  EXPECT_THAT(validateChannelDocument(no_name).error().message,
              HasSubstr("Path `name` is required"));
}

}  // namespace
}  // namespace chtlink::him

namespace chtlink::him {
namespace {

TEST(PollingScheduleTest, HumanIntervalsOnly) {
  EXPECT_EQ(parsePollingSchedule("10 seconds"), std::chrono::milliseconds(10'000));
  EXPECT_EQ(parsePollingSchedule("1 second"), std::chrono::milliseconds(1'000));
  EXPECT_EQ(parsePollingSchedule("5 minutes"), std::chrono::milliseconds(300'000));
  EXPECT_EQ(parsePollingSchedule("1 hour"), std::chrono::milliseconds(3'600'000));
  EXPECT_EQ(parsePollingSchedule("2 days"), std::chrono::milliseconds(172'800'000));
  EXPECT_FALSE(parsePollingSchedule("*/5 * * * *").has_value());
  EXPECT_FALSE(parsePollingSchedule("0 minutes").has_value());
  EXPECT_FALSE(parsePollingSchedule("10 fortnights").has_value());
}

TEST(PollingScheduleTest, PollingChannelNeedsASupportedSchedule) {
  Json doc = {{"name", "poll"},
              {"type", "polling"},
              {"urlPattern", "^/poll$"},
              {"pollingSchedule", "*/5 * * * *"},
              {"routes", Json::array({{{"name", "r"}, {"host", "h"}, {"primary", true}}})}};
  EXPECT_TRUE(validateChannelDocument(doc).has_value());
  doc["pollingSchedule"] = "5 minutes";
  EXPECT_TRUE(validateChannelDocument(doc).has_value());
  doc["pollingSchedule"] = "*/5 * * *";
  EXPECT_FALSE(validateChannelDocument(doc).has_value());
  doc["pollingSchedule"] = "61 * * * *";
  EXPECT_FALSE(validateChannelDocument(doc).has_value());
}

}  // namespace
}  // namespace chtlink::him
