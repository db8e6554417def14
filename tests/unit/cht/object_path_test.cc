#include "cht/outbound/object_path.h"

#include <gtest/gtest.h>

namespace chtlink::cht::outbound {
namespace {

OrderedJson root() {
  auto doc = parseOrderedJson(
      R"({"doc":{"_id":"p1","name":"Amina","n":null,"list":[{"x":1},{"x":2}],"f":{"a":{"b":0}},"s":""}})");
  EXPECT_TRUE(doc.has_value());
  return *doc;
}

TEST(ObjectPathTest, GetFollowsObjectsAndArrayIndices) {
  const auto r = root();
  EXPECT_EQ(getPath(r, "doc.name"), OrderedJson("Amina"));
  EXPECT_EQ(getPath(r, "doc.list.1.x"), OrderedJson(2));
  EXPECT_EQ(getPath(r, "doc.f.a.b"), OrderedJson(0));
  EXPECT_EQ(getPath(r, "doc.list.length"), OrderedJson(2));
  EXPECT_EQ(getPath(r, "doc.name.length"), OrderedJson(5));
  EXPECT_EQ(getPath(r, "doc.name.0"), OrderedJson("A"));
  EXPECT_EQ(getPath(r, "doc.s"), OrderedJson(""));
}

TEST(ObjectPathTest, MissingLinksAreUndefinedNotErrors) {
  const auto r = root();
  EXPECT_FALSE(getPath(r, "doc.missing").has_value());
  EXPECT_FALSE(getPath(r, "doc.missing.deeper").has_value());
  EXPECT_FALSE(getPath(r, "doc.n.x").has_value());
  EXPECT_FALSE(getPath(r, "doc.list.5").has_value());
  EXPECT_FALSE(getPath(r, "doc.list.01").has_value());
  EXPECT_FALSE(getPath(r, "name").has_value());
  EXPECT_EQ(getPath(r, "doc.n"), OrderedJson(nullptr));  // null is a value
}

TEST(ObjectPathTest, SetCreatesArraysForNumericSegments) {
  OrderedJson payload = OrderedJson::object();
  ASSERT_TRUE(setPath(payload, "observations.0.code", "a").has_value());
  ASSERT_TRUE(setPath(payload, "observations.0.valueQuantity.value", 172).has_value());
  ASSERT_TRUE(setPath(payload, "observations.1.code", "b").has_value());
  ASSERT_TRUE(setPath(payload, "id", "x").has_value());
  EXPECT_EQ(
      jsStringify(payload),
      R"({"observations":[{"code":"a","valueQuantity":{"value":172}},{"code":"b"}],"id":"x"})");
}

TEST(ObjectPathTest, SetLeavesHolesAsNullAndOverwritesTheLastSegment) {
  OrderedJson payload = OrderedJson::object();
  ASSERT_TRUE(setPath(payload, "a.2", 1).has_value());
  ASSERT_TRUE(setPath(payload, "b.c", 1).has_value());
  ASSERT_TRUE(setPath(payload, "b.c", 2).has_value());
  EXPECT_EQ(jsStringify(payload), R"({"a":[null,null,1],"b":{"c":2}})");
}

TEST(ObjectPathTest, SetThroughAPrimitiveOrNullFails) {
  OrderedJson payload = OrderedJson::object();
  ASSERT_TRUE(setPath(payload, "a", nullptr).has_value());
  auto through_null = setPath(payload, "a.b", 1);
  ASSERT_FALSE(through_null.has_value());
  EXPECT_NE(through_null.error().message.find("null"), std::string::npos);
  EXPECT_FALSE(setPath(payload, "__proto__.x", 1).has_value());
}

}  // namespace
}  // namespace chtlink::cht::outbound
