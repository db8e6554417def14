#include "config/duration.h"

#include <fmt/format.h>

#include <charconv>

namespace chtlink::config {

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data() || number < 0) {
    return invalidArgument(fmt::format(
        "\"{}\" is not a duration; write a number with a unit: 250ms, 15s, 2m, 1h", text));
  }
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  int64_t factor = 0;
  if (unit.empty() || unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1'000;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else
    return invalidArgument(
        fmt::format("\"{}\" has an unknown unit \"{}\"; use ms, s, m or h", text, unit));
  if (number > INT64_MAX / factor) return invalidArgument(fmt::format("\"{}\" is too long", text));
  return std::chrono::milliseconds(number * factor);
}

std::string formatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms != 0 && ms % 1'000 == 0) return fmt::format("{}s", ms / 1'000);
  return fmt::format("{}ms", ms);
}

}  // namespace chtlink::config
