// Referential integrity, as HAPI FHIR enforces it (fhir.md sections 2.3 and 2.8): a write may
// not point a literal local reference ("Patient/1") at a resource that does not exist (400),
// and a resource still referenced by another may not be deleted (409). Absolute URLs are
// external references and are never checked; references inside contained resources neither.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "fhir/search/indexer.h"
#include "store/database.h"

namespace chtlink::fhir {

struct LocalReference {
  std::string type;
  std::string id;
  std::string path;  // where it was found, for messages: "Encounter.subject"
};

// The literal local references of `resource` (of `type`) on its reference search
// parameters, each target once.
std::vector<LocalReference> localReferences(const search::Indexer& indexer, const Json& resource,
                                            std::string_view type);

// 400 naming the first reference of `refs` whose target does not exist or is deleted
// (HAPI: "Resource Patient/x not found, specified in path: Encounter.subject"). A reference
// of the resource `self_type`/`self_id` to itself passes.
Status checkReferencesExist(store::Transaction& tx, const std::string& self_type,
                            const std::string& self_id, const std::vector<LocalReference>& refs);

// 409 naming the resources (up to five) that still reference type/id.
Status checkNotReferenced(store::Transaction& tx, const std::string& type, const std::string& id);

}  // namespace chtlink::fhir
