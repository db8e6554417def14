#include "fhir/search/date_range.h"

#include <gtest/gtest.h>

namespace chtlink::fhir::search {
namespace {

struct Case {
  const char* text;
  const char* low;
  const char* high;
};

TEST(DateRangeTest, PrecisionGivesTheInterval) {
  const Case cases[] = {
      {"2024", "2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"},
      {"2024-02", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"},
      {"2024-12", "2024-12-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"},
      {"2024-02-29", "2024-02-29T00:00:00.000Z", "2024-03-01T00:00:00.000Z"},
      {"2024-03-05T10:15", "2024-03-05T10:15:00.000Z", "2024-03-05T10:16:00.000Z"},
      {"2024-03-05T10:15:30Z", "2024-03-05T10:15:30.000Z", "2024-03-05T10:15:31.000Z"},
      {"2024-03-05T10:15:30.123Z", "2024-03-05T10:15:30.123Z", "2024-03-05T10:15:30.124Z"},
      {"2024-03-05T10:15:30+02:00", "2024-03-05T08:15:30.000Z", "2024-03-05T08:15:31.000Z"},
      {"2024-03-05T10:15:30 02:00", "2024-03-05T08:15:30.000Z", "2024-03-05T08:15:31.000Z"},
      {"2024-03-05T00:15:30-01:00", "2024-03-05T01:15:30.000Z", "2024-03-05T01:15:31.000Z"},
      {"1969-12-31", "1969-12-31T00:00:00.000Z", "1970-01-01T00:00:00.000Z"},
  };
  for (const auto& c : cases) {
    auto r = parseDateRange(c.text);
    ASSERT_TRUE(r.has_value()) << c.text;
    EXPECT_EQ(formatInstant(r->low), c.low) << c.text;
    EXPECT_EQ(formatInstant(r->high), c.high) << c.text;
  }
}

TEST(DateRangeTest, RejectsMalformedDates) {
  for (const char* bad : {"", "24", "2024-13", "2024-02-30", "2024-01-01T25:00", "2024-01-01X",
                          "2024-01-01T10:00:00.Z", "2024/01/01", "2024-01-01T10:00+2"}) {
    EXPECT_FALSE(parseDateRange(bad).has_value()) << bad;
  }
}

TEST(DateRangeTest, FormatsHttpDates) {
  auto r = parseDateRange("2024-03-05T10:15:30Z");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(formatHttpDate(r->low), "Tue, 05 Mar 2024 10:15:30 GMT");
}

}  // namespace
}  // namespace chtlink::fhir::search
