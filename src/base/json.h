// Strict JSON parsing at the edge: nlohmann::json throws, this returns a Result whose error
// names the line and column of the problem, so a user can find it in their file or body.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/result.h"

namespace chtlink {

using Json = nlohmann::json;

// Parses `text` as one JSON value. Rejects trailing content, comments and invalid UTF-8.
// Nesting deeper than `max_depth` is refused (bodies come from untrusted clients).
Result<Json> parseJson(std::string_view text, int max_depth = 128);

// Serialises without throwing: invalid UTF-8 in strings is replaced, never an exception.
std::string dumpJson(const Json& value, int indent = -1);

// Appends `text` as a quoted JSON string, escaped as dumpJson escapes it (invalid UTF-8
// replaced by U+FFFD). For writers of a known document shape that go straight to text
// instead of building a Json tree first (the router's transaction log: one tree per request
// cost more than the serialisation itself).
void appendJsonString(std::string& out, std::string_view text);

}  // namespace chtlink
