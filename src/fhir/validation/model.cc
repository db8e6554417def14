#include "fhir/validation/model.h"

#include <cstdlib>

#include "fhir/validation/fhirpath.h"
#include "fhir/validation/validation_tables_internal.h"

namespace chtlink::fhir::validation {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string capitalized(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

TypeKind kindOf(std::string_view kind) {
  if (kind == "primitive-type") return TypeKind::Primitive;
  if (kind == "resource") return TypeKind::Resource;
  return TypeKind::Complex;
}

}  // namespace

std::string_view systemTypeOf(std::string_view t) {
  if (t == "boolean") return "Boolean";
  if (t == "integer" || t == "positiveInt" || t == "unsignedInt") return "Integer";
  if (t == "decimal") return "Decimal";
  if (t == "date") return "Date";
  if (t == "dateTime" || t == "instant") return "DateTime";
  if (t == "time") return "Time";
  if (t == "string" || t == "code" || t == "id" || t == "uri" || t == "url" || t == "canonical" ||
      t == "oid" || t == "uuid" || t == "markdown" || t == "base64Binary" || t == "xhtml")
    return "String";
  return "";
}

bool StructureDef::isA(std::string_view n) const {
  for (const StructureDef* t = this; t; t = t->base)
    if (t->name == n || (!t->profile && t->type == n)) return true;
  return false;
}

void Constraint::compile() const {
  std::call_once(compiled_once_, [this] {
    auto compiled = Expression::compile(expression);
    if (compiled.has_value())
      compiled_ = std::move(compiled).value();
    else
      compile_error_ = compiled.error().message;
  });
}

const Expression* Constraint::compiled() const {
  compile();
  return compiled_.get();
}

const std::string& Constraint::compileError() const {
  compile();
  return compile_error_;
}

const StructureDef* Model::type(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

const StructureDef* Model::profile(std::string_view url) const {
  std::string key(url.substr(0, url.find('|')));
  auto it = by_url_.find(key);
  return it == by_url_.end() ? nullptr : it->second;
}

const ElementDef* Model::childrenOf(const ElementDef* element, const StructureDef* type) const {
  if (element && !element->children.empty()) return element;
  if (element && element->content_reference) return element->content_reference;
  if (type && type->kind != TypeKind::Primitive) return type->root;
  return nullptr;
}

std::shared_ptr<const Model> Model::load() {
  namespace g = generated;
  auto model = std::make_shared<Model>();
  Model& m = *model;

  for (size_t i = 0; i < g::kConstraintCount; ++i) {
    auto c = std::make_unique<Constraint>();
    c->key = g::kConstraints[i].key;
    c->is_ele1 = c->key == "ele-1";
    c->is_error = std::string_view(g::kConstraints[i].severity) == "error";
    c->human = g::kConstraints[i].human ? g::kConstraints[i].human : "";
    c->expression = g::kConstraints[i].expression;
    m.constraints_.push_back(std::move(c));
  }

  for (size_t i = 0; i < g::kValueSetCount; ++i) {
    const auto& raw = g::kValueSets[i];
    auto vs = std::make_unique<ValueSet>();
    vs->url = raw.url;
    vs->expandable = raw.expandable;
    for (uint32_t k = 0; k < raw.code_count; ++k) {
      const auto& code = g::kCodes[raw.first_code + k];
      vs->coded.insert(std::string(code.system) + "|" + code.code);
      vs->codes.insert(code.code);
    }
    m.value_sets_.push_back(std::move(vs));
  }

  // Structures and their elements; types are linked once every structure exists.
  std::vector<std::vector<std::string>> raw_types;
  for (size_t s = 0; s < g::kStructureCount; ++s) {
    const auto& rs = g::kStructures[s];
    auto sd = std::make_unique<StructureDef>();
    sd->name = rs.name;
    sd->url = rs.url;
    sd->type = rs.type;
    sd->kind = kindOf(rs.kind);
    sd->profile = rs.profile;
    sd->is_abstract = rs.is_abstract;
    std::unordered_map<std::string, ElementDef*> by_path;
    for (uint32_t k = 0; k < rs.element_count; ++k) {
      const auto& re = g::kElements[rs.first_element + k];
      auto e = std::make_unique<ElementDef>();
      e->path = re.path;
      e->min = re.min;
      e->max = re.max;
      e->owner = sd.get();
      e->is_modifier = re.is_modifier;
      std::string_view last = e->path;
      if (auto dot = last.rfind('.'); dot != std::string_view::npos) last.remove_prefix(dot + 1);
      e->choice = last.size() > 3 && last.substr(last.size() - 3) == "[x]";
      e->name = std::string(e->choice ? last.substr(0, last.size() - 3) : last);
      e->strength = static_cast<BindingStrength>(re.binding_strength);
      if (re.value_set >= 0) e->value_set = m.value_sets_[static_cast<size_t>(re.value_set)].get();
      if (re.fixed_json) e->fixed = Json::parse(re.fixed_json);
      if (re.pattern_json) e->pattern = Json::parse(re.pattern_json);
      for (auto idx : split(re.constraints, ' '))
        e->constraints.push_back(
            m.constraints_[std::strtoul(std::string(idx).c_str(), nullptr, 10)].get());
      for (auto t : split(re.types, ' ')) {
        TypeRef ref;
        std::string_view rest = t;
        auto colon = rest.find(':');
        if (colon != std::string_view::npos) {
          for (auto target : split(rest.substr(colon + 1), ',')) ref.targets.emplace_back(target);
          rest = rest.substr(0, colon);
        }
        auto at = rest.find('@');
        if (at != std::string_view::npos) {
          raw_types.push_back({std::string(rest.substr(at + 1))});
          rest = rest.substr(0, at);
        } else {
          raw_types.push_back({});
        }
        ref.code = std::string(rest);
        e->types.push_back(std::move(ref));
      }
      by_path[e->path] = e.get();
      sd->elements.push_back(std::move(e));
    }
    // Content references point inside the same structure.
    for (uint32_t k = 0; k < rs.element_count; ++k) {
      const auto& re = g::kElements[rs.first_element + k];
      if (!re.content_reference) continue;
      auto it = by_path.find(re.content_reference);
      if (it != by_path.end()) sd->elements[k]->content_reference = it->second;
    }
    for (auto& e : sd->elements) {
      auto dot = e->path.rfind('.');
      if (dot == std::string::npos) continue;
      auto parent = by_path.find(e->path.substr(0, dot));
      if (parent == by_path.end()) continue;
      e->index = parent->second->child_list.size();
      parent->second->child_list.push_back(e.get());
      parent->second->by_name[e->name] = e.get();
    }
    sd->root = sd->elements.empty() ? nullptr : sd->elements.front().get();
    if (!rs.profile || !m.by_name_.count(sd->name)) m.by_name_[sd->name] = sd.get();
    m.by_url_[sd->url] = sd.get();
    m.structures_.push_back(std::move(sd));
  }

  size_t type_index = 0;
  for (size_t s = 0; s < g::kStructureCount; ++s) {
    StructureDef& sd = *m.structures_[s];
    if (g::kStructures[s].base) sd.base = m.type(g::kStructures[s].base);
    for (auto& e : sd.elements) {
      for (auto& ref : e->types) {
        ref.type = m.type(ref.code);
        const auto& profile = raw_types[type_index++];
        if (!profile.empty()) ref.profile = m.type(profile[0]);
      }
    }
  }
  // JSON names of the children of every element with inline children.
  for (auto& sd : m.structures_) {
    for (auto& e : sd->elements) {
      if (e->choice) {
        for (size_t i = 0; i < e->types.size(); ++i) {
          std::string key = e->name + capitalized(e->types[i].code);
          e->json_keys.push_back({key, "_" + key, e->types[i].type});
        }
      } else {
        const StructureDef* t = e->types.empty() ? nullptr : e->types[0].type;
        if (!t && e->content_reference && !e->content_reference->types.empty())
          t = e->content_reference->types[0].type;
        e->json_keys.push_back({e->name, "_" + e->name, t});
      }
    }
    for (auto& e : sd->elements) {
      for (const ElementDef* child : e->child_list) {
        for (size_t i = 0; i < child->json_keys.size(); ++i)
          e->children[child->json_keys[i].key] = ChildSlot{child, static_cast<int>(i)};
      }
    }
  }
  return model;
}

}  // namespace chtlink::fhir::validation
