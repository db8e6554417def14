// The CapabilityStatement, generated from what the server really implements: every resource
// type of the definitions, the interactions of fhir_service.cc, and only the search
// parameters the indexer evaluates.
#include "fhir/rest/service_internal.h"

namespace chtlink::fhir {

std::string buildCapabilityStatement(const Definitions& definitions,
                                     const search::Indexer& indexer) {
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
                         {"referencePolicy", Json::array({"literal", "logical", "local"})},
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
                          "JSON only. Composite and special search parameters are not supported "
                          "yet (not listed). No terminology modifiers (:in, :below on codes, "
                          ":of-type), no _has, no _include:iterate, no compartment search."},
                         {"interaction", Json::array({{{"code", "transaction"}},
                                                      {{"code", "batch"}},
                                                      {{"code", "history-system"}}})},
                         {"resource", resources}}})}};
  return dumpJson(cs);
}

}  // namespace chtlink::fhir
