// Interactions: the FHIR REST interactions as functions of a store::Transaction, shared by the
// HTTP handlers and by batch/transaction Bundles (which run many of them in one transaction).
// Failures are fhirError()s (see outcome.h); returning one rolls the transaction back.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/random.h"
#include "base/result.h"
#include "fhir/rest/fhir_options.h"
#include "fhir/rest/integrity.h"
#include "fhir/search/indexer.h"
#include "fhir/store/resource_store.h"

namespace chtlink::fhir {

namespace subscription {
class Notifier;
}
namespace validation {
class Validator;
enum class ValidationMode;
}  // namespace validation

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
  // Transactions: the referential-integrity checks of the writes made on `tx` wait until
  // finishDeferredChecks(tx), since an entry may refer to one the Bundle writes after it.
  void deferChecks(const store::Transaction& tx);
  // Runs the checks deferred on `tx` (unless `run` is false) and forgets them.
  Status finishDeferredChecks(store::Transaction& tx, bool run = true);

  // Sees every Subscription before it is stored and every stored version, inside the write's
  // transaction (rest-hook subscriptions); none by default.
  void setNotifier(subscription::Notifier* notifier) { notifier_ = notifier; }
  // Validates every resource before it is written (validation/write_check.h); none by default.
  void setValidator(const validation::Validator* validator, validation::ValidationMode mode) {
    validator_ = validator;
    validation_mode_ = mode;
  }

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
  subscription::Notifier* notifier_ = nullptr;
  const validation::Validator* validator_ = nullptr;
  validation::ValidationMode validation_mode_{};

  struct DeferredChecks {
    struct Write {
      std::string type, id;
      std::vector<LocalReference> refs;
    };
    std::vector<Write> writes;
    std::vector<std::pair<std::string, std::string>> deletes;  // type, id
  };
  // Null when `tx` checks at once.
  DeferredChecks* deferredFor(const store::Transaction& tx);
  std::mutex deferred_mu_;
  std::map<const store::Transaction*, DeferredChecks> deferred_;
};

}  // namespace chtlink::fhir
