// PollingSchedule: when a polling channel runs, from its `pollingSchedule`.
//
// OpenHIM hands the text to agenda's every(), which takes either a human interval
// ("10 seconds", "5 minutes", "1 hour", "2 days") or a cron expression. Both are accepted:
// cron as five fields (minute hour day-of-month month day-of-week) or six (seconds first),
// each `*`, a number, a range `a-b`, a list `a,b`, and steps `*/n` or `a-b/n`; months and
// weekdays also by English three-letter names (jan, mon), Sunday as 0 or 7. When both
// day-of-month and day-of-week are restricted a day matching either runs, as in cron.
// Cron times are UTC (OpenHIM uses the server's time zone; chtlink servers run on UTC).
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string_view>

#include "base/clock.h"
#include "base/result.h"

namespace chtlink::him {

class PollingSchedule {
 public:
  // InvalidArgument naming the field or word that is not understood.
  static Result<PollingSchedule> parse(std::string_view text);

  // The first run strictly after `after`. For an interval: `after` + interval. For cron:
  // the next matching second; nullopt when none matches within five years (31 February).
  std::optional<TimePoint> next(TimePoint after) const;

  bool isCron() const { return !interval_.has_value(); }

 private:
  std::optional<std::chrono::milliseconds> interval_;
  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool any_day_ = true;      // day-of-month is `*`
  bool any_weekday_ = true;  // day-of-week is `*`
};

}  // namespace chtlink::him
