// Definitions: the R4 resource types and SearchParameters, from the tables generated at build
// time out of the official package (hl7.fhir.r4.examples 4.0.1). Built once at start-up and
// shared read-only; every method is const and safe from any thread.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace chtlink::fhir {

enum class ParamType { Number, Date, String, Token, Reference, Composite, Quantity, Uri, Special };

std::string_view paramTypeName(ParamType type);

struct SearchParamDef {
  std::string code;  // "identifier"
  std::string url;   // canonical of the SearchParameter
  ParamType type = ParamType::Token;
  std::string expression;  // FHIRPath as published ("Patient.identifier")
  std::vector<std::string> bases;
  std::vector<std::string> targets;
};

class Definitions {
 public:
  // Builds the lookup maps from the generated tables, plus the common parameters
  // (_id, _lastUpdated, _tag, _profile, _security, _source) for every type.
  static std::shared_ptr<const Definitions> load();

  bool isResourceType(std::string_view type) const;
  const std::vector<std::string>& resourceTypes() const { return types_; }
  // The parameter `code` of `type` (including the common ones), or null.
  const SearchParamDef* find(std::string_view type, std::string_view code) const;
  // Every parameter applying to `type`, ordered by code.
  std::vector<const SearchParamDef*> forType(std::string_view type) const;
  size_t searchParamCount() const { return params_.size(); }
  // Compartment search (GET [base]/Patient/1/Observation): the parameters of `type` that
  // place it in the `compartment` of the official CompartmentDefinitions; empty when `type`
  // is not in it. isCompartment: Patient, Encounter, Practitioner, RelatedPerson, Device.
  const std::vector<std::string>& compartmentParams(std::string_view compartment,
                                                    std::string_view type) const;
  bool isCompartment(std::string_view compartment) const;

 private:
  std::vector<std::string> types_;
  std::set<std::string, std::less<>> type_set_;
  std::vector<std::unique_ptr<SearchParamDef>> params_;
  // type -> code -> definition
  std::map<std::string, std::map<std::string, const SearchParamDef*, std::less<>>, std::less<>>
      by_type_;
  // compartment -> type -> parameter codes
  std::map<std::string, std::map<std::string, std::vector<std::string>, std::less<>>, std::less<>>
      compartments_;
  std::vector<std::string> no_params_;
};

}  // namespace chtlink::fhir
