#include "fhir/search/sql_builder.h"

#include <cmath>
#include <cstdlib>

#include "fhir/search/date_range.h"
#include "fhir/search/indexer.h"

namespace chtlink::fhir::search {
namespace {

const char* tableOf(ParamType type) {
  switch (type) {
    case ParamType::String:
      return "fhir_idx_string";
    case ParamType::Token:
      return "fhir_idx_token";
    case ParamType::Reference:
      return "fhir_idx_reference";
    case ParamType::Date:
      return "fhir_idx_date";
    case ParamType::Number:
    case ParamType::Quantity:
      return "fhir_idx_number";
    case ParamType::Uri:
      return "fhir_idx_uri";
    default:
      return "";
  }
}

std::string likeEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

Error badValue(const Clause& c, const std::string& value, const std::string& why) {
  return invalidArgument("search parameter " + c.def->code + ": value \"" + value + "\" " + why,
                         "invalid_search");
}

// Condition on a fhir_idx_date row `x` (or a [low, high) expression pair) for one prefix.
SqlPart dateCondition(Prefix prefix, const std::string& low, const std::string& high, DateRange s,
                      int64_t now_ms) {
  SqlPart p;
  auto eq = [&] { return SqlPart{"(" + low + " >= ? AND " + high + " <= ?)", {s.low, s.high}}; };
  switch (prefix) {
    case Prefix::Eq:
      return eq();
    case Prefix::Ne:
      return {"(" + low + " < ? OR " + high + " > ?)", {s.low, s.high}};
    case Prefix::Gt:
      return {"(" + high + " > ?)", {s.high}};
    case Prefix::Lt:
      return {"(" + low + " < ?)", {s.low}};
    case Prefix::Ge: {
      p = SqlPart{"(" + high + " > ? OR ", {s.high}};
      p.append(eq());
      p.sql += ")";
      return p;
    }
    case Prefix::Le: {
      p = SqlPart{"(" + low + " < ? OR ", {s.low}};
      p.append(eq());
      p.sql += ")";
      return p;
    }
    case Prefix::Sa:
      return {"(" + low + " >= ?)", {s.high}};
    case Prefix::Eb:
      return {"(" + high + " <= ?)", {s.low}};
    case Prefix::Ap: {
      // search.html suggests 10% of the distance from now; at least the value's own width.
      int64_t margin = std::llabs(now_ms - s.low) / 10;
      return {"(" + low + " < ? AND " + high + " > ?)", {s.high + margin, s.low - margin}};
    }
  }
  return eq();
}

SqlPart numberCondition(Prefix prefix, NumberRange n) {
  switch (prefix) {
    case Prefix::Eq:
      return {"(x.low >= ? AND x.high < ?)", {n.low, n.high}};
    case Prefix::Ne:
      return {"(x.low < ? OR x.high >= ?)", {n.low, n.high}};
    case Prefix::Gt:
      return {"(x.high > ?)", {n.value}};
    case Prefix::Lt:
      return {"(x.low < ?)", {n.value}};
    case Prefix::Ge:
      return {"(x.high >= ?)", {n.value}};
    case Prefix::Le:
      return {"(x.low <= ?)", {n.value}};
    case Prefix::Sa:
      return {"(x.low > ?)", {n.value}};
    case Prefix::Eb:
      return {"(x.high < ?)", {n.value}};
    case Prefix::Ap: {
      double margin = std::fabs(n.value) * 0.1;
      return {"(x.low <= ? AND x.high >= ?)", {n.value + margin, n.value - margin}};
    }
  }
  return {"(1 = 0)", {}};
}

// Splits "a|b" at the first unescaped '|'.
bool splitBar(const std::string& v, std::string& left, std::string& right) {
  auto bar = v.find('|');
  if (bar == std::string::npos) return false;
  left = v.substr(0, bar);
  right = v.substr(bar + 1);
  return true;
}

Result<SqlPart> valueCondition(const Clause& c, std::string value, int64_t now_ms) {
  const std::string& mod = c.modifier;
  switch (c.def->type) {
    case ParamType::String:
      if (mod == "exact") return SqlPart{"x.exact = ?", {value}};
      if (mod == "contains")
        return SqlPart{"x.normalized LIKE ? ESCAPE '\\'",
                       {"%" + likeEscape(normalizeString(value)) + "%"}};
      return SqlPart{"x.normalized LIKE ? ESCAPE '\\'", {likeEscape(normalizeString(value)) + "%"}};
    case ParamType::Token: {
      if (mod == "text")
        return SqlPart{"(x.text LIKE ? ESCAPE '\\' OR x.text LIKE ? ESCAPE '\\')",
                       {likeEscape(normalizeString(value)) + "%",
                        "% " + likeEscape(normalizeString(value)) + "%"}};
      std::string system, code;
      if (!splitBar(value, system, code)) return SqlPart{"x.code = ?", {value}};
      if (system.empty()) return SqlPart{"(x.has_system = 0 AND x.code = ?)", {code}};
      if (code.empty()) return SqlPart{"(x.has_system = 1 AND x.system = ?)", {system}};
      return SqlPart{"(x.system = ? AND x.code = ?)", {system, code}};
    }
    case ParamType::Reference: {
      std::string type_filter = mod;
      std::string path = value;
      if (auto hist = path.find("/_history/"); hist != std::string::npos) path.resize(hist);
      auto last = path.rfind('/');
      if (last == std::string::npos) {
        if (!type_filter.empty())
          return SqlPart{"(x.target_type = ? AND x.target_id = ?)", {type_filter, path}};
        return SqlPart{"(x.target_id = ? OR x.url = ?)", {path, value}};
      }
      auto prev = last == 0 ? std::string::npos : path.rfind('/', last - 1);
      std::string type = path.substr(prev == std::string::npos ? 0 : prev + 1,
                                     last - (prev == std::string::npos ? 0 : prev + 1));
      std::string id = path.substr(last + 1);
      if (!type_filter.empty() && type_filter != type) return SqlPart{"(1 = 0)", {}};
      return SqlPart{"((x.target_type = ? AND x.target_id = ?) OR x.url = ?)", {type, id, value}};
    }
    case ParamType::Date: {
      Prefix prefix = takePrefix(value);
      auto range = parseDateRange(value);
      if (!range)
        return badValue(c, value, "is not a date (YYYY[-MM[-DD[Thh:mm[:ss[.fff]][Z|+hh:mm]]]])");
      return dateCondition(prefix, "x.low", "x.high", *range, now_ms);
    }
    case ParamType::Number:
    case ParamType::Quantity: {
      Prefix prefix = takePrefix(value);
      std::string number = value, unit_part;
      std::string system, code;
      if (auto bar = value.find('|'); bar != std::string::npos) {
        number = value.substr(0, bar);
        splitBar(value.substr(bar + 1), system, code);
      }
      CHTLINK_ASSIGN_OR_RETURN(NumberRange n, parseNumberRange(number));
      SqlPart p = numberCondition(prefix, n);
      if (!code.empty() && !system.empty()) {
        p.sql = "(" + p.sql + " AND x.system = ? AND x.code = ?)";
        p.params.push_back(system);
        p.params.push_back(code);
      } else if (!code.empty()) {
        p.sql = "(" + p.sql + " AND (x.code = ? OR x.unit = ?))";
        p.params.push_back(code);
        p.params.push_back(code);
      }
      return p;
    }
    case ParamType::Uri:
      if (mod == "below") return SqlPart{"x.value LIKE ? ESCAPE '\\'", {likeEscape(value) + "%"}};
      if (mod == "above") return SqlPart{"? LIKE (x.value || '%')", {value}};
      return SqlPart{"x.value = ?", {value}};
    default:
      return badValue(c, value, "uses an unsupported parameter type");
  }
}

using Types = std::vector<std::string>;

// "col = ? AND " / "col IN (?, ?) AND " for `types`; nothing when empty (every type).
std::string typeCondition(const std::string& column, const Types& types,
                          std::vector<store::Value>& params) {
  if (types.empty()) return "";
  std::string sql = column + (types.size() == 1 ? " = ?" : " IN (");
  for (size_t i = 0; i < types.size(); ++i) {
    if (types.size() > 1) sql += i == 0 ? "?" : ", ?";
    params.emplace_back(types[i]);
  }
  if (types.size() > 1) sql += ")";
  return sql + " AND ";
}

Result<SqlPart> clauseCondition(const Clause& c, const Types& types, const std::string& alias,
                                int64_t now_ms);

// Conditions on the resource columns themselves (_id, _lastUpdated).
Result<SqlPart> columnCondition(const Clause& c, const std::string& alias, int64_t now_ms) {
  SqlPart out{"(", {}};
  bool first = true;
  for (std::string v : c.values) {
    if (v.empty()) continue;
    if (!first) out.sql += " OR ";
    first = false;
    if (c.def->code == "_id") {
      out.sql += alias + ".id = ?";
      out.params.push_back(v);
    } else {
      Prefix prefix = takePrefix(v);
      auto range = parseDateRange(v);
      if (!range) return badValue(c, v, "is not a date");
      out.append(dateCondition(prefix, alias + ".last_updated", "(" + alias + ".last_updated + 1)",
                               *range, now_ms));
    }
  }
  if (first) return SqlPart{};
  out.sql += ")";
  if (c.modifier == "not" || c.modifier == "missing") {
    if (c.modifier == "missing") return SqlPart{c.values[0] == "true" ? "(1 = 0)" : "(1 = 1)", {}};
    out.sql = "NOT " + out.sql;
  }
  return out;
}

// _has:Source:ref:param=value: the resources a matching Source refers to through `ref`.
Result<SqlPart> reverseChainCondition(const Clause& c, const Types& types, const std::string& alias,
                                      int64_t now_ms) {
  CHTLINK_ASSIGN_OR_RETURN(SqlPart inner,
                           clauseCondition(*c.has->inner, {c.has->source_type}, "h", now_ms));
  if (inner.sql.empty()) return SqlPart{};
  SqlPart p{alias +
                ".id IN (SELECT hx.target_id FROM fhir_idx_reference hx WHERE hx.type = ? "
                "AND hx.param = ? AND ",
            {c.has->source_type, c.def->code}};
  p.sql += typeCondition("hx.target_type", types, p.params);
  p.sql += "hx.pk IN (SELECT h.pk FROM fhir_resource h WHERE ";
  if (!inner.index_driven) {
    p.sql += "h.type = ? AND ";
    p.params.emplace_back(c.has->source_type);
  }
  p.sql += "h.deleted = 0 AND ";
  p.append(inner);
  p.sql += "))";
  // Matches by id, not pk: the caller's type condition must stay to reach its (type, id) index.
  p.index_driven = false;
  return p;
}

Result<SqlPart> clauseCondition(const Clause& c, const Types& types, const std::string& alias,
                                int64_t now_ms) {
  if (c.has) return reverseChainCondition(c, types, alias, now_ms);
  if (c.def->code == "_id" || c.def->code == "_lastUpdated")
    return columnCondition(c, alias, now_ms);
  const char* table = tableOf(c.def->type);
  std::string param = c.def->code;
  if (c.modifier == "identifier") {
    table = "fhir_idx_token";
    param += ":identifier";
  }
  SqlPart head{alias + ".pk IN (SELECT x.pk FROM " + std::string(table) + " x WHERE ", {}};
  head.sql += typeCondition("x.type", types, head.params) + "x.param = ?";
  head.params.emplace_back(param);
  head.index_driven = true;
  if (c.modifier == "missing") {
    SqlPart p = head;
    p.sql += ")";
    if (c.values.at(0) == "true") {
      p.sql = alias + ".pk NOT IN" + p.sql.substr(alias.size() + 6);
      p.index_driven = false;
    }
    return p;
  }
  if (!c.chained.empty()) {
    // param[:T].child=value: references to resources of a target type matching the child clause.
    SqlPart p = head;
    p.sql += " AND (";
    bool first = true;
    for (const auto& [target, chained] : c.chained) {
      CHTLINK_ASSIGN_OR_RETURN(SqlPart inner, clauseCondition(*chained, {target}, "c", now_ms));
      if (inner.sql.empty()) return SqlPart{};
      p.sql += first ? "" : " OR ";
      first = false;
      p.sql += "(x.target_type = ? AND x.target_id IN (SELECT c.id FROM fhir_resource c WHERE ";
      p.params.push_back(target);
      if (!inner.index_driven) {
        p.sql += "c.type = ? AND ";
        p.params.push_back(target);
      }
      p.sql += "c.deleted = 0 AND ";
      p.append(inner);
      p.sql += "))";
    }
    p.sql += "))";
    return p;
  }
  Clause value_clause = c;
  SearchParamDef identifier_def{"identifier", "", ParamType::Token, "", {}, {}};
  if (c.modifier == "identifier") {
    value_clause.def = &identifier_def;
    value_clause.modifier.clear();
  }
  SqlPart values{" AND (", {}};
  bool first = true;
  for (const auto& v : c.values) {
    if (v.empty()) continue;
    if (!first) values.sql += " OR ";
    first = false;
    CHTLINK_ASSIGN_OR_RETURN(SqlPart cond, valueCondition(value_clause, v, now_ms));
    values.append(cond);
  }
  if (first) return SqlPart{};
  values.sql += ")";
  SqlPart p = head;
  if (c.modifier == "not") {
    p.sql = alias + ".pk NOT IN" + p.sql.substr(alias.size() + 6);
    p.index_driven = false;
  }
  p.append(values);
  p.sql += ")";
  return p;
}

}  // namespace

Result<NumberRange> parseNumberRange(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
    return invalidArgument("\"" + text + "\" is not a number", "invalid_search");
  // Implicit precision: half a unit of the last written digit.
  int decimals = 0;
  auto dot = text.find('.');
  auto exp = text.find_first_of("eE");
  if (dot != std::string::npos)
    decimals = static_cast<int>((exp == std::string::npos ? text.size() : exp) - dot - 1);
  double half = 0.5 * std::pow(10.0, -decimals);
  if (exp != std::string::npos) half *= std::pow(10.0, std::atoi(text.c_str() + exp + 1));
  return NumberRange{v, v - half, v + half};
}

Result<SqlPart> buildConditions(const SearchQuery& query, const std::string& alias,
                                int64_t now_ms) {
  SqlPart out;
  const Types types = query.type.empty() ? query.types : Types{query.type};
  for (const auto& clause : query.clauses) {
    CHTLINK_ASSIGN_OR_RETURN(SqlPart part, clauseCondition(clause, types, alias, now_ms));
    if (part.sql.empty()) continue;
    out.sql += " AND ";
    out.append(part);
  }
  if (query.compartment) {
    // Resources whose compartment parameters refer to the owner (Patient/1).
    const Compartment& c = *query.compartment;
    SqlPart part{" AND " + alias + ".pk IN (SELECT x.pk FROM fhir_idx_reference x WHERE ", {}};
    part.sql += typeCondition("x.type", types, part.params) + "x.param IN (";
    for (size_t i = 0; i < c.params.size(); ++i) {
      part.sql += i == 0 ? "?" : ", ?";
      part.params.emplace_back(c.params[i]);
    }
    part.sql += ") AND x.target_type = ? AND x.target_id = ?)";
    part.params.emplace_back(c.type);
    part.params.emplace_back(c.id);
    part.index_driven = true;
    out.append(part);
  }
  return out;
}

SqlPart buildOrderBy(const SearchQuery& query, const std::string& alias) {
  SqlPart out;
  for (const auto& key : query.sort) {
    std::string dir = key.descending ? " DESC" : " ASC";
    std::string expr;
    if (key.def->code == "_id") {
      expr = alias + ".id";
    } else if (key.def->code == "_lastUpdated") {
      expr = alias + ".last_updated";
    } else {
      const char* column = "low";
      switch (key.def->type) {
        case ParamType::String:
          column = "normalized";
          break;
        case ParamType::Token:
          column = "code";
          break;
        case ParamType::Reference:
          column = "target_id";
          break;
        case ParamType::Uri:
          column = "value";
          break;
        default:
          break;
      }
      expr = std::string("(SELECT ") + (key.descending ? "MAX" : "MIN") + "(s." + column +
             ") FROM " + tableOf(key.def->type) + " s WHERE s.pk = " + alias +
             ".pk AND s.param = ?)";
      // Resources without a value sort last in both directions.
      out.sql += "(CASE WHEN " + expr + " IS NULL THEN 1 ELSE 0 END), ";
      out.params.push_back(key.def->code);
      out.params.push_back(key.def->code);
    }
    out.sql += expr + dir + ", ";
  }
  out.sql += alias + ".pk";
  return out;
}

}  // namespace chtlink::fhir::search
