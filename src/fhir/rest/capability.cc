// The CapabilityStatement, generated from what the server really implements: every resource
// type of the definitions, the interactions of fhir_service.cc, and only the search
// parameters the indexer evaluates.
#include "fhir/rest/service_internal.h"

namespace chtlink::fhir {

std::string buildCapabilityStatement(const Definitions& definitions, const search::Indexer& indexer,
                                     const FhirOptions& options) {
  Json reference_policy = Json::array({"literal", "logical", "local"});
  if (options.referential_integrity_on_write) reference_policy.push_back("enforced");
  Json resources = Json::array();
  for (const auto& type : definitions.resourceTypes()) {
    Json params = Json::array();
    Json includes = Json::array();
    Json revincludes = Json::array();
    for (const SearchParamDef* def : definitions.forType(type)) {
      if (!indexer.supports(*def)) continue;
      params.push_back({{"name", def->code},
                        {"definition", def->url},
                        {"type", std::string(paramTypeName(def->type))}});
      if (def->type == ParamType::Reference) includes.push_back(type + ":" + def->code);
    }
    Json interactions = Json::array();
    for (const char* code : {"read", "vread", "update", "patch", "delete", "history-instance",
                             "history-type", "create", "search-type"})
      interactions.push_back({{"code", code}});
    resources.push_back({{"type", type},
                         {"versioning", "versioned-update"},
                         {"readHistory", true},
                         {"updateCreate", true},
                         {"conditionalCreate", true},
                         {"conditionalRead", "not-supported"},
                         {"conditionalUpdate", true},
                         {"conditionalDelete", "single"},
                         {"referencePolicy", reference_policy},
                         {"interaction", interactions},
                         {"searchInclude", includes},
                         {"searchRevInclude", Json::array({"*"})},
                         {"searchParam", params}});
  }
  Json cs{{"resourceType", "CapabilityStatement"},
          {"status", "active"},
          {"date", "2026-11-25"},
          {"kind", "instance"},
          {"fhirVersion", "4.0.1"},
          {"software", {{"name", "chtlink"}}},
          {"implementation", {{"description", "chtlink FHIR R4 server"}, {"url", "{{base}}"}}},
          {"format", Json::array({"json"})},
          {"patchFormat", Json::array({"application/json-patch+json"})},
          {"rest",
           Json::array({{{"mode", "server"},
                         {"documentation",
                          "JSON only. Composite and special search parameters are not "
                          "supported (not listed; ignored, or 400 under Prefer: "
                          "handling=strict). No terminology modifiers (:in, :below on codes, "
                          ":of-type); _has one level deep. System search (_type) and "
                          "compartment search (Patient, Encounter, Practitioner, "
                          "RelatedPerson, Device) are supported. Referential integrity is "
                          "enforced on write and delete unless configured off."},
                         {"interaction", Json::array({{{"code", "transaction"}},
                                                      {{"code", "batch"}},
                                                      {{"code", "search-system"}},
                                                      {{"code", "history-system"}}})},
                         {"compartment",
                          Json::array({"http://hl7.org/fhir/CompartmentDefinition/patient",
                                       "http://hl7.org/fhir/CompartmentDefinition/encounter",
                                       "http://hl7.org/fhir/CompartmentDefinition/practitioner",
                                       "http://hl7.org/fhir/CompartmentDefinition/relatedPerson",
                                       "http://hl7.org/fhir/CompartmentDefinition/device"})},
                         {"resource", resources}}})}};
  return dumpJson(cs);
}

}  // namespace chtlink::fhir
