// SearchQuery: a FHIR search request parsed against the definitions, before any SQL.
//
// Supported: string (:exact :contains), token (system|code forms, :not :text :missing;
// identifier values), reference (id, T/id, absolute URL, :T type modifier, :identifier, one
// level of chaining `param[:T].child=`), date/number/quantity with the prefixes eq ne gt lt ge
// le sa eb ap, uri (:below :above), :missing on every type; _id, _lastUpdated, _tag, _profile,
// _security, _source; _sort (several keys, '-' descending), _count, _total, _summary
// (count/data/text/false), _elements, _include/_revinclude (Source:param[:Target], with
// :iterate), _has (one level), system search (_type) and compartment search.
// Not supported: composite and special parameters (reported as ignored).
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
  // _has:Source:ref:param=value (reverse chaining): resources that a `Source` resource
  // matching `inner` refers to through its reference parameter `def`. Values unused.
  struct ReverseChain {
    std::string source_type;
    std::shared_ptr<Clause> inner;
  };
  std::optional<ReverseChain> has;
};

struct SortKey {
  const SearchParamDef* def = nullptr;
  bool descending = false;
};

struct Include {
  bool reverse = false;
  bool iterate = false;  // also applied to the resources included (recursively)
  std::string source_type;
  const SearchParamDef* def = nullptr;  // null: every reference parameter ("*")
  std::string target_type;              // empty: any
};

enum class Summary { False, Count, Data, Text };

// Compartment search: GET [base]/Patient/1/Observation.
struct Compartment {
  std::string type;  // "Patient"
  std::string id;
  std::vector<std::string> params;  // of the searched type, from the CompartmentDefinition
};

struct SearchQuery {
  std::string type;  // empty: a system search over `types`
  // System search (GET [base]?_type=...): the types searched; empty with an empty `type`:
  // every type (then only the common parameters _id, _lastUpdated, _tag, ... apply).
  std::vector<std::string> types;
  std::optional<Compartment> compartment;
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

// Parses decoded (name, value) pairs for a search of `type` (empty: a system search, with
// _type). Paging parameters (_getpages, _getpagesoffset, _bundletype) and _format/_pretty
// are skipped. `_compartment=Patient/1` (what compartment URLs become, also in paging links)
// restricts the search to that compartment.
Result<SearchQuery> parseSearch(const Indexer& indexer, std::string_view type,
                                const std::vector<std::pair<std::string, std::string>>& params,
                                const ParseOptions& options);

// Splits a value on unescaped ',' and removes the \, \$ \| \\ escapes.
std::vector<std::string> splitValues(std::string_view value);
// Takes a two-letter prefix off a number/date/quantity value.
Prefix takePrefix(std::string& value);

}  // namespace chtlink::fhir::search
