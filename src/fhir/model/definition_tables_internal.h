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

extern const char* const kResourceTypes[];
extern const size_t kResourceTypeCount;
extern const RawSearchParam kSearchParams[];
extern const size_t kSearchParamCount;

}  // namespace chtlink::fhir::generated
