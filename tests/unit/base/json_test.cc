#include "base/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace chtlink {
namespace {

using ::testing::HasSubstr;

TEST(ParseJsonTest, ParsesAValidDocument) {
  auto r = parseJson(R"({"a": [1, 2, {"b": "c"}]})");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ((*r)["a"][2]["b"], "c");
}

TEST(ParseJsonTest, NamesLineAndColumnOfTheError) {
  auto r = parseJson("{\n  \"a\": 1,\n  \"b\": tru\n}");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(r.error().reason, "invalid_json");
  EXPECT_THAT(r.error().message, HasSubstr("line 3"));
}

TEST(ParseJsonTest, RejectsTrailingContentAndComments) {
  EXPECT_FALSE(parseJson("{} {}").has_value());
  EXPECT_FALSE(parseJson("{} // c").has_value());
  EXPECT_FALSE(parseJson("").has_value());
}

TEST(ParseJsonTest, RejectsNestingBeyondTheLimit) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  auto r = parseJson(deep, 128);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason, "json_too_deep");
  EXPECT_TRUE(parseJson(std::string(10, '[') + std::string(10, ']'), 128).has_value());
}

TEST(ParseJsonTest, RejectsInvalidUtf8) { EXPECT_FALSE(parseJson("\"\xff\xfe\"").has_value()); }

TEST(DumpJsonTest, ReplacesInvalidUtf8InsteadOfThrowing) {
  Json j = std::string("a\xff");
  EXPECT_NO_THROW(dumpJson(j));
}

}  // namespace
}  // namespace chtlink
