// The form-field -> Observation mapping table: parsed from the setting mediator.observations
// (a JSON array) and applied to the `fields` of a CHT report.
#pragma once

#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "mediator/options.h"

namespace chtlink::mediator {

// Parses `[{"field": "vitals.weight", "system": "http://loinc.org", "code": "29463-7",
// "display": "Body weight", "type": "quantity", "unit": "kg"}, ...]`. Types: string, integer,
// decimal, boolean, code, quantity, datetime. The error names the row and the key.
Result<std::vector<ObservationMapping>> parseObservationMappings(std::string_view json);
// The table as the JSON text parseObservationMappings() accepts.
std::string renderObservationMappings(const std::vector<ObservationMapping>& rows);

// One Observation (without subject/encounter) per row whose field is present in `fields`.
// A value that does not fit the row's type is skipped and named in `skipped`.
struct MappedObservations {
  std::vector<Json> observations;
  std::vector<std::string> skipped;  // "vitals.weight: expected a number, got \"abc\""
};
MappedObservations mapObservations(const std::vector<ObservationMapping>& rows, const Json& fields);

}  // namespace chtlink::mediator
