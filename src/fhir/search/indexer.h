// Indexer: evaluates every SearchParameter of a resource's type on its JSON and returns the
// index rows to store. Built once (it compiles all expressions up front); const and
// thread-safe afterwards.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
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
  // Only the reference parameters' rows, each with the parameter that produced it
  // (referential-integrity checks).
  std::vector<std::pair<const SearchParamDef*, ReferenceEntry>> references(
      const Json& resource, std::string_view type) const;

  // The parameter whose index rows answer searches on `def` for `type`: `def` itself, or,
  // when another parameter of `type` has the same type and expression (Patient phonetic and
  // name), that one, whose rows alone are stored.
  const SearchParamDef& storedAs(std::string_view type, const SearchParamDef& def) const;

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
  // (type, parameter) -> the parameter indexed in its place (see storedAs).
  std::map<std::string, std::map<const SearchParamDef*, const SearchParamDef*>, std::less<>>
      aliases_;
};

}  // namespace chtlink::fhir::search
