// FhirPath: the subset of FHIRPath that R4 SearchParameter expressions use, compiled once and
// evaluated against resource JSON to find the values a parameter indexes.
//
// Supported: dotted paths (choice elements such as Observation.value match valueQuantity,
// valueString...), `|` unions, parentheses, `X as T`, `.as(T)`, `.ofType(T)`,
// `.where(resolve() is T)`, `.where(field='literal')`, `.where(hasExtension('url'))`,
// `.extension('url')` (yields the extension's value[x]).
// Not supported (compile fails, the parameter is not indexed): `exists()`, boolean operators,
// comparisons outside where(), and any other function.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace chtlink::fhir::search {

// One value found by an expression: the JSON node and, when known, its FHIR type (from a
// choice element suffix or an `as`/`ofType` step), e.g. "Quantity", "dateTime".
struct PathValue {
  const Json* node = nullptr;
  std::string type;
};

class FhirPath {
 public:
  static Result<FhirPath> compile(std::string_view expression);
  // Values of the expression on `resource` (of type `resource_type`). Arrays are flattened.
  std::vector<PathValue> evaluate(const Json& resource, std::string_view resource_type) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
};

}  // namespace chtlink::fhir::search
