// `chtlink fhir validate FILE...`: the server's validator on files, without a server.
// Prints the issues of each file; exit 1 when any file has errors, 2 when a file cannot be read.
// `--coverage` lists the invariants the FHIRPath evaluator cannot evaluate.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/json.h"
#include "cli/commands.h"
#include "fhir/validation/validator.h"

namespace chtlink::cli {
namespace {

struct FhirValidateArgs {
  std::vector<std::string> files;
  bool strict = false;
  bool coverage = false;
  bool quiet = false;  // errors only
};

void printCoverage(const fhir::validation::Validator& validator) {
  auto c = validator.coverage();
  fmt::print("invariants: {} of {} evaluated, {} not evaluated\n", c.evaluated, c.total,
             c.not_evaluated.size());
  for (const auto& m : c.not_evaluated) {
    std::string types;
    for (const auto& t : m.types) types += (types.empty() ? "" : ", ") + t;
    fmt::print("  not evaluated: {} [{}] {}\n    reason: {}\n", m.key, types, m.expression,
               m.reason);
  }
  fmt::print(
      "bindings: {} of {} checked (the others need code systems outside the package: "
      "SNOMED CT, LOINC, UCUM, ...)\n",
      c.bindings_checked, c.bindings_total);
}

int validateFiles(const FhirValidateArgs& args) {
  using fhir::validation::Severity;
  auto validator = fhir::validation::Validator::create();
  if (args.coverage) printCoverage(*validator);
  fhir::validation::ValidationOptions options;
  options.mode = args.strict ? fhir::validation::ValidationMode::Strict
                             : fhir::validation::ValidationMode::Default;
  bool errors = false, unreadable = false;
  for (const auto& file : args.files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "{}: cannot be read\n", file);
      unreadable = true;
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto json = parseJson(text.str());
    if (!json.has_value()) {
      fmt::print("{}: error: {}\n", file, json.error().message);
      errors = true;
      continue;
    }
    auto result = validator->validate(*json, options);
    size_t e = result.count(Severity::Error) + result.count(Severity::Fatal);
    size_t w = result.count(Severity::Warning);
    fmt::print("{}: {} ({} error(s), {} warning(s))\n", file, e ? "INVALID" : "valid", e, w);
    for (const auto& issue : result.issues) {
      if (args.quiet && issue.severity != Severity::Error && issue.severity != Severity::Fatal)
        continue;
      fmt::print("  {:<11} {}{}{}\n", fhir::validation::severityName(issue.severity),
                 issue.expression, issue.expression.empty() ? "" : ": ", issue.message);
    }
    errors = errors || e > 0;
  }
  if (unreadable) return 2;
  return errors ? 1 : 0;
}

}  // namespace

void addFhirCommand(CLI::App& app, int& exit_code) {
  auto* fhir_cmd = app.add_subcommand("fhir", "FHIR tools");
  fhir_cmd->require_subcommand(1);
  // Owned by the callback, which runs while `app` parses.
  auto args = std::make_shared<FhirValidateArgs>();
  auto* validate_cmd = fhir_cmd->add_subcommand(
      "validate",
      "Validate FHIR R4 resources (JSON files) against the official definitions, as the "
      "server does on writes; exit 1 when a file has errors");
  validate_cmd->add_option("files", args->files, "Resource files (JSON)");
  validate_cmd->add_flag("--strict", args->strict,
                         "Strict mode: every error counts (default: only what HAPI rejects)");
  validate_cmd->add_flag("--coverage", args->coverage,
                         "List the invariants the FHIRPath evaluator cannot evaluate");
  validate_cmd->add_flag("-q,--quiet", args->quiet, "Print errors only");
  validate_cmd->callback([&exit_code, args] {
    if (args->files.empty() && !args->coverage) throw CLI::RequiredError("FILE or --coverage");
    exit_code = validateFiles(*args);
  });
}

}  // namespace chtlink::cli
