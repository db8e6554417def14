#include "cht/outbound/cron.h"

#include <gtest/gtest.h>

namespace chtlink::cht::outbound {
namespace {

// 2024-06-03 (a Monday) at hh:mm UTC.
TimePoint at(int hour, int minute, int day = 3) {
  // 2024-06-01T00:00:00Z = 1717200000.
  return fromUnixMillis((1717200000LL + (day - 1) * 86400LL + hour * 3600LL + minute * 60LL) *
                        1000LL);
}

TEST(CronTest, DueWithinFiveMinutesOfAnOccurrence) {
  auto schedule = CronSchedule::parse("0 2 * * *");
  ASSERT_TRUE(schedule.has_value()) << schedule.error().message;
  EXPECT_TRUE(schedule->due(at(2, 0)));
  EXPECT_TRUE(schedule->due(at(1, 55)));
  EXPECT_TRUE(schedule->due(at(2, 5)));
  EXPECT_FALSE(schedule->due(at(2, 6)));
  EXPECT_FALSE(schedule->due(at(1, 54)));
  EXPECT_FALSE(schedule->due(at(14, 0)));
}

TEST(CronTest, FieldsListsRangesStepsAndNames) {
  auto schedule = CronSchedule::parse("*/15 9-17 * JUN mon-fri");
  ASSERT_TRUE(schedule.has_value()) << schedule.error().message;
  EXPECT_TRUE(schedule->matchesMinute(at(9, 30)));
  EXPECT_FALSE(schedule->matchesMinute(at(9, 31)));
  EXPECT_FALSE(schedule->matchesMinute(at(18, 0)));
  EXPECT_FALSE(schedule->matchesMinute(at(10, 0, 2)));  // Sunday
  auto lists = CronSchedule::parse("5,35 0 1 * 7");
  ASSERT_TRUE(lists.has_value());
  EXPECT_TRUE(lists->matchesMinute(at(0, 35, 1)));  // day 1 (Saturday): day-of-month matches
  EXPECT_TRUE(lists->matchesMinute(at(0, 5, 2)));   // day 2 is Sunday: day-of-week matches
  EXPECT_FALSE(lists->matchesMinute(at(0, 5, 3)));  // neither
}

TEST(CronTest, InvalidExpressionsAreErrorsAndNeverDue) {
  for (const char* bad : {"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "x * * * *",
                          "*/0 * * * *", "5-1 * * * *", "* * * * * *"}) {
    EXPECT_FALSE(CronSchedule::parse(bad).has_value()) << bad;
    EXPECT_FALSE(cronDue(bad, at(2, 0))) << bad;
  }
  auto error = CronSchedule::parse("* 24 * * *");
  EXPECT_NE(error.error().message.find("hour"), std::string::npos);
}

}  // namespace
}  // namespace chtlink::cht::outbound
