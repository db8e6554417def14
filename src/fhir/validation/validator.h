// Validator: checks a FHIR R4 resource (JSON) against the official StructureDefinitions of the
// pinned package (see model.h): unknown elements, cardinality, types and choice types,
// primitive formats, fixed and pattern values, reference target types, contained resources,
// extension structure, bindings to ValueSets the package can expand, and the FHIRPath
// invariants (fhirpath.h). Profiles of the package named in meta.profile are applied too
// (without slicing).
//
// Modes (docs/decisions/0004-validation-modes.md): Default keeps as errors only what HAPI FHIR
// rejects when it parses a resource (invalid primitive values, codes outside a required
// binding of a `code` element, an extension with both a value and extensions, an unknown
// resourceType); every other error becomes a warning. Strict keeps every error an error.
//
// Immutable once built; validate() may run on any number of threads at once.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "fhir/validation/model.h"

namespace chtlink::fhir::validation {

enum class Severity { Fatal, Error, Warning, Information };
enum class ValidationMode { Default, Strict };

std::string_view severityName(Severity s);

struct Issue {
  Severity severity = Severity::Error;
  std::string code;  // FHIR issue type: structure, required, value, invariant, code-invalid...
  std::string expression;  // FHIRPath location: "Patient.name[0].given[1]"
  std::string message;     // what is wrong and what to do
};

struct ValidationResult {
  std::vector<Issue> issues;

  bool hasErrors() const;
  size_t count(Severity s) const;
};

struct ValidationOptions {
  ValidationMode mode = ValidationMode::Default;
  size_t max_issues = 500;  // later issues are summarised in one
  // Only errors matter (the write path): in the default mode, skip the checks that can only
  // produce warnings (invariants, references, bindings of Codings...), which makes writes of
  // large Bundles cheap. The result then lists errors only.
  bool errors_only = false;
};

// How many invariants the evaluator handles, and which it cannot (listed by
// `chtlink fhir validate --coverage`).
struct Coverage {
  size_t total = 0;
  size_t evaluated = 0;
  struct Missing {
    std::string key;
    std::string expression;
    std::string reason;
    std::vector<std::string> types;  // where the invariant applies
  };
  std::vector<Missing> not_evaluated;
  size_t bindings_total = 0;
  size_t bindings_checked = 0;  // ValueSets the package can expand
};

class Validator {
 public:
  explicit Validator(std::shared_ptr<const Model> model);
  // A validator whose model is built from the generated tables on first use (validate(),
  // coverage(), model()), once, thread-safe. The model is about 9 MB of heap and takes tens
  // of milliseconds to build: a server pays for it with its first FHIR write, not at start,
  // so an idle server (or one whose FHIR store is never written) stays small.
  static std::shared_ptr<const Validator> create();

  ValidationResult validate(const Json& resource, const ValidationOptions& options = {}) const;

  Coverage coverage() const;
  const Model& model() const;

 private:
  Validator() = default;

  mutable std::once_flag loaded_;
  mutable std::shared_ptr<const Model> model_;
};

// OperationOutcome of a result: one issue per Issue (severity, code, diagnostics, expression),
// or a single "information: no issues" when empty.
Json toOperationOutcome(const ValidationResult& result);

}  // namespace chtlink::fhir::validation
