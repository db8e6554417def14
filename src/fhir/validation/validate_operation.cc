#include "fhir/validation/validate_operation.h"

namespace chtlink::fhir::validation {
namespace {

Error bad(std::string_view reason, std::string message) {
  return Error{ErrorCode::InvalidArgument, std::move(message), std::string(reason)};
}

}  // namespace

Result<Json> runValidateOperation(const Validator& validator, ValidationMode mode,
                                  std::string_view type, std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return bad("structure",
               "$validate needs a body: the resource, or a Parameters resource "
               "with a \"resource\" parameter");
  auto parsed = parseJson(body);
  if (!parsed.has_value()) return bad("structure", parsed.error().message);
  const Json* resource = &*parsed;
  if (resource->is_object() && resource->value("resourceType", "") == "Parameters" &&
      type != "Parameters") {
    const Json* found = nullptr;
    auto params = resource->find("parameter");
    if (params != resource->end() && params->is_array()) {
      for (const auto& p : *params) {
        if (p.is_object() && p.value("name", "") == "resource" && p.contains("resource"))
          found = &p["resource"];
      }
    }
    if (!found)
      return bad("invalid",
                 "the Parameters resource has no \"resource\" parameter holding the resource to "
                 "validate");
    resource = found;
  }
  ValidationOptions options;
  options.mode = mode;
  ValidationResult result = validator.validate(*resource, options);
  if (!type.empty() && resource->is_object() && resource->value("resourceType", "") != type) {
    Issue issue;
    issue.severity = Severity::Error;
    issue.code = "invalid";
    issue.message = "the resource is a " + resource->value("resourceType", std::string("?")) +
                    " but was posted to " + std::string(type) + "/$validate";
    result.issues.insert(result.issues.begin(), std::move(issue));
  }
  return toOperationOutcome(result);
}

}  // namespace chtlink::fhir::validation
