// Shared state and helpers of the REST layer (fhir_service.cc, bundles.cc, transaction.cc,
// capability.cc). Not for use outside src/fhir/rest.
#pragma once

#include <memory>
#include <string>

#include "fhir/model/definitions.h"
#include "fhir/rest/fhir_service.h"
#include "fhir/rest/interactions.h"
#include "fhir/search/indexer.h"
#include "fhir/store/resource_store.h"
#include "fhir/subscription/notifier.h"
#include "fhir/validation/validator.h"

namespace chtlink::fhir {

struct FhirService::State {
  State(store::Database& database, const Clock& c, Random& r, FhirOptions o,
        std::shared_ptr<spdlog::logger> l);

  store::Database& db;
  const Clock& clock;
  FhirOptions options;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<const Definitions> definitions;
  search::Indexer indexer;
  ResourceStore store;
  Interactions interactions;
  subscription::Notifier notifier;
  std::string capability_json;  // built once; base URL substituted per request
  // Validator of writes and $validate (fhir.validation picks the mode).
  std::shared_ptr<const validation::Validator> validator;
  validation::ValidationMode validation_mode = validation::ValidationMode::Default;
};

enum class PreferReturn { Representation, Minimal, OperationOutcome };

struct RequestContext {
  std::string base;  // absolute base URL, no trailing slash
  PreferReturn prefer_return = PreferReturn::Representation;
  bool strict = false;
};

// JSON text of a stored version (with _elements/_summary applied when asked).
std::string renderResource(const StoredVersion& v);

// A searchset Bundle for one page.
std::string renderSearchBundle(const RequestContext& ctx, const search::SearchQuery& query,
                               const SearchPage& page, int count, int64_t offset);
// A history Bundle for one page.
std::string renderHistoryBundle(const RequestContext& ctx, const HistoryPage& page,
                                const std::string& self_path, const HistoryQuery& query);

// Paging tokens: the query and cursor, base64url-encoded.
struct PageToken {
  std::string kind;  // "search" or "history"
  std::string type;
  std::string id;
  QueryParams params;
  int64_t snapshot = 0;
  int64_t after = 0;
  int64_t offset = 0;
  int count = 0;
  std::optional<int64_t> since;
};
std::string encodePageToken(const PageToken& token);
Result<PageToken> decodePageToken(std::string_view text);

std::string buildCapabilityStatement(const Definitions& definitions, const search::Indexer& indexer,
                                     const FhirOptions& options);

// Runs a batch or transaction Bundle; returns the response Bundle JSON.
Result<Json> runBundle(FhirService::State& state, store::Transaction& tx, const RequestContext& ctx,
                       const Json& bundle, bool transaction);

std::string percentEncode(std::string_view s);

}  // namespace chtlink::fhir
