#include "cht/outbound/js_json.h"

#include <gtest/gtest.h>

namespace chtlink::cht::outbound {
namespace {

TEST(JsJsonTest, NumbersFormatAsEcmaScript) {
  const std::pair<double, const char*> cases[] = {
      {1, "1"},
      {-1.5, "-1.5"},
      {0.1, "0.1"},
      {1e21, "1e+21"},
      {1e20, "100000000000000000000"},
      {1e-7, "1e-7"},
      {1.5e-7, "1.5e-7"},
      {0.000001, "0.000001"},
      {123.456, "123.456"},
      {1717600000000.0, "1717600000000"},
      {0.30000000000000004, "0.30000000000000004"},
      {-0.0, "0"},
      {2.5e300, "2.5e+300"},
      {5e-324, "5e-324"},
  };
  for (const auto& [value, text] : cases) EXPECT_EQ(jsNumber(value), text) << text;
}

TEST(JsJsonTest, StringifyUsesJavaScriptPropertyOrder) {
  auto parsed = parseOrderedJson(R"({"b":1,"10":2,"a":3,"2":4,"01":5})");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(jsStringify(*parsed), R"({"2":4,"10":2,"b":1,"a":3,"01":5})");
}

TEST(JsJsonTest, StringifyEscapesAsJavaScript) {
  OrderedJson value = "a\"b\\c\n\x01\xC3\xA9/";
  EXPECT_EQ(jsStringify(value), "\"a\\\"b\\\\c\\n\\u0001\xC3\xA9/\"");
}

TEST(JsJsonTest, DuplicateKeysKeepFirstPositionAndLastValue) {
  auto parsed = parseOrderedJson(R"({"a":1,"b":2,"a":3})");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(jsStringify(*parsed), R"({"a":3,"b":2})");
}

TEST(JsJsonTest, BigIntegersLoseDigitsAsInJavaScript) {
  auto parsed = parseOrderedJson(R"([12345678901234567890, 9007199254740993, 42])");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(jsStringify(*parsed), "[12345678901234567000,9007199254740992,42]");
}

TEST(JsJsonTest, ParseErrorsAreResults) {
  auto parsed = parseOrderedJson("{\"a\":");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().reason, "invalid_json");
}

}  // namespace
}  // namespace chtlink::cht::outbound
