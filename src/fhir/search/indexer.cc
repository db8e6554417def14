#include "fhir/search/indexer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>

#include "fhir/search/date_range.h"

namespace chtlink::fhir::search {
namespace {

// Base letter of U+00C0..U+00FF, or 0 to keep the character.
char latin1Base(uint32_t cp) {
  static constexpr const char* kMap =
      "aaaaaaaceeeeiiii"     // C0-CF
      "dnooooo\0ouuuuy\0s"   // D0-DF
      "aaaaaaaceeeeiiii"     // E0-EF
      "dnooooo\0ouuuuy\0y";  // F0-FF
  if (cp < 0xC0 || cp > 0xFF) return 0;
  return kMap[cp - 0xC0];
}

void addString(const std::string& param, const Json& node, IndexRows& rows) {
  if (node.is_string()) {
    const auto& s = node.get_ref<const std::string&>();
    if (!s.empty()) rows.strings.push_back({param, normalizeString(s), s});
  } else if (node.is_array()) {
    for (const auto& item : node) addString(param, item, rows);
  } else if (node.is_object()) {
    // HumanName, Address and similar: every string part (given, line, city, ...).
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key() == "use" || it.key() == "type" || it.key() == "id" || it.key() == "extension" ||
          it.key() == "period")
        continue;
      if (it->is_string() || it->is_array()) addString(param, *it, rows);
    }
  }
}

std::string text(const Json& node, const char* key) {
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void addCoding(const std::string& param, const Json& coding, const std::string& extra_text,
               IndexRows& rows) {
  if (!coding.is_object()) return;
  auto sys = coding.find("system");
  bool has_system = sys != coding.end() && sys->is_string();
  std::string code = text(coding, "code");
  std::string display = text(coding, "display");
  if (code.empty() && !has_system) {
    if (!display.empty() || !extra_text.empty())
      rows.tokens.push_back({param, false, "", "", normalizeString(extra_text + " " + display)});
    return;
  }
  rows.tokens.push_back({param, has_system, has_system ? sys->get<std::string>() : "", code,
                         normalizeString(display.empty() ? extra_text : display)});
}

void addToken(const std::string& param, const Json& node, IndexRows& rows) {
  if (node.is_string()) {
    rows.tokens.push_back({param, false, "", node.get<std::string>(), ""});
  } else if (node.is_boolean()) {
    rows.tokens.push_back({param, false, "", node.get<bool>() ? "true" : "false", ""});
  } else if (node.is_number()) {
    rows.tokens.push_back({param, false, "", node.dump(), ""});
  } else if (node.is_object()) {
    auto coding = node.find("coding");
    if (coding != node.end() || (node.contains("text") && !node.contains("value"))) {
      std::string cc_text = text(node, "text");
      bool any = false;
      if (coding != node.end() && coding->is_array()) {
        for (const auto& c : *coding) {
          addCoding(param, c, cc_text, rows);
          any = true;
        }
      }
      if (!any && !cc_text.empty())
        rows.tokens.push_back({param, false, "", "", normalizeString(cc_text)});
      return;
    }
    if (node.contains("value")) {
      // Identifier or ContactPoint: system|value; Identifier.type.text for :text.
      auto sys = node.find("system");
      bool has_system = sys != node.end() && sys->is_string();
      const Json& value = node["value"];
      std::string type_text;
      if (auto t = node.find("type"); t != node.end() && t->is_object())
        type_text = text(*t, "text");
      rows.tokens.push_back({param, has_system, has_system ? sys->get<std::string>() : "",
                             value.is_string() ? value.get<std::string>() : value.dump(),
                             normalizeString(type_text)});
      return;
    }
    addCoding(param, node, "", rows);
  }
}

void addReference(const std::string& param, const Json& node, IndexRows& rows) {
  std::string ref;
  if (node.is_string()) {
    ref = node.get<std::string>();  // canonical
  } else if (node.is_object()) {
    if (auto ident = node.find("identifier"); ident != node.end() && ident->is_object()) {
      IndexRows tmp;
      addToken(param + ":identifier", *ident, tmp);
      for (auto& t : tmp.tokens) rows.tokens.push_back(std::move(t));
    }
    ref = text(node, "reference");
  }
  if (ref.empty() || ref[0] == '#') return;
  ReferenceEntry entry{param, "", "", ref};
  std::string path = ref;
  if (auto hist = path.find("/_history/"); hist != std::string::npos) path.resize(hist);
  if (auto bar = path.find('|'); bar != std::string::npos) path.resize(bar);  // canonical|version
  if (path.find('?') == std::string::npos && path.rfind("urn:", 0) != 0) {
    auto last = path.rfind('/');
    if (last != std::string::npos && last > 0 && last + 1 < path.size()) {
      auto prev = path.rfind('/', last - 1);
      size_t start = prev == std::string::npos ? 0 : prev + 1;
      std::string type = path.substr(start, last - start);
      if (!type.empty() && std::isupper(static_cast<unsigned char>(type[0]))) {
        entry.target_type = type;
        entry.target_id = path.substr(last + 1);
      }
    }
  }
  rows.references.push_back(std::move(entry));
}

std::optional<DateRange> dateOf(const Json& node) {
  return node.is_string() ? parseDateRange(node.get_ref<const std::string&>()) : std::nullopt;
}

void addDate(const std::string& param, const Json& node, IndexRows& rows) {
  if (node.is_string()) {
    if (auto r = dateOf(node)) rows.dates.push_back({param, r->low, r->high});
  } else if (node.is_object()) {
    if (node.contains("start") || node.contains("end")) {  // Period
      DateRange range;
      if (auto it = node.find("start"); it != node.end())
        if (auto r = dateOf(*it)) range.low = r->low;
      if (auto it = node.find("end"); it != node.end())
        if (auto r = dateOf(*it)) range.high = r->high;
      rows.dates.push_back({param, range.low, range.high});
    } else if (auto ev = node.find("event"); ev != node.end() && ev->is_array()) {  // Timing
      DateRange range{kMaxMillis, kMinMillis};
      for (const auto& e : *ev) {
        if (auto r = dateOf(e)) {
          range.low = std::min(range.low, r->low);
          range.high = std::max(range.high, r->high);
        }
      }
      if (range.low < range.high) rows.dates.push_back({param, range.low, range.high});
    }
  }
}

std::optional<double> numberOf(const Json& node, const char* key) {
  auto it = node.find(key);
  if (it == node.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

void addQuantity(const std::string& param, const Json& node, IndexRows& rows) {
  if (node.is_number()) {
    double v = node.get<double>();
    rows.numbers.push_back({param, v, v, "", "", ""});
  } else if (node.is_object()) {
    if (auto v = numberOf(node, "value")) {
      rows.numbers.push_back(
          {param, *v, *v, text(node, "system"), text(node, "code"), text(node, "unit")});
    } else if (node.contains("low") || node.contains("high")) {  // Range
      const Json empty = Json::object();
      const Json& low = node.contains("low") ? node["low"] : empty;
      const Json& high = node.contains("high") ? node["high"] : empty;
      const Json& unit_of = low.contains("value") ? low : high;
      rows.numbers.push_back({param, numberOf(low, "value").value_or(-HUGE_VAL),
                              numberOf(high, "value").value_or(HUGE_VAL), text(unit_of, "system"),
                              text(unit_of, "code"), text(unit_of, "unit")});
    }
  }
}

void addUri(const std::string& param, const Json& node, IndexRows& rows) {
  if (node.is_string()) rows.uris.push_back({param, node.get<std::string>()});
}

}  // namespace

std::string normalizeString(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += static_cast<char>(std::tolower(c));
    } else if ((c == 0xC3) && i + 1 < text.size()) {
      uint32_t cp = 0xC0 + (static_cast<unsigned char>(text[i + 1]) & 0x3F);
      if (char base = latin1Base(cp)) {
        out += base;
        ++i;
      } else {
        out += text[i];
      }
    } else {
      out += text[i];
    }
  }
  return out;
}

Indexer::Indexer(std::shared_ptr<const Definitions> definitions)
    : definitions_(std::move(definitions)) {
  for (const auto& type : definitions_->resourceTypes()) {
    for (const SearchParamDef* def : definitions_->forType(type)) {
      if (compiled_.count(def) || skipped_.count(def->url)) continue;
      if (def->type == ParamType::Composite || def->type == ParamType::Special) {
        skipped_[def->url] =
            std::string(paramTypeName(def->type)) + " parameters are not indexed yet";
        continue;
      }
      if (def->code == "_id" || def->code == "_lastUpdated") continue;  // resource columns
      if (def->expression.empty()) {
        skipped_[def->url] = "no expression";
        continue;
      }
      auto path = FhirPath::compile(def->expression);
      if (!path.has_value()) {
        skipped_[def->url] = path.error().message;
        continue;
      }
      compiled_.emplace(def, std::move(path).value());
    }
  }
  // Parameters of a type with the same type and the same expression branch produce the same
  // rows: index the first (by code) only. Each row costs a random page write per create.
  for (const auto& type : definitions_->resourceTypes()) {
    std::map<std::string, const SearchParamDef*> first;
    for (const SearchParamDef* def : definitions_->forType(type)) {
      if (!compiled_.count(def)) continue;
      std::vector<std::string> branches;
      std::string_view expr = def->expression;
      while (true) {
        auto bar = expr.find('|');
        std::string_view branch = expr.substr(0, bar);
        while (!branch.empty() && branch.front() == ' ') branch.remove_prefix(1);
        while (!branch.empty() && branch.back() == ' ') branch.remove_suffix(1);
        std::string_view path = branch;
        while (!path.empty() && path.front() == '(') path.remove_prefix(1);
        if (path.substr(0, type.size() + 1) == type + ".") branches.emplace_back(branch);
        if (bar == std::string_view::npos) break;
        expr.remove_prefix(bar + 1);
      }
      if (branches.empty()) continue;
      std::sort(branches.begin(), branches.end());
      std::string key(paramTypeName(def->type));
      for (const auto& b : branches) key += "|" + b;
      auto [it, inserted] = first.emplace(key, def);
      if (!inserted) aliases_[type].emplace(def, it->second);
    }
  }
}

const SearchParamDef& Indexer::storedAs(std::string_view type, const SearchParamDef& def) const {
  auto t = aliases_.find(type);
  if (t == aliases_.end()) return def;
  auto it = t->second.find(&def);
  return it == t->second.end() ? def : *it->second;
}

bool Indexer::supports(const SearchParamDef& def) const {
  return compiled_.count(&def) > 0 || def.code == "_id" || def.code == "_lastUpdated";
}

std::vector<std::pair<const SearchParamDef*, ReferenceEntry>> Indexer::references(
    const Json& resource, std::string_view type) const {
  std::vector<std::pair<const SearchParamDef*, ReferenceEntry>> out;
  for (const SearchParamDef* def : definitions_->forType(type)) {
    if (def->type != ParamType::Reference) continue;
    auto it = compiled_.find(def);
    if (it == compiled_.end() || &storedAs(type, *def) != def) continue;
    IndexRows rows;
    // Reference objects only: canonical strings are not references to check.
    for (const PathValue& v : it->second.evaluate(resource, type))
      if (v.node->is_object()) addReference(def->code, *v.node, rows);
    for (auto& r : rows.references) out.emplace_back(def, std::move(r));
  }
  return out;
}

IndexRows Indexer::index(const Json& resource, std::string_view type) const {
  IndexRows rows;
  for (const SearchParamDef* def : definitions_->forType(type)) {
    auto it = compiled_.find(def);
    if (it == compiled_.end() || &storedAs(type, *def) != def) continue;
    for (const PathValue& v : it->second.evaluate(resource, type)) {
      const Json& node = *v.node;
      switch (def->type) {
        case ParamType::String:
          addString(def->code, node, rows);
          break;
        case ParamType::Token:
          addToken(def->code, node, rows);
          break;
        case ParamType::Reference:
          addReference(def->code, node, rows);
          break;
        case ParamType::Date:
          addDate(def->code, node, rows);
          break;
        case ParamType::Number:
        case ParamType::Quantity:
          addQuantity(def->code, node, rows);
          break;
        case ParamType::Uri:
          addUri(def->code, node, rows);
          break;
        case ParamType::Composite:
        case ParamType::Special:
          break;
      }
    }
  }
  return rows;
}

}  // namespace chtlink::fhir::search
