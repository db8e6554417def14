#include "base/json.h"

#include <fmt/format.h>

namespace chtlink {
namespace {

// Byte offset -> 1-based line and column, for messages a user can act on.
std::pair<size_t, size_t> lineAndColumn(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

}  // namespace

Result<Json> parseJson(std::string_view text, int max_depth) {
  int depth = 0;
  bool too_deep = false;
  auto callback = [&](int d, Json::parse_event_t event, Json&) {
    if (event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) {
      depth = d;
      if (d >= max_depth) too_deep = true;
    }
    return !too_deep;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                             /*ignore_comments=*/false);
    if (too_deep) {
      return invalidArgument(fmt::format("JSON nested deeper than {} levels", max_depth),
                             "json_too_deep");
    }
    return value;
  } catch (const Json::parse_error& e) {
    if (too_deep) {
      return invalidArgument(fmt::format("JSON nested deeper than {} levels", max_depth),
                             "json_too_deep");
    }
    auto [line, column] = lineAndColumn(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line..";
    // keep only the part after the last ": " which says what was wrong.
    auto pos = what.rfind(": ");
    std::string detail = pos == std::string::npos ? what : what.substr(pos + 2);
    return invalidArgument(
        fmt::format("invalid JSON at line {}, column {}: {}", line, column, detail),
        "invalid_json");
  } catch (const std::exception& e) {
    return invalidArgument(fmt::format("invalid JSON: {}", e.what()), "invalid_json");
  }
}

std::string dumpJson(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace chtlink
