// Format checks of the FHIR R4 primitive types, equivalent to the regular expressions the
// primitive StructureDefinitions carry (their value elements' "regex" extension) plus what a
// regex cannot say: calendar dates that exist, 32-bit integer ranges, positive/unsigned.
// Hand-written because std::regex on every value would cost more than the rest of validation.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/json.h"

namespace chtlink::fhir::validation {

// True when `type` names a primitive this file knows.
bool isKnownPrimitive(std::string_view type);

// Checks `text` (a JSON string's content) as a value of `type`; returns what is wrong, or
// nullopt. Numbers and booleans are checked with checkPrimitiveJson.
std::optional<std::string> checkPrimitiveText(std::string_view type, std::string_view text);

// Checks a JSON value of primitive `type`, including its JSON kind. `wrong_kind` is set when
// the JSON kind is wrong but the value's text would be valid ("true" for a boolean).
std::optional<std::string> checkPrimitiveJson(std::string_view type, const Json& value,
                                              bool& wrong_kind);

}  // namespace chtlink::fhir::validation
