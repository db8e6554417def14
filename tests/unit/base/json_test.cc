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

std::string asJsonString(std::string_view text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

TEST(AppendJsonStringTest, EscapesValidTextExactlyAsDumpJson) {
  const std::string cases[] = {
      "",
      "plain ascii",
      "quote \" backslash \\ slash /",
      "\b\f\n\r\t",
      std::string("nul \0 and \x01 \x1f \x7f", sizeof "nul \0 and \x01 \x1f \x7f" - 1),
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      "edge \xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf"};
  for (const auto& text : cases) EXPECT_EQ(asJsonString(text), dumpJson(Json(text))) << text;
}

TEST(AppendJsonStringTest, ReplacesInvalidUtf8AndStaysParseable) {
  const std::string cases[] = {"\xff",         "a\xc3",        "\xc0\xaf",
                               "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                               "\xf0\x9f\x98", "ok\x80ok"};
  for (const auto& text : cases) {
    std::string out = asJsonString(text);
    auto parsed = parseJson(out);
    ASSERT_TRUE(parsed.has_value()) << out;
    EXPECT_NE(parsed->get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << out;
  }
  EXPECT_EQ(parseJson(asJsonString("ok\x80ok"))->get<std::string>(), "ok\xEF\xBF\xBDok");
}

TEST(AppendJsonStringTest, AnyBytesGiveValidJson) {
  // Every byte value at every position of a short string: the output always parses.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      std::string text = {'x', static_cast<char>(a), static_cast<char>(b), '\xbf'};
      ASSERT_TRUE(parseJson(asJsonString(text)).has_value()) << a << " " << b;
    }
  }
}

}  // namespace
}  // namespace chtlink
