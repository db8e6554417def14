#include "fhir/search/date_range.h"

#include <fmt/format.h>

#include <cctype>

namespace chtlink::fhir::search {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t daysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civilFromDays(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

bool digits(std::string_view s, size_t pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

int64_t daysInMonth(int64_t y, int64_t m) {
  return daysFromCivil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - daysFromCivil(y, m, 1);
}

}  // namespace

std::optional<DateRange> parseDateRange(std::string_view s) {
  int64_t year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
  if (!digits(s, 0, 4, year)) return std::nullopt;
  size_t pos = 4;
  constexpr int64_t kDay = 86'400'000;
  auto at = [&](int64_t y, int64_t mo, int64_t d) { return daysFromCivil(y, mo, d) * kDay; };
  if (pos == s.size()) return DateRange{at(year, 1, 1), at(year + 1, 1, 1)};
  if (s[pos] != '-' || !digits(s, pos + 1, 2, month) || month < 1 || month > 12)
    return std::nullopt;
  pos += 3;
  if (pos == s.size()) {
    return DateRange{at(year, month, 1), month == 12 ? at(year + 1, 1, 1) : at(year, month + 1, 1)};
  }
  if (s[pos] != '-' || !digits(s, pos + 1, 2, day) || day < 1 || day > daysInMonth(year, month))
    return std::nullopt;
  pos += 3;
  if (pos == s.size()) return DateRange{at(year, month, day), at(year, month, day) + kDay};
  if (s[pos] != 'T' || !digits(s, pos + 1, 2, hour) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
      !digits(s, pos + 4, 2, minute) || hour > 23 || minute > 59)
    return std::nullopt;
  pos += 6;
  int64_t width = 60'000;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, second) || second > 60) return std::nullopt;
    pos += 3;
    width = 1000;
    if (pos < s.size() && s[pos] == '.') {
      size_t start = ++pos;
      int64_t scale = 100;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
        millis += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return std::nullopt;
      width = 1;
    }
  }
  int64_t offset = 0;
  if (pos < s.size()) {
    char sign = s[pos];
    if (sign == 'Z') {
      ++pos;
    } else if (sign == '+' || sign == '-' || sign == ' ') {
      int64_t oh = 0, om = 0;
      if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
          !digits(s, pos + 4, 2, om) || oh > 14 || om > 59)
        return std::nullopt;
      offset = (oh * 60 + om) * 60'000 * (sign == '-' ? -1 : 1);
      pos += 6;
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  int64_t low =
      at(year, month, day) + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset;
  return DateRange{low, low + width};
}

std::string formatInstant(int64_t millis) {
  int64_t days = millis >= 0 ? millis / 86'400'000 : (millis - 86'399'999) / 86'400'000;
  int64_t rest = millis - days * 86'400'000;
  int64_t y = 0, m = 0, d = 0;
  civilFromDays(days, y, m, d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, m, d, rest / 3'600'000,
                     rest / 60'000 % 60, rest / 1000 % 60, rest % 1000);
}

std::string formatHttpDate(int64_t millis) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t days = millis >= 0 ? millis / 86'400'000 : (millis - 86'399'999) / 86'400'000;
  int64_t rest = millis - days * 86'400'000;
  int64_t y = 0, m = 0, d = 0;
  civilFromDays(days, y, m, d);
  int64_t weekday = ((days % 7) + 7) % 7;
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[weekday], d, kMonths[m - 1],
                     y, rest / 3'600'000, rest / 60'000 % 60, rest / 1000 % 60);
}

}  // namespace chtlink::fhir::search
