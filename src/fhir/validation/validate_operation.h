// The $validate operation (POST [base]/$validate, POST [base]/[type]/$validate): the body is a
// resource or a Parameters resource with a `resource` parameter; the answer is an
// OperationOutcome listing every issue (HTTP 200 even when the resource has errors).
#pragma once

#include <string_view>

#include "base/json.h"
#include "base/result.h"
#include "fhir/validation/validator.h"

namespace chtlink::fhir::validation {

// `type` is the type of the URL, or empty at [base]. Fails (reason "structure"/"invalid",
// HTTP 400) only when there is nothing to validate: no JSON, no resource.
Result<Json> runValidateOperation(const Validator& validator, ValidationMode mode,
                                  std::string_view type, std::string_view body);

}  // namespace chtlink::fhir::validation
