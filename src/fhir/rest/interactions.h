// Interactions: the FHIR REST interactions as functions of a store::Transaction, shared by the
// HTTP handlers and by batch/transaction Bundles (which run many of them in one transaction).
// Failures are fhirError()s (see outcome.h); returning one rolls the transaction back.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/random.h"
#include "base/result.h"
#include "fhir/rest/fhir_options.h"
#include "fhir/search/indexer.h"
#include "fhir/store/resource_store.h"

namespace chtlink::fhir {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// What an interaction produced, before it is rendered as HTTP or as a Bundle entry.
struct Outcome {
  int status = 200;
  std::optional<StoredVersion> version;  // ETag, Last-Modified, Location, body
  bool location = false;                 // send Location (creates)
  std::optional<Json> message;           // an OperationOutcome to return (delete, warnings)
};

// Structural checks of a resource body: an object, a known resourceType, a valid id when
// present. Returns the parsed JSON; errors name line/column for invalid JSON.
Result<Json> parseResource(const search::Indexer& indexer, std::string_view body);

// True for ids matching [A-Za-z0-9\-\.]{1,64}.
bool isValidId(std::string_view id);

class Interactions {
 public:
  Interactions(ResourceStore& store, const search::Indexer& indexer, Random& random,
               const FhirOptions& options);

  Result<Outcome> create(store::Transaction& tx, const std::string& type, Json body,
                         std::string_view if_none_exist);
  Result<Outcome> update(store::Transaction& tx, const std::string& type, const std::string& id,
                         Json body, std::string_view if_match, std::string_view if_none_match);
  Result<Outcome> conditionalUpdate(store::Transaction& tx, const std::string& type,
                                    const QueryParams& query, Json body, std::string_view if_match);
  Result<Outcome> patch(store::Transaction& tx, const std::string& type, const std::string& id,
                        const Json& patch, std::string_view if_match);
  Result<Outcome> remove(store::Transaction& tx, const std::string& type, const std::string& id);
  Result<Outcome> conditionalRemove(store::Transaction& tx, const std::string& type,
                                    const QueryParams& query);
  Result<Outcome> read(store::Transaction& tx, const std::string& type, const std::string& id);
  Result<Outcome> vread(store::Transaction& tx, const std::string& type, const std::string& id,
                        std::string_view version);

  // Resources matching a conditional URL's query ("identifier=x"), at most `limit`.
  Result<std::vector<StoredVersion>> matchQuery(store::Transaction& tx, const std::string& type,
                                                const QueryParams& query, int limit);
  // Replaces references whose value is a search URL ("Patient?identifier=x", also
  // "Patient/?identifier=x") by the one match: 0 matches 404, several 412.
  Status resolveConditionalReferences(store::Transaction& tx, Json& resource);

  std::string newId();
  ResourceStore& store() { return store_; }

  // Writes `body` as the next version of type/id after `current` (nullopt: creates it),
  // resolving conditional references first; an unchanged body makes no new version.
  Result<Outcome> writeVersion(store::Transaction& tx, const std::string& type,
                               const std::string& id, Json body,
                               const std::optional<StoredVersion>& current,
                               std::string_view method);

 private:
  ResourceStore& store_;
  const search::Indexer& indexer_;
  Random& random_;
  const FhirOptions& options_;
};

}  // namespace chtlink::fhir
