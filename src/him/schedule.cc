#include "him/schedule.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <string>
#include <vector>

#include "him/channel.h"

namespace chtlink::him {
namespace {

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdays = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

struct Field {
  const char* name;
  int min;
  int max;
  const std::string_view* names = nullptr;  // names[i] is value names_base + i
  size_t name_count = 0;
  int names_base = 0;
};

std::optional<int> value(const Field& f, std::string_view token) {
  int n = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), n);
  if (ec == std::errc() && end == token.data() + token.size()) return n;
  std::string word = lower(token);
  for (size_t i = 0; i < f.name_count; ++i)
    if (f.names[i] == word) return f.names_base + static_cast<int>(i);
  return std::nullopt;
}

// Sets the bits of `f`'s values in `bits` (indexed by value); `any` tells whether the field
// is a plain `*`.
template <size_t N>
Status parseField(const Field& f, std::string_view text, std::bitset<N>& bits, bool* any) {
  auto bad = [&](std::string_view why) {
    return invalidArgument(fmt::format("cron {} field '{}': {}", f.name, text, why));
  };
  if (any) *any = text == "*" || text == "?";
  for (std::string_view part : split(text, ',')) {
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string_view::npos) {
      auto s = value(Field{f.name, 1, 1 << 20}, part.substr(slash + 1));
      if (!s || *s <= 0) return bad("a step must be a positive number");
      step = *s;
      part = part.substr(0, slash);
    }
    int from = f.min;
    int to = f.max;
    if (part != "*" && part != "?") {
      size_t dash = part.find('-');
      auto a = value(f, part.substr(0, dash));
      if (!a) return bad(fmt::format("'{}' is not a value", part.substr(0, dash)));
      from = *a;
      to = *a;
      if (dash != std::string_view::npos) {
        auto b = value(f, part.substr(dash + 1));
        if (!b) return bad(fmt::format("'{}' is not a value", part.substr(dash + 1)));
        to = *b;
      } else if (step != 1) {
        to = f.max;  // "a/n": from a to the end
      }
    }
    if (from < f.min || to > f.max || from > to)
      return bad(fmt::format("values must be within {}-{}", f.min, f.max));
    for (int v = from; v <= to; v += step) bits.set(static_cast<size_t>(v));
  }
  return ok();
}

}  // namespace

Result<PollingSchedule> PollingSchedule::parse(std::string_view text) {
  PollingSchedule schedule;
  if (auto interval = parsePollingSchedule(text)) {
    schedule.interval_ = interval;
    return schedule;
  }
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() != 5 && fields.size() != 6) {
    return invalidArgument(fmt::format(
        "pollingSchedule '{}' is neither an interval (\"10 seconds\", \"5 minutes\", \"1 hour\", "
        "\"2 days\") nor a cron expression of 5 or 6 fields",
        text));
  }
  size_t f = 0;
  if (fields.size() == 6) {
    CHTLINK_TRY(parseField(Field{"seconds", 0, 59}, fields[f++], schedule.seconds_, nullptr));
  } else {
    schedule.seconds_.set(0);
  }
  CHTLINK_TRY(parseField(Field{"minute", 0, 59}, fields[f++], schedule.minutes_, nullptr));
  CHTLINK_TRY(parseField(Field{"hour", 0, 23}, fields[f++], schedule.hours_, nullptr));
  CHTLINK_TRY(
      parseField(Field{"day-of-month", 1, 31}, fields[f++], schedule.days_, &schedule.any_day_));
  CHTLINK_TRY(parseField(Field{"month", 1, 12, kMonths.data(), kMonths.size(), 1}, fields[f++],
                         schedule.months_, nullptr));
  std::bitset<8> weekdays;
  CHTLINK_TRY(parseField(Field{"day-of-week", 0, 7, kWeekdays.data(), kWeekdays.size(), 0},
                         fields[f++], weekdays, &schedule.any_weekday_));
  for (size_t d = 0; d < 7; ++d) schedule.weekdays_[d] = weekdays[d];
  if (weekdays[7]) schedule.weekdays_.set(0);
  return schedule;
}

std::optional<TimePoint> PollingSchedule::next(TimePoint after) const {
  using namespace std::chrono;
  if (interval_) return after + *interval_;
  auto t = floor<seconds>(after) + seconds(1);
  const auto limit = t + days(5 * 366);
  while (t < limit) {
    auto day = floor<days>(t);
    year_month_day ymd(day);
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      auto first = year_month_day(ymd.year() / ymd.month() / 1) + months(1);
      t = sys_days(first);
      continue;
    }
    bool dom = days_[static_cast<unsigned>(ymd.day())];
    bool dow = weekdays_[weekday(day).c_encoding()];
    bool day_ok = any_day_ && any_weekday_ ? true
                  : any_day_               ? dow
                  : any_weekday_           ? dom
                                           : (dom || dow);
    if (!day_ok) {
      t = day + days(1);
      continue;
    }
    hh_mm_ss hms(t - day);
    if (!hours_[static_cast<size_t>(hms.hours().count())]) {
      t = day + hms.hours() + hours(1);
      continue;
    }
    if (!minutes_[static_cast<size_t>(hms.minutes().count())]) {
      t = day + hms.hours() + hms.minutes() + minutes(1);
      continue;
    }
    if (!seconds_[static_cast<size_t>(hms.seconds().count())]) {
      t += seconds(1);
      continue;
    }
    return time_point_cast<TimePoint::duration>(t);
  }
  return std::nullopt;
}

}  // namespace chtlink::him
