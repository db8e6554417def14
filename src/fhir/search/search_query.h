// SearchQuery: a FHIR search request parsed against the definitions, before any SQL.
//
// Supported: string (:exact :contains), token (system|code forms, :not :text :missing;
// identifier values), reference (id, T/id, absolute URL, :T type modifier, :identifier, one
// level of chaining `param[:T].child=`), date/number/quantity with the prefixes eq ne gt lt ge
// le sa eb ap, uri (:below :above), :missing on every type; _id, _lastUpdated, _tag, _profile,
// _security, _source; _sort (several keys, '-' descending), _count, _total, _summary
// (count/data/text/false), _elements, _include/_revinclude (Source:param[:Target]).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "fhir/model/definitions.h"
#include "fhir/search/indexer.h"

namespace chtlink::fhir::search {

enum class Prefix { Eq, Ne, Gt, Lt, Ge, Le, Sa, Eb, Ap };

struct Clause {
  const SearchParamDef* def = nullptr;
  std::string modifier;             // "", "exact", "contains", "missing", "not", "text", ...
  std::vector<std::string> values;  // OR'ed, escapes removed
  // One level of chaining: def is the reference parameter; each chained clause applies to
  // referenced resources of its type (several when the reference may target several types).
  std::vector<std::pair<std::string, std::shared_ptr<Clause>>> chained;
};

struct SortKey {
  const SearchParamDef* def = nullptr;
  bool descending = false;
};

struct Include {
  bool reverse = false;
  std::string source_type;
  const SearchParamDef* def = nullptr;  // null: every reference parameter ("*")
  std::string target_type;              // empty: any
};

enum class Summary { False, Count, Data, Text };

struct SearchQuery {
  std::string type;
  std::vector<Clause> clauses;
  std::vector<SortKey> sort;
  std::optional<int> count;
  std::string total;  // "", "none", "estimate", "accurate"
  Summary summary = Summary::False;
  std::vector<std::string> elements;
  std::vector<Include> includes;
  // Parameters that were applied, as (name, value), for the self link and paging.
  std::vector<std::pair<std::string, std::string>> applied;
  // Parameters ignored, with the reason, reported in an OperationOutcome entry.
  std::vector<std::string> ignored;
};

struct ParseOptions {
  bool strict = false;  // Prefer: handling=strict: unknown parameters are errors
};

// Parses decoded (name, value) pairs for a search of `type`. Paging parameters
// (_getpages, _getpagesoffset, _bundletype) and _format/_pretty are skipped.
Result<SearchQuery> parseSearch(const Indexer& indexer, std::string_view type,
                                const std::vector<std::pair<std::string, std::string>>& params,
                                const ParseOptions& options);

// Splits a value on unescaped ',' and removes the \, \$ \| \\ escapes.
std::vector<std::string> splitValues(std::string_view value);
// Takes a two-letter prefix off a number/date/quantity value.
Prefix takePrefix(std::string& value);

}  // namespace chtlink::fhir::search
