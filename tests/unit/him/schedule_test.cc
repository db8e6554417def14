#include "him/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "him/crypto.h"

namespace chtlink::him {
namespace {

using ::testing::HasSubstr;

// 2024-05-01T10:11:12Z was a Wednesday.
TimePoint at(int64_t unix_seconds) { return fromUnixMillis(unix_seconds * 1000); }
constexpr int64_t kWed = 1714558272;  // 2024-05-01T10:11:12Z

std::string iso(std::optional<TimePoint> t) { return t ? isoTime(*t) : "none"; }

TEST(PollingScheduleTest, IntervalsRunOneIntervalLater) {
  auto s = PollingSchedule::parse("10 minutes");
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->isCron());
  EXPECT_EQ(s->next(at(kWed)), at(kWed + 600));
}

TEST(PollingScheduleTest, CronNextMatchingTimeUtc) {
  struct Case {
    const char* cron;
    const char* next;
  } cases[] = {
      {"* * * * *", "2024-05-01T10:12:00.000Z"},
      {"*/5 * * * *", "2024-05-01T10:15:00.000Z"},
      {"0 * * * *", "2024-05-01T11:00:00.000Z"},
      {"30 2 * * *", "2024-05-02T02:30:00.000Z"},
      {"0 9 * * mon-fri", "2024-05-02T09:00:00.000Z"},
      {"0 9 * * 0", "2024-05-05T09:00:00.000Z"},  // Sunday
      {"0 9 * * 7", "2024-05-05T09:00:00.000Z"},  // Sunday as 7
      {"0 0 1 * *", "2024-06-01T00:00:00.000Z"},
      {"0 0 29 feb *", "2028-02-29T00:00:00.000Z"},  // next leap day
      {"0 0 1,15 jan,jul *", "2024-07-01T00:00:00.000Z"},
      {"0 12 13 * fri", "2024-05-03T12:00:00.000Z"},  // day-of-month OR day-of-week
      {"15-20/2 10 * * *", "2024-05-01T10:15:00.000Z"},
      {"*/20 * * * * *", "2024-05-01T10:11:20.000Z"},  // six fields: seconds first
      {"5/20 11 * * *", "2024-05-01T11:05:00.000Z"},
  };
  for (const auto& c : cases) {
    auto s = PollingSchedule::parse(c.cron);
    ASSERT_TRUE(s.has_value()) << c.cron << ": " << s.error().message;
    EXPECT_TRUE(s->isCron()) << c.cron;
    EXPECT_EQ(iso(s->next(at(kWed))), c.next) << c.cron;
  }
}

TEST(PollingScheduleTest, StrictlyAfter) {
  auto s = PollingSchedule::parse("0 * * * *");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(iso(s->next(at(1714561200))), "2024-05-01T12:00:00.000Z");  // from 11:00:00 exactly
}

TEST(PollingScheduleTest, ImpossibleDateHasNoNextRun) {
  auto s = PollingSchedule::parse("0 0 31 feb *");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->next(at(kWed)), std::nullopt);
}

TEST(PollingScheduleTest, RefusesWhatItCannotRead) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"", "neither an interval"},
      {"10 fortnights", "neither an interval"},
      {"* * * *", "neither an interval"},
      {"60 * * * *", "minute field '60'"},
      {"* 24 * * *", "hour field"},
      {"* * 0 * *", "day-of-month field"},
      {"* * * 13 *", "month field"},
      {"* * * * funday", "day-of-week field"},
      {"*/0 * * * *", "step"},
      {"5-1 * * * *", "within"},
  };
  for (const auto& c : cases) {
    auto s = PollingSchedule::parse(c.text);
    ASSERT_FALSE(s.has_value()) << c.text;
    EXPECT_THAT(s.error().message, HasSubstr(c.says)) << c.text;
  }
}

}  // namespace
}  // namespace chtlink::him
