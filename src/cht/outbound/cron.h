// `cron` of an outbound configuration (cht.md 3.7): a 5-field expression
// (minute hour day-of-month month day-of-week) and CHT's ±5 minute window around it.
//
// Fields accept *, numbers, ranges a-b, steps */n and a-b/n and a/n, lists a,b and month and
// weekday names (JAN, MON); day-of-week 7 is Sunday. When both day fields are restricted a
// day matches if either matches (classic cron). Times are UTC (CHT uses the Sentinel server's
// clock, which runs in UTC in CHT's containers).
#pragma once

#include <bitset>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/result.h"

namespace chtlink::cht::outbound {

class CronSchedule {
 public:
  // InvalidArgument naming the field for anything that is not a valid 5-field expression.
  static Result<CronSchedule> parse(std::string_view expression);

  // True if the minute containing `time` is an occurrence.
  bool matchesMinute(TimePoint time) const;

  // CHT's due test: `now` is within 5 minutes of the previous or the next occurrence.
  bool due(TimePoint now) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

// parse() then due(); an invalid expression is never due (CHT logs it and never sends).
bool cronDue(std::string_view expression, TimePoint now);

}  // namespace chtlink::cht::outbound
