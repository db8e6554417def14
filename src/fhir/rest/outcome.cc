#include "fhir/rest/outcome.h"

#include <array>
#include <utility>

#include "fhir/validation/write_check.h"

namespace chtlink::fhir {
namespace {

struct Mapping {
  std::string_view reason;
  int status;
  ErrorCode code;
};

constexpr std::array<Mapping, 16> kMappings{{
    {"invalid", 400, ErrorCode::InvalidArgument},
    {"structure", 400, ErrorCode::InvalidArgument},
    {"value", 400, ErrorCode::InvalidArgument},
    {"required", 400, ErrorCode::InvalidArgument},
    {"not-found", 404, ErrorCode::NotFound},
    {"not-supported", 405, ErrorCode::InvalidArgument},
    {"deleted", 410, ErrorCode::NotFound},
    {"conflict", 409, ErrorCode::Conflict},
    {"precondition-failed", 412, ErrorCode::FailedPrecondition},
    {"multiple-matches", 412, ErrorCode::FailedPrecondition},
    {"too-costly", 413, ErrorCode::TooLarge},
    {"unsupported-media-type", 415, ErrorCode::InvalidArgument},
    {"processing", 422, ErrorCode::InvalidArgument},
    // Validation failures (fhir/validation/write_check.h): default mode 400, strict 422.
    {"validation", 400, ErrorCode::InvalidArgument},
    {"validation-strict", 422, ErrorCode::InvalidArgument},
    {"exception", 500, ErrorCode::Internal},
}};

}  // namespace

Error fhirError(std::string_view reason, std::string message) {
  for (const auto& m : kMappings) {
    if (m.reason == reason) return Error{m.code, std::move(message), std::string(reason)};
  }
  return Error{ErrorCode::InvalidArgument, std::move(message), std::string(reason)};
}

int httpStatusOf(const Error& error) {
  for (const auto& m : kMappings)
    if (m.reason == error.reason) return m.status;
  switch (error.code) {
    case ErrorCode::InvalidArgument:
      return 400;
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::AlreadyExists:
    case ErrorCode::Conflict:
      return 409;
    case ErrorCode::FailedPrecondition:
      return 412;
    case ErrorCode::Unauthenticated:
      return 401;
    case ErrorCode::PermissionDenied:
      return 403;
    case ErrorCode::TooLarge:
      return 413;
    case ErrorCode::Unavailable:
      return 503;
    case ErrorCode::DeadlineExceeded:
      return 504;
    case ErrorCode::Internal:
      return 500;
  }
  return 500;
}

std::string issueCodeOf(const Error& error) {
  switch (httpStatusOf(error)) {
    case 400:
      return error.reason == "structure" || error.reason == "value" || error.reason == "required"
                 ? error.reason
                 : "invalid";
    case 401:
      return "login";
    case 403:
      return "forbidden";
    case 404:
      return "not-found";
    case 405:
    case 415:
      return "not-supported";
    case 409:
      return "conflict";
    case 410:
      return "deleted";
    case 412:
      return error.reason == "multiple-matches" ? "multiple-matches" : "conflict";
    case 413:
      return "too-costly";
    case 422:
      return "processing";
    case 503:
      return "transient";
    default:
      return "exception";
  }
}

Json operationOutcome(std::string_view severity, std::string_view code,
                      std::string_view diagnostics) {
  return Json{
      {"resourceType", "OperationOutcome"},
      {"issue",
       Json::array({Json{{"severity", severity}, {"code", code}, {"diagnostics", diagnostics}}})}};
}

Json operationOutcomeOf(const Error& error) {
  if (auto outcome = validation::outcomeOfValidationError(error)) return std::move(*outcome);
  int status = httpStatusOf(error);
  return operationOutcome(status >= 500 ? "fatal" : "error", issueCodeOf(error), error.message);
}

}  // namespace chtlink::fhir
