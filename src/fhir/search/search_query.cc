#include "fhir/search/search_query.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace chtlink::fhir::search {
namespace {

bool isResultParam(std::string_view name) {
  return name == "_getpages" || name == "_getpagesoffset" || name == "_bundletype" ||
         name == "_format" || name == "_pretty";
}

Error badParam(const std::string& name, const std::string& why) {
  return invalidArgument("search parameter " + name + ": " + why, "invalid_search");
}

bool validModifier(ParamType type, std::string_view modifier) {
  if (modifier.empty() || modifier == "missing") return true;
  switch (type) {
    case ParamType::String:
      return modifier == "exact" || modifier == "contains";
    case ParamType::Token:
      return modifier == "not" || modifier == "text";
    case ParamType::Uri:
      return modifier == "below" || modifier == "above";
    case ParamType::Reference:
      return modifier == "identifier" || std::isupper(static_cast<unsigned char>(modifier[0]));
    default:
      return false;
  }
}

}  // namespace

std::vector<std::string> splitValues(std::string_view value) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      char n = value[i + 1];
      if (n == ',' || n == '$' || n == '\\') {
        out.back() += n;
        ++i;
        continue;
      }
    }
    if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

Prefix takePrefix(std::string& value) {
  static constexpr std::pair<std::string_view, Prefix> kPrefixes[] = {
      {"eq", Prefix::Eq}, {"ne", Prefix::Ne}, {"gt", Prefix::Gt},
      {"lt", Prefix::Lt}, {"ge", Prefix::Ge}, {"le", Prefix::Le},
      {"sa", Prefix::Sa}, {"eb", Prefix::Eb}, {"ap", Prefix::Ap}};
  if (value.size() > 2) {
    for (const auto& [text, prefix] : kPrefixes) {
      if (value.compare(0, 2, text) == 0) {
        value.erase(0, 2);
        return prefix;
      }
    }
  }
  return Prefix::Eq;
}

Result<SearchQuery> parseSearch(const Indexer& indexer, std::string_view type,
                                const std::vector<std::pair<std::string, std::string>>& params,
                                const ParseOptions& options) {
  const Definitions& defs = indexer.definitions();
  SearchQuery q;
  q.type = std::string(type);
  const std::string searched = type.empty() ? std::string("the system") : std::string(type);
  if (type.empty()) {
    // _type first: every other parameter is resolved against the types it names.
    for (const auto& [name, value] : params) {
      if (name != "_type") continue;
      for (auto& t : splitValues(value)) {
        if (t.empty()) continue;
        if (!defs.isResourceType(t))
          return badParam("_type",
                          "unknown resource type "
                          " + t + "
                          "");
        if (std::find(q.types.begin(), q.types.end(), t) == q.types.end()) q.types.push_back(t);
      }
      q.applied.emplace_back(name, value);
    }
  }
  // The definition of parameter `code` for the searched type(s): on a system search, one
  // with the same code and type in every type of _type, or a common one (_id, _tag...).
  auto findDef = [&](const std::string& code) -> const SearchParamDef* {
    if (!type.empty()) return defs.find(type, code);
    if (q.types.empty()) {
      const SearchParamDef* def = defs.find(defs.resourceTypes().front(), code);
      if (!def) return nullptr;
      for (const auto& b : def->bases)
        if (b == "Resource" || b == "DomainResource") return def;
      return nullptr;
    }
    const SearchParamDef* first = nullptr;
    for (const auto& t : q.types) {
      const SearchParamDef* def = defs.find(t, code);
      if (!def || (first && def->type != first->type)) return nullptr;
      if (!first) first = def;
    }
    return first;
  };
  // Searches use the rows of the parameter indexed in `def`'s place (Indexer::storedAs).
  auto stored = [&](const SearchParamDef* def) -> const SearchParamDef* {
    if (!type.empty()) return &indexer.storedAs(type, *def);
    if (!q.types.empty()) return &indexer.storedAs(q.types.front(), *def);
    return def;
  };
  auto isSearchedType = [&](const std::string& t) {
    return t == type || std::find(q.types.begin(), q.types.end(), t) != q.types.end();
  };
  auto ignore = [&](const std::string& name, const std::string& why) -> Status {
    if (options.strict) return badParam(name, why);
    q.ignored.push_back("parameter " + name + " ignored: " + why);
    return ok();
  };
  for (const auto& [raw_name, value] : params) {
    if (isResultParam(raw_name) || (type.empty() && raw_name == "_type")) continue;
    if (raw_name == "_compartment") {
      auto slash = value.find('/');
      Compartment c;
      c.type = value.substr(0, slash);
      c.id = slash == std::string::npos ? "" : value.substr(slash + 1);
      if (type.empty() || c.id.empty() || !defs.isCompartment(c.type))
        return badParam(raw_name, "expected a compartment like Patient/123");
      for (const auto& code : defs.compartmentParams(c.type, type)) {
        const SearchParamDef* def = defs.find(type, code);
        c.params.push_back(def ? indexer.storedAs(type, *def).code : code);
      }
      if (c.params.empty())
        return badParam(raw_name, std::string(type) + " is not in the " + c.type + " compartment");
      q.compartment = std::move(c);
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    if (raw_name.rfind("_has:", 0) == 0) {
      // _has:Source:ref:param[:modifier]=value
      std::vector<std::string> parts;
      for (size_t start = 0; start <= raw_name.size();) {
        auto colon = raw_name.find(':', start);
        if (colon == std::string::npos) colon = raw_name.size();
        parts.push_back(raw_name.substr(start, colon - start));
        start = colon + 1;
      }
      if (parts.size() < 4)
        return badParam(raw_name, "expected _has:Type:reference:parameter=value");
      if (parts[3] == "_has") {
        CHTLINK_TRY(ignore(raw_name, "nested _has is not supported"));
        continue;
      }
      if (type.empty()) {
        CHTLINK_TRY(ignore(raw_name, "_has needs a resource type to search"));
        continue;
      }
      const std::string& source = parts[1];
      if (!defs.isResourceType(source))
        return badParam(raw_name, "unknown resource type " + source);
      const SearchParamDef* ref = defs.find(source, parts[2]);
      if (!ref || ref->type != ParamType::Reference || !indexer.supports(*ref))
        return badParam(raw_name, source + " has no reference parameter " + parts[2]);
      const SearchParamDef* inner_def = defs.find(source, parts[3]);
      std::string inner_mod = parts.size() > 4 ? parts[4] : "";
      if (!inner_def || !indexer.supports(*inner_def) ||
          !validModifier(inner_def->type, inner_mod)) {
        CHTLINK_TRY(ignore(raw_name, "parameter " + parts[3] + " of " + source + " not supported"));
        continue;
      }
      Clause clause;
      clause.def = &indexer.storedAs(source, *ref);
      auto inner = std::make_shared<Clause>();
      inner->def = &indexer.storedAs(source, *inner_def);
      inner->modifier = inner_mod;
      inner->values = splitValues(value);
      clause.has = Clause::ReverseChain{source, std::move(inner)};
      q.clauses.push_back(std::move(clause));
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    if (value.find_first_not_of(" \t") == std::string::npos && raw_name != "_elements") continue;
    if (raw_name == "_count") {
      int n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 0)
        return badParam("_count", "expected a non-negative integer, got \"" + value + "\"");
      q.count = n;
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    if (raw_name == "_total") {
      if (value != "none" && value != "estimate" && value != "accurate")
        return badParam("_total", "expected none, estimate or accurate");
      q.total = value;
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    if (raw_name == "_summary") {
      if (value == "count")
        q.summary = Summary::Count;
      else if (value == "data")
        q.summary = Summary::Data;
      else if (value == "text")
        q.summary = Summary::Text;
      else if (value == "false")
        q.summary = Summary::False;
      else {
        CHTLINK_TRY(ignore("_summary", "only count, data, text and false are supported"));
        continue;
      }
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    if (raw_name == "_elements") {
      for (auto& e : splitValues(value))
        if (!e.empty()) q.elements.push_back(e);
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    if (raw_name == "_sort") {
      for (auto key : splitValues(value)) {
        SortKey sk;
        if (!key.empty() && key[0] == '-') {
          sk.descending = true;
          key.erase(0, 1);
        }
        sk.def = findDef(key);
        if (sk.def) sk.def = stored(sk.def);
        if (!sk.def || !indexer.supports(*sk.def)) {
          return badParam("_sort",
                          "unknown or unindexed parameter \"" + key + "\" for " + searched);
        }
        q.sort.push_back(sk);
      }
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    if (raw_name == "_include" || raw_name == "_revinclude" || raw_name == "_include:iterate" ||
        raw_name == "_revinclude:iterate" || raw_name == "_include:recurse" ||
        raw_name == "_revinclude:recurse") {
      Include inc;
      inc.reverse = raw_name.rfind("_revinclude", 0) == 0;
      // :recurse is the STU3 name of :iterate.
      inc.iterate = raw_name.find(':') != std::string::npos;
      std::string v = value;
      auto c1 = v.find(':');
      if (v == "*") {
        if (type.empty()) {
          CHTLINK_TRY(ignore(raw_name, "* needs a resource type to search"));
          continue;
        }
        inc.source_type = std::string(type);
      } else {
        if (c1 == std::string::npos) return badParam(raw_name, "expected Source:param[:Target]");
        inc.source_type = v.substr(0, c1);
        auto c2 = v.find(':', c1 + 1);
        std::string code =
            v.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
        if (c2 != std::string::npos) inc.target_type = v.substr(c2 + 1);
        if (!defs.isResourceType(inc.source_type))
          return badParam(raw_name, "unknown resource type " + inc.source_type);
        if (code != "*") {
          inc.def = defs.find(inc.source_type, code);
          if (inc.def) inc.def = &indexer.storedAs(inc.source_type, *inc.def);
          if (!inc.def || inc.def->type != ParamType::Reference)
            return badParam(raw_name, inc.source_type + " has no reference parameter " + code);
        }
      }
      if (!inc.reverse && !inc.iterate && !isSearchedType(inc.source_type)) {
        CHTLINK_TRY(ignore(raw_name, "source type " + inc.source_type + " is not " + searched));
        continue;
      }
      q.includes.push_back(inc);
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    // name[:modifier][.chain]
    std::string name = raw_name;
    std::string chain;
    if (auto dot = name.find('.'); dot != std::string::npos) {
      chain = name.substr(dot + 1);
      name.resize(dot);
    }
    std::string modifier;
    if (auto colon = name.find(':'); colon != std::string::npos) {
      modifier = name.substr(colon + 1);
      name.resize(colon);
    }
    const SearchParamDef* def = findDef(name);
    if (!def) {
      CHTLINK_TRY(ignore(raw_name, type.empty() && !q.types.empty()
                                       ? "not a parameter of every type in _type"
                                       : "unknown for " + searched));
      continue;
    }
    if (!indexer.supports(*def)) {
      CHTLINK_TRY(
          ignore(raw_name, std::string(paramTypeName(def->type)) + " parameter not supported"));
      continue;
    }
    if (!validModifier(def->type, modifier)) {
      CHTLINK_TRY(ignore(raw_name, "modifier :" + modifier + " not supported"));
      continue;
    }
    if (modifier == "missing" && value != "true" && value != "false")
      return badParam(raw_name, "expected true or false");
    Clause clause;
    clause.def = stored(def);
    clause.modifier = modifier;
    if (!chain.empty()) {
      if (def->type != ParamType::Reference)
        return badParam(raw_name, "chaining needs a reference parameter");
      std::vector<std::string> targets;
      if (!modifier.empty())
        targets.push_back(modifier);
      else
        targets = def->targets;
      std::string chain_mod;
      if (auto colon = chain.find(':'); colon != std::string::npos) {
        chain_mod = chain.substr(colon + 1);
        chain.resize(colon);
      }
      if (chain.find('.') != std::string::npos) {
        CHTLINK_TRY(ignore(raw_name, "only one level of chaining is supported"));
        continue;
      }
      for (const auto& target : targets) {
        if (!defs.isResourceType(target))
          return badParam(raw_name, "unknown target type " + target);
        const SearchParamDef* cdef = defs.find(target, chain);
        if (!cdef || !indexer.supports(*cdef) || !validModifier(cdef->type, chain_mod)) continue;
        auto chained = std::make_shared<Clause>();
        chained->def = &indexer.storedAs(target, *cdef);
        chained->modifier = chain_mod;
        chained->values = splitValues(value);
        clause.chained.emplace_back(target, std::move(chained));
      }
      if (clause.chained.empty()) {
        CHTLINK_TRY(ignore(raw_name,
                           "chained parameter " + chain + " is not supported by the target types"));
        continue;
      }
      clause.modifier.clear();
    } else {
      clause.values = splitValues(value);
    }
    q.clauses.push_back(std::move(clause));
    q.applied.emplace_back(raw_name, value);
  }
  return q;
}

}  // namespace chtlink::fhir::search
