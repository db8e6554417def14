// DateRange: a FHIR date, dateTime or instant as the half-open interval of milliseconds it
// covers ("2024" is the whole year, "2024-03-05T10:15" one minute). Values without a time zone
// are read as UTC (documented choice; the spec leaves it to the server).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chtlink::fhir::search {

// Bounds used for open ends (a Period without start or end).
inline constexpr int64_t kMinMillis = -62135596800000;  // 0001-01-01T00:00:00Z
inline constexpr int64_t kMaxMillis = 253402300800000;  // 10000-01-01T00:00:00Z

struct DateRange {
  int64_t low = kMinMillis;   // inclusive
  int64_t high = kMaxMillis;  // exclusive
};

// Parses YYYY[-MM[-DD[Thh:mm[:ss[.f+]][Z|(+|-)hh:mm]]]]. A ' ' in place of '+' in the offset
// is accepted (a query string's '+' decoded as space). Returns nullopt on any other text.
std::optional<DateRange> parseDateRange(std::string_view text);

// ISO-8601 instant with milliseconds and Z ("2024-03-05T10:15:00.000Z").
std::string formatInstant(int64_t millis);
// RFC 7231 HTTP-date ("Tue, 05 Mar 2024 10:15:00 GMT").
std::string formatHttpDate(int64_t millis);

}  // namespace chtlink::fhir::search
