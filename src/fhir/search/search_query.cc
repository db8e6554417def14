#include "fhir/search/search_query.h"

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
  auto ignore = [&](const std::string& name, const std::string& why) -> Status {
    if (options.strict) return badParam(name, why);
    q.ignored.push_back("parameter " + name + " ignored: " + why);
    return ok();
  };
  for (const auto& [raw_name, value] : params) {
    if (isResultParam(raw_name)) continue;
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
        sk.def = defs.find(type, key);
        if (!sk.def || !indexer.supports(*sk.def)) {
          return badParam(
              "_sort", "unknown or unindexed parameter \"" + key + "\" for " + std::string(type));
        }
        q.sort.push_back(sk);
      }
      q.applied.emplace_back(raw_name, value);
      continue;
    }
    if (raw_name == "_include" || raw_name == "_revinclude" || raw_name == "_include:iterate" ||
        raw_name == "_revinclude:iterate") {
      Include inc;
      inc.reverse = raw_name.rfind("_revinclude", 0) == 0;
      std::string v = value;
      auto c1 = v.find(':');
      if (v == "*") {
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
          if (!inc.def || inc.def->type != ParamType::Reference)
            return badParam(raw_name, inc.source_type + " has no reference parameter " + code);
        }
      }
      if (!inc.reverse && inc.source_type != type) {
        CHTLINK_TRY(
            ignore(raw_name, "source type " + inc.source_type + " is not " + std::string(type)));
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
    const SearchParamDef* def = defs.find(type, name);
    if (!def) {
      CHTLINK_TRY(ignore(raw_name, "unknown for " + std::string(type)));
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
    clause.def = def;
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
        chained->def = cdef;
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
