#include "cht/outbound/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <ctime>
#include <vector>

namespace chtlink::cht::outbound {
namespace {

constexpr std::array<std::string_view, 12> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                      "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kWeekdays = {"SUN", "MON", "TUE", "WED",
                                                       "THU", "FRI", "SAT"};

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const std::string_view* names;  // names[i] is value min_name + i
  size_t name_count;
  int min_name;
};

Result<int> parseValue(std::string_view text, const FieldSpec& spec) {
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < spec.name_count; ++i) {
    if (upper == spec.names[i]) return spec.min_name + static_cast<int>(i);
  }
  int value = 0;
  auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) {
    return invalidArgument(std::string("cron field ") + spec.name + ": '" + std::string(text) +
                           "' is not a number");
  }
  if (value < spec.min || value > spec.max) {
    return invalidArgument(std::string("cron field ") + spec.name + ": " + std::to_string(value) +
                           " is outside " + std::to_string(spec.min) + "-" +
                           std::to_string(spec.max));
  }
  return value;
}

// Sets the bits of `field` text in `out` (indexed by value). Returns whether it is restricted.
Result<bool> parseField(std::string_view field, const FieldSpec& spec, std::vector<bool>& out) {
  out.assign(static_cast<size_t>(spec.max + 1), false);
  bool restricted = true;
  size_t start = 0;
  for (;;) {
    size_t comma = field.find(',', start);
    std::string_view part =
        field.substr(start, comma == std::string_view::npos ? comma : comma - start);
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      std::string_view step_text = part.substr(slash + 1);
      auto parsed = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || parsed.ec != std::errc() ||
          parsed.ptr != step_text.data() + step_text.size() || step <= 0) {
        return invalidArgument(std::string("cron field ") + spec.name + ": bad step '" +
                               std::string(step_text) + "'");
      }
      part = part.substr(0, slash);
    }
    int low = spec.min;
    int high = spec.max;
    if (part == "*" || part == "?") {
      if (step == 1 && field.find(',') == std::string_view::npos) restricted = false;
    } else if (auto dash = part.find('-'); dash != std::string_view::npos) {
      CHTLINK_ASSIGN_OR_RETURN(low, parseValue(part.substr(0, dash), spec));
      CHTLINK_ASSIGN_OR_RETURN(high, parseValue(part.substr(dash + 1), spec));
      if (low > high) {
        return invalidArgument(std::string("cron field ") + spec.name + ": range '" +
                               std::string(part) + "' runs backwards");
      }
    } else {
      CHTLINK_ASSIGN_OR_RETURN(low, parseValue(part, spec));
      if (step == 1) high = low;  // "a/n" runs from a to the maximum
    }
    for (int value = low; value <= high; value += step) out[static_cast<size_t>(value)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return restricted;
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view expression) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < expression.size()) {
    while (i < expression.size() && std::isspace(static_cast<unsigned char>(expression[i]))) ++i;
    size_t start = i;
    while (i < expression.size() && !std::isspace(static_cast<unsigned char>(expression[i]))) ++i;
    if (i > start) fields.push_back(expression.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return invalidArgument("cron '" + std::string(expression) + "': expected 5 fields " +
                           "(minute hour day-of-month month day-of-week), found " +
                           std::to_string(fields.size()));
  }
  const FieldSpec specs[5] = {
      {"minute", 0, 59, nullptr, 0, 0},
      {"hour", 0, 23, nullptr, 0, 0},
      {"day-of-month", 1, 31, nullptr, 0, 0},
      {"month", 1, 12, kMonths.data(), kMonths.size(), 1},
      {"day-of-week", 0, 7, kWeekdays.data(), kWeekdays.size(), 0},
  };
  CronSchedule schedule;
  std::vector<bool> bits;
  for (size_t f = 0; f < 5; ++f) {
    auto restricted = parseField(fields[f], specs[f], bits);
    if (!restricted) {
      return restricted.error().withContext("cron '" + std::string(expression) + "': ");
    }
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (f) {
        case 0:
          schedule.minutes_.set(v);
          break;
        case 1:
          schedule.hours_.set(v);
          break;
        case 2:
          schedule.days_.set(v);
          break;
        case 3:
          schedule.months_.set(v);
          break;
        default:
          schedule.weekdays_.set(v % 7);
          break;
      }
    }
    if (f == 2) schedule.days_restricted_ = *restricted;
    if (f == 4) schedule.weekdays_restricted_ = *restricted;
  }
  return schedule;
}

bool CronSchedule::matchesMinute(TimePoint time) const {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  if (!minutes_.test(static_cast<size_t>(parts.tm_min)) ||
      !hours_.test(static_cast<size_t>(parts.tm_hour)) ||
      !months_.test(static_cast<size_t>(parts.tm_mon + 1))) {
    return false;
  }
  const bool day = days_.test(static_cast<size_t>(parts.tm_mday));
  const bool weekday = weekdays_.test(static_cast<size_t>(parts.tm_wday));
  if (days_restricted_ && weekdays_restricted_) return day || weekday;
  return day && weekday;
}

bool CronSchedule::due(TimePoint now) const {
  using std::chrono::minutes;
  const auto window = minutes(5);
  // Occurrences sit on minute boundaries: test each boundary within 5 minutes of now.
  auto first = std::chrono::floor<minutes>(now - window);
  if (first < now - window) first += minutes(1);
  for (auto t = first; t <= now + window; t += minutes(1)) {
    if (matchesMinute(t)) return true;
  }
  return false;
}

bool cronDue(std::string_view expression, TimePoint now) {
  auto schedule = CronSchedule::parse(expression);
  return schedule.has_value() && schedule->due(now);
}

}  // namespace chtlink::cht::outbound
