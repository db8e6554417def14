#include "base/result.h"

#include <gtest/gtest.h>

#include <string>

namespace chtlink {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) return invalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> quarter(int x) {
  CHTLINK_ASSIGN_OR_RETURN(int h, half(x));
  CHTLINK_ASSIGN_OR_RETURN(int q, half(h));
  return q;
}

Status checkEven(int x) {
  CHTLINK_TRY(half(x));
  return ok();
}

TEST(ResultTest, CarriesAValueOrAnError) {
  EXPECT_EQ(quarter(8).value(), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "odd: 3");
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
}

TEST(ResultTest, TryPropagatesErrors) {
  EXPECT_TRUE(checkEven(4).has_value());
  EXPECT_FALSE(checkEven(5).has_value());
}

TEST(ErrorTest, WithContextPrefixesTheMessage) {
  Error e = notFound("no such patient").withContext("creating Encounter");
  EXPECT_EQ(e.message, "creating Encounter: no such patient");
  EXPECT_EQ(e.code, ErrorCode::NotFound);
  EXPECT_EQ(e.reason, "not_found");
}

}  // namespace
}  // namespace chtlink
