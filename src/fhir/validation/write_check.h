// The validator as a gate in front of the store: create, update, patch and Bundle entries call
// checkBeforeWrite() with the server's mode (fhir.validation).
#pragma once

#include <string_view>

#include "base/json.h"
#include "base/result.h"
#include "fhir/validation/validator.h"

namespace chtlink::fhir::validation {

// Reason tokens of the Errors checkBeforeWrite() returns: "validation" (default mode, 400 as
// HAPI's parser answers) and "validation-strict" (strict mode, 422 as HAPI's
// RequestValidatingInterceptor answers). Their message is the OperationOutcome JSON, possibly
// behind a context prefix added by Error::withContext ("Bundle.entry[2]: {...}").
inline constexpr std::string_view kValidationReason = "validation";
inline constexpr std::string_view kStrictValidationReason = "validation-strict";

// ok() when the resource has no errors in `mode`; warnings never reject.
Status checkBeforeWrite(const Validator& validator, const Json& resource, ValidationMode mode);

// The OperationOutcome carried by an Error of one of the reasons above, with the context
// prefix (if any) prepended to each issue's diagnostics; nullopt for other errors.
std::optional<Json> outcomeOfValidationError(const Error& error);

// "default" or "strict" (fhir.validation) to a mode; anything else is an error.
Result<ValidationMode> parseValidationMode(std::string_view text);

}  // namespace chtlink::fhir::validation
