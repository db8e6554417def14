#include "fhir/subscription/criteria.h"

#include <fmt/format.h>

#include "fhir/search/sql_builder.h"
#include "net/http.h"

namespace chtlink::fhir::subscription {
namespace {

using search::Clause;
using search::IndexRows;

Error badCriteria(std::string_view text, const std::string& why) {
  return invalidArgument(fmt::format("Subscription.criteria \"{}\": {}", text, why),
                         "invalid_criteria");
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Whether `clause` can be decided on the index rows of one resource (see the header).
bool inMemory(const Clause& clause) {
  if (!clause.chained.empty()) return false;
  const std::string& code = clause.def->code;
  if (code == "_id") return clause.modifier.empty();
  if (code == "_lastUpdated") return false;
  const std::string& mod = clause.modifier;
  switch (clause.def->type) {
    case ParamType::String:
      return mod.empty() || mod == "exact" || mod == "contains";
    case ParamType::Token:
      return mod.empty();
    case ParamType::Uri:
      return mod.empty() || mod == "below" || mod == "above";
    case ParamType::Reference:
      // "" / a type name / identifier; :missing goes to the database.
      return mod != "missing";
    default:
      return false;
  }
}

// The token test of sql_builder.cc's valueCondition: "code", "|code", "system|", "system|code".
bool tokenMatches(const search::TokenEntry& t, const std::string& value) {
  auto bar = value.find('|');
  if (bar == std::string::npos) return t.code == value;
  std::string system = value.substr(0, bar);
  std::string code = value.substr(bar + 1);
  if (system.empty()) return !t.has_system && t.code == code;
  if (code.empty()) return t.has_system && t.system == system;
  return t.system == system && t.code == code;
}

bool valueMatches(const Clause& c, const IndexRows& rows, std::string_view id,
                  const std::string& value) {
  const std::string& param = c.def->code;
  const std::string& mod = c.modifier;
  if (param == "_id") return id == value;
  switch (c.def->type) {
    case ParamType::String: {
      const std::string wanted = mod == "exact" ? value : search::normalizeString(value);
      for (const auto& s : rows.strings) {
        if (s.param != param) continue;
        if (mod == "exact" ? s.exact == wanted
                           : (mod == "contains" ? s.normalized.find(wanted) != std::string::npos
                                                : startsWith(s.normalized, wanted)))
          return true;
      }
      return false;
    }
    case ParamType::Token:
      for (const auto& t : rows.tokens)
        if (t.param == param && tokenMatches(t, value)) return true;
      return false;
    case ParamType::Uri:
      for (const auto& u : rows.uris) {
        if (u.param != param) continue;
        if (mod == "below" ? startsWith(u.value, value)
                           : (mod == "above" ? startsWith(value, u.value) : u.value == value))
          return true;
      }
      return false;
    case ParamType::Reference: {
      if (mod == "identifier") {
        const std::string key = param + ":identifier";
        for (const auto& t : rows.tokens)
          if (t.param == key && tokenMatches(t, value)) return true;
        return false;
      }
      std::string path = value;
      if (auto hist = path.find("/_history/"); hist != std::string::npos) path.resize(hist);
      auto last = path.rfind('/');
      std::string type, ref_id = path;
      if (last != std::string::npos) {
        auto prev = last == 0 ? std::string::npos : path.rfind('/', last - 1);
        size_t from = prev == std::string::npos ? 0 : prev + 1;
        type = path.substr(from, last - from);
        ref_id = path.substr(last + 1);
        if (!mod.empty() && mod != type) return false;
      }
      for (const auto& r : rows.references) {
        if (r.param != param) continue;
        if (last == std::string::npos) {
          if (!mod.empty() ? (r.target_type == mod && r.target_id == ref_id)
                           : (r.target_id == ref_id || r.url == value))
            return true;
        } else if ((r.target_type == type && r.target_id == ref_id) || r.url == value) {
          return true;
        }
      }
      return false;
    }
    default:
      return false;
  }
}

}  // namespace

Result<Criteria> parseCriteria(const search::Indexer& indexer, std::string_view text) {
  if (text.empty()) return badCriteria(text, "empty; expected a search URL such as Encounter?x=y");
  if (text.front() == '[')
    return badCriteria(text,
                       "criteria over several resource types ([T1,T2] or [*]) are not "
                       "supported; create one Subscription per type");
  std::string_view type = text;
  std::string_view query;
  if (auto mark = text.find('?'); mark != std::string_view::npos) {
    type = text.substr(0, mark);
    query = text.substr(mark + 1);
  }
  if (!type.empty() && type.back() == '/') type.remove_suffix(1);
  if (startsWith(type, "http://") || startsWith(type, "https://") || type.find('/') != type.npos)
    return badCriteria(text, "expected a relative search URL starting with a resource type");
  if (!indexer.definitions().isResourceType(type))
    return badCriteria(text, fmt::format("\"{}\" is not a FHIR R4 resource type", type));
  search::ParseOptions strict;
  strict.strict = true;
  auto parsed = search::parseSearch(indexer, type, net::parseQuery(query), strict);
  if (!parsed.has_value()) return badCriteria(text, parsed.error().message);
  search::SearchQuery& q = *parsed;
  if (!q.sort.empty() || q.count || !q.total.empty() || q.summary != search::Summary::False ||
      !q.elements.empty() || !q.includes.empty())
    return badCriteria(text,
                       "result parameters (_sort, _count, _total, _summary, _elements, "
                       "_include, _revinclude) have no meaning in a subscription");
  // Values are checked by building the SQL once (dates, numbers): a criteria that cannot be
  // evaluated is refused now rather than failing every later write of its type.
  auto sql = search::buildConditions(q, "r", 0);
  if (!sql.has_value()) return badCriteria(text, sql.error().message);
  Criteria c;
  c.type = std::string(type);
  for (const auto& clause : q.clauses) c.in_memory = c.in_memory && inMemory(clause);
  c.query = std::move(q);
  return c;
}

bool matchesInMemory(const Criteria& criteria, const IndexRows& rows, std::string_view id) {
  for (const auto& clause : criteria.query.clauses) {
    bool any_value = false;
    bool matched = false;
    for (const auto& v : clause.values) {
      if (v.empty()) continue;
      any_value = true;
      if (valueMatches(clause, rows, id, v)) {
        matched = true;
        break;
      }
    }
    if (any_value && !matched) return false;
  }
  return true;
}

Result<bool> matchesInDatabase(store::Transaction& tx, const Criteria& criteria, int64_t pk,
                               int64_t now_ms) {
  CHTLINK_ASSIGN_OR_RETURN(search::SqlPart conditions,
                           search::buildConditions(criteria.query, "r", now_ms));
  std::vector<store::Value> params{pk};
  params.insert(params.end(), conditions.params.begin(), conditions.params.end());
  CHTLINK_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.query("SELECT 1 FROM fhir_resource r WHERE r.pk = ? AND r.deleted = 0" + conditions.sql,
               params));
  return !rows.empty();
}

}  // namespace chtlink::fhir::subscription
