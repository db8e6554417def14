// Indexer: evaluates every SearchParameter of a resource's type on its JSON and returns the
// index rows to store. Built once (it compiles all expressions up front); const and
// thread-safe afterwards.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "fhir/model/definitions.h"
#include "fhir/search/fhir_path.h"
#include "fhir/search/index_rows.h"

namespace chtlink::fhir::search {

// Lower case with common Latin accents removed, for string matching.
std::string normalizeString(std::string_view text);

class Indexer {
 public:
  explicit Indexer(std::shared_ptr<const Definitions> definitions);

  IndexRows index(const Json& resource, std::string_view type) const;

  // True when `def` is searchable: its expression compiled and its type is indexed
  // (composite and special are not), or it is one of _id/_lastUpdated (columns).
  bool supports(const SearchParamDef& def) const;
  // Why each unsupported parameter is skipped, by URL.
  const std::map<std::string, std::string>& skipped() const { return skipped_; }
  const Definitions& definitions() const { return *definitions_; }

 private:
  std::shared_ptr<const Definitions> definitions_;
  std::map<const SearchParamDef*, FhirPath> compiled_;
  std::map<std::string, std::string> skipped_;
};

}  // namespace chtlink::fhir::search
