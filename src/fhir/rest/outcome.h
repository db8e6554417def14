// OperationOutcome: the body of every FHIR error, and the mapping from chtlink::Error to HTTP
// status. Interactions report FHIR-specific failures as Errors whose reason is the FHIR issue
// code ("not-found", "deleted", "multiple-matches", ...), made with fhirError().
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/json.h"

namespace chtlink::fhir {

// An Error whose reason picks the HTTP status: invalid/structure/value/required 400,
// not-found 404, not-supported 405, deleted 410, conflict 409, precondition-failed and
// multiple-matches 412, too-costly 413, unsupported-media-type 415, processing 422.
Error fhirError(std::string_view reason, std::string message);

// HTTP status and FHIR issue code for an error (fhirError()s map back exactly; other
// chtlink errors by their ErrorCode).
int httpStatusOf(const Error& error);
std::string issueCodeOf(const Error& error);

Json operationOutcome(std::string_view severity, std::string_view code,
                      std::string_view diagnostics);
Json operationOutcomeOf(const Error& error);

}  // namespace chtlink::fhir
