#include "fhir/model/definitions.h"

#include <sstream>

#include "fhir/model/definition_tables_internal.h"

namespace chtlink::fhir {
namespace {

std::vector<std::string> splitWords(const char* text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

ParamType parseType(std::string_view t) {
  if (t == "number") return ParamType::Number;
  if (t == "date") return ParamType::Date;
  if (t == "string") return ParamType::String;
  if (t == "token") return ParamType::Token;
  if (t == "reference") return ParamType::Reference;
  if (t == "composite") return ParamType::Composite;
  if (t == "quantity") return ParamType::Quantity;
  if (t == "uri") return ParamType::Uri;
  return ParamType::Special;
}

}  // namespace

std::string_view paramTypeName(ParamType type) {
  switch (type) {
    case ParamType::Number:
      return "number";
    case ParamType::Date:
      return "date";
    case ParamType::String:
      return "string";
    case ParamType::Token:
      return "token";
    case ParamType::Reference:
      return "reference";
    case ParamType::Composite:
      return "composite";
    case ParamType::Quantity:
      return "quantity";
    case ParamType::Uri:
      return "uri";
    case ParamType::Special:
      return "special";
  }
  return "special";
}

std::shared_ptr<const Definitions> Definitions::load() {
  auto defs = std::make_shared<Definitions>();
  for (size_t i = 0; i < generated::kResourceTypeCount; ++i) {
    defs->types_.emplace_back(generated::kResourceTypes[i]);
    defs->type_set_.insert(defs->types_.back());
  }
  auto add = [&](std::unique_ptr<SearchParamDef> def) {
    for (const auto& base : def->bases) {
      if (base == "Resource" || base == "DomainResource") {
        for (const auto& t : defs->types_) defs->by_type_[t].emplace(def->code, def.get());
      } else {
        defs->by_type_[base].emplace(def->code, def.get());
      }
    }
    defs->params_.push_back(std::move(def));
  };
  for (size_t i = 0; i < generated::kSearchParamCount; ++i) {
    const auto& raw = generated::kSearchParams[i];
    auto def = std::make_unique<SearchParamDef>();
    def->code = raw.code;
    def->url = raw.url;
    def->type = parseType(raw.type);
    def->expression = raw.expression;
    def->bases = splitWords(raw.bases);
    def->targets = splitWords(raw.targets);
    add(std::move(def));
  }
  for (size_t i = 0; i < generated::kCompartmentParamCount; ++i) {
    const auto& raw = generated::kCompartmentParams[i];
    defs->compartments_[raw.compartment][raw.type] = splitWords(raw.params);
  }
  return defs;
}

const std::vector<std::string>& Definitions::compartmentParams(std::string_view compartment,
                                                               std::string_view type) const {
  auto c = compartments_.find(compartment);
  if (c == compartments_.end()) return no_params_;
  auto t = c->second.find(type);
  return t == c->second.end() ? no_params_ : t->second;
}

bool Definitions::isCompartment(std::string_view compartment) const {
  return compartments_.find(compartment) != compartments_.end();
}

bool Definitions::isResourceType(std::string_view type) const {
  return type_set_.find(type) != type_set_.end();
}

const SearchParamDef* Definitions::find(std::string_view type, std::string_view code) const {
  auto t = by_type_.find(type);
  if (t == by_type_.end()) return nullptr;
  auto c = t->second.find(code);
  return c == t->second.end() ? nullptr : c->second;
}

std::vector<const SearchParamDef*> Definitions::forType(std::string_view type) const {
  std::vector<const SearchParamDef*> out;
  auto t = by_type_.find(type);
  if (t == by_type_.end()) return out;
  for (const auto& [code, def] : t->second) out.push_back(def);
  return out;
}

}  // namespace chtlink::fhir
