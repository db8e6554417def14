// The raw tables written by gen/generate_definitions.js; only definitions.cc reads them.
#pragma once

#include <cstddef>

namespace chtlink::fhir::generated {

struct RawSearchParam {
  const char* code;
  const char* url;
  const char* type;
  const char* bases;    // space-separated resource types
  const char* targets;  // space-separated resource types (reference parameters)
  const char* expression;
};

// One resource type's membership in a compartment (Patient, Encounter, Practitioner,
// RelatedPerson, Device): the reference parameters that link it to the compartment owner.
struct RawCompartmentParams {
  const char* compartment;  // "Patient"
  const char* type;         // "Observation"
  const char* params;       // space-separated parameter codes ("subject performer")
};

extern const char* const kResourceTypes[];
extern const size_t kResourceTypeCount;
extern const RawSearchParam kSearchParams[];
extern const size_t kSearchParamCount;
extern const RawCompartmentParams kCompartmentParams[];
extern const size_t kCompartmentParamCount;

}  // namespace chtlink::fhir::generated
