#include "fhir/validation/write_check.h"

namespace chtlink::fhir::validation {

Status checkBeforeWrite(const Validator& validator, const Json& resource, ValidationMode mode) {
  ValidationOptions options;
  options.mode = mode;
  options.errors_only = true;
  ValidationResult result = validator.validate(resource, options);
  if (!result.hasErrors()) return ok();
  // Only errors go back: the warnings of a rejected resource would bury them.
  ValidationResult errors;
  for (auto& issue : result.issues)
    if (issue.severity == Severity::Error || issue.severity == Severity::Fatal)
      errors.issues.push_back(std::move(issue));
  return Error{
      ErrorCode::InvalidArgument, dumpJson(toOperationOutcome(errors)),
      std::string(mode == ValidationMode::Strict ? kStrictValidationReason : kValidationReason)};
}

std::optional<Json> outcomeOfValidationError(const Error& error) {
  if (error.reason != kValidationReason && error.reason != kStrictValidationReason)
    return std::nullopt;
  auto brace = error.message.find('{');
  if (brace == std::string::npos) return std::nullopt;
  auto parsed = parseJson(std::string_view(error.message).substr(brace));
  if (!parsed.has_value() || !parsed->is_object() || !parsed->contains("issue"))
    return std::nullopt;
  std::string context = error.message.substr(0, brace);
  Json outcome = std::move(parsed).value();
  if (!context.empty()) {
    for (auto& issue : outcome["issue"])
      issue["diagnostics"] = context + issue.value("diagnostics", "");
  }
  return outcome;
}

Result<ValidationMode> parseValidationMode(std::string_view text) {
  if (text == "default") return ValidationMode::Default;
  if (text == "strict") return ValidationMode::Strict;
  return invalidArgument("fhir.validation must be \"default\" or \"strict\", got \"" +
                         std::string(text) + "\"");
}

}  // namespace chtlink::fhir::validation
