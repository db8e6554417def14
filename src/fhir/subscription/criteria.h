// Criteria: a Subscription's criteria ("Encounter?identifier=x", "Encounter", "Encounter?")
// parsed once with the search engine, and matched against one written resource.
//
// Matching follows HAPI's two strategies (fhir.md 6.2): most clauses (tokens, strings,
// references by id or URL, uris, _id) are evaluated in memory on the index rows of the new
// version; the rest (dates, numbers, chains, :missing, :not, :text, ...) run as the search's
// SQL restricted to the written resource's pk, inside the write's transaction. Both give the
// answer a search would give.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "fhir/search/index_rows.h"
#include "fhir/search/indexer.h"
#include "fhir/search/search_query.h"
#include "store/database.h"

namespace chtlink::fhir::subscription {

struct Criteria {
  std::string type;           // the resource type the criteria applies to
  search::SearchQuery query;  // clauses only: result parameters are refused
  bool in_memory = true;      // every clause can be evaluated on index rows
};

// Parses `text` against the definitions. Errors (InvalidArgument) name the problem: an unknown
// type, an unknown parameter or modifier, a bad value, result parameters (_sort, _count,
// _include, ...), or several/all types ("[*]"), which are not supported.
Result<Criteria> parseCriteria(const search::Indexer& indexer, std::string_view text);

// True when `criteria` (with in_memory set) matches the resource whose id is `id` and whose
// index rows are `rows`.
bool matchesInMemory(const Criteria& criteria, const search::IndexRows& rows, std::string_view id);

// True when the current version of the resource with internal key `pk` matches `criteria`,
// by the search's own SQL inside `tx`.
Result<bool> matchesInDatabase(store::Transaction& tx, const Criteria& criteria, int64_t pk,
                               int64_t now_ms);

}  // namespace chtlink::fhir::subscription
