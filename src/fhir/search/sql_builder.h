// Translates a SearchQuery into portable SQL over the fhir_* tables (see store/schema.cc).
// Conditions refer to the resource row as `alias` (fhir_resource). Number/date matching
// follows search.html (fhir.md section 4.4): every value is an interval and prefixes compare
// intervals.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "fhir/search/search_query.h"
#include "store/database.h"

namespace chtlink::fhir::search {

struct SqlPart {
  std::string sql;
  std::vector<store::Value> params;
  // Some clause limits alias.pk to the rows of an index-table subquery that already filters
  // on the resource type. The caller should then leave out its own `alias.type = ?`: with
  // it the planner may walk every resource of the type (the type index) and probe the
  // subquery per row; without it the subquery drives the plan (one index lookup).
  bool index_driven = false;
  void append(const SqlPart& other) {
    sql += other.sql;
    params.insert(params.end(), other.params.begin(), other.params.end());
    index_driven = index_driven || other.index_driven;
  }
};

// " AND ..." for every clause of `query` (empty when none). `now_ms` anchors `ap`.
Result<SqlPart> buildConditions(const SearchQuery& query, const std::string& alias, int64_t now_ms);

// ORDER BY keys for query.sort, ending with alias.pk (a stable tie-breaker); empty sort gives
// "alias.pk".
SqlPart buildOrderBy(const SearchQuery& query, const std::string& alias);

// The interval a number search value stands for, from its written precision:
// "100" -> [99.5, 100.5), "1.50" -> [1.495, 1.505).
struct NumberRange {
  double value;
  double low;
  double high;
};
Result<NumberRange> parseNumberRange(const std::string& text);

}  // namespace chtlink::fhir::search
