#include "fhir/rest/integrity.h"

#include <fmt/format.h>

#include <set>

#include "fhir/rest/outcome.h"

namespace chtlink::fhir {
namespace {

// "Encounter.subject.where(resolve() is Patient) | Group.member" for Encounter ->
// "Encounter.subject": the element path of the type's branch, without FHIRPath functions.
std::string elementPath(const SearchParamDef& def, std::string_view type) {
  std::string_view expr = def.expression;
  std::string prefix = std::string(type) + ".";
  while (!expr.empty()) {
    auto bar = expr.find('|');
    std::string_view branch = expr.substr(0, bar);
    while (!branch.empty() && (branch.front() == ' ' || branch.front() == '('))
      branch.remove_prefix(1);
    if (branch.substr(0, prefix.size()) == prefix) {
      for (std::string_view stop : {".where(", " as ", ".as(", ".resolve(", ")", " "}) {
        auto at = branch.find(stop);
        if (at != std::string_view::npos) branch = branch.substr(0, at);
      }
      return std::string(branch);
    }
    if (bar == std::string_view::npos) break;
    expr.remove_prefix(bar + 1);
  }
  return std::string(type) + " (search parameter " + def.code + ")";
}

bool isLocal(const search::ReferenceEntry& r) {
  return !r.target_type.empty() && r.url.find("://") == std::string::npos;
}

}  // namespace

std::vector<LocalReference> localReferences(const search::Indexer& indexer, const Json& resource,
                                            std::string_view type) {
  std::vector<LocalReference> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& [def, ref] : indexer.references(resource, type)) {
    if (!isLocal(ref) || !indexer.definitions().isResourceType(ref.target_type)) continue;
    if (!seen.emplace(ref.target_type, ref.target_id).second) continue;
    out.push_back({ref.target_type, ref.target_id, elementPath(*def, type)});
  }
  return out;
}

Status checkReferencesExist(store::Transaction& tx, const std::string& self_type,
                            const std::string& self_id, const std::vector<LocalReference>& refs) {
  for (const auto& ref : refs) {
    if (ref.type == self_type && ref.id == self_id) continue;
    CHTLINK_ASSIGN_OR_RETURN(store::Rows rows,
                             tx.query("SELECT deleted FROM fhir_resource WHERE type = ? AND id = ?",
                                      {ref.type, ref.id}));
    if (rows.empty() || rows.integer(0, 0) != 0) {
      return fhirError(
          "invalid",
          fmt::format("Resource {}/{} not found, specified in path: {} ({}; create it first, or "
                      "refer to it by an absolute URL or a logical identifier)",
                      ref.type, ref.id, ref.path,
                      rows.empty() ? "it does not exist" : "it was deleted"));
    }
  }
  return ok();
}

Status checkNotReferenced(store::Transaction& tx, const std::string& type, const std::string& id) {
  constexpr int kShown = 5;
  CHTLINK_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.query("SELECT DISTINCT r.type, r.id, r.pk FROM fhir_idx_reference x JOIN fhir_resource r "
               "ON r.pk = x.pk WHERE x.target_type = ? AND x.target_id = ? AND r.deleted = 0 "
               "AND NOT (r.type = ? AND r.id = ?) AND x.url NOT LIKE '%://%' ORDER BY r.pk "
               "LIMIT ?",
               {type, id, type, id, int64_t{kShown + 1}}));
  if (rows.empty()) return ok();
  std::string referrers;
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(kShown); ++i)
    referrers += (i == 0 ? "" : ", ") + rows.text(i, 0) + "/" + rows.text(i, 1);
  if (rows.size() > static_cast<size_t>(kShown)) referrers += " and more";
  return fhirError("conflict",
                   fmt::format("Unable to delete {}/{} because other resources refer to it: {}. "
                               "Delete those first or remove their references to it",
                               type, id, referrers));
}

}  // namespace chtlink::fhir
