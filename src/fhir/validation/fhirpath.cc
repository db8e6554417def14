#include "fhir/validation/fhirpath.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>
#include <utility>

#include "fhir/search/date_range.h"
#include "fhir/validation/fhirpath_internal.h"
#include "fhir/validation/model.h"

namespace chtlink::fhir::validation {
namespace fp {
namespace {

struct FunctionInfo {
  std::string_view name;
  Func func;
  int min_args;
  int max_args;
};

// Every function the evaluator implements; any other name fails to compile.
constexpr std::array<FunctionInfo, 53> kFunctions{{
    {"empty", Func::Empty, 0, 0},
    {"exists", Func::Exists, 0, 1},
    {"all", Func::All, 1, 1},
    {"allTrue", Func::AllTrue, 0, 0},
    {"anyTrue", Func::AnyTrue, 0, 0},
    {"allFalse", Func::AllFalse, 0, 0},
    {"anyFalse", Func::AnyFalse, 0, 0},
    {"count", Func::Count, 0, 0},
    {"not", Func::Not, 0, 0},
    {"first", Func::First, 0, 0},
    {"last", Func::Last, 0, 0},
    {"tail", Func::Tail, 0, 0},
    {"skip", Func::Skip, 1, 1},
    {"take", Func::Take, 1, 1},
    {"where", Func::Where, 1, 1},
    {"select", Func::Select, 1, 1},
    {"repeat", Func::Repeat, 1, 1},
    {"distinct", Func::Distinct, 0, 0},
    {"isDistinct", Func::IsDistinct, 0, 0},
    {"hasValue", Func::HasValue, 0, 0},
    {"children", Func::Children, 0, 0},
    {"descendants", Func::Descendants, 0, 0},
    {"trace", Func::Trace, 1, 2},
    {"iif", Func::Iif, 2, 3},
    {"ofType", Func::OfType, 1, 1},
    {"as", Func::As, 1, 1},
    {"is", Func::Is, 1, 1},
    {"toInteger", Func::ToInteger, 0, 0},
    {"toDecimal", Func::ToDecimal, 0, 0},
    {"toString", Func::ToString, 0, 0},
    {"convertsToInteger", Func::ConvertsToInteger, 0, 0},
    {"substring", Func::Substring, 1, 2},
    {"startsWith", Func::StartsWith, 1, 1},
    {"endsWith", Func::EndsWith, 1, 1},
    {"contains", Func::Contains, 1, 1},
    {"matches", Func::Matches, 1, 1},
    {"replaceMatches", Func::ReplaceMatches, 2, 2},
    {"replace", Func::Replace, 2, 2},
    {"length", Func::Length, 0, 0},
    {"upper", Func::Upper, 0, 0},
    {"lower", Func::Lower, 0, 0},
    {"indexOf", Func::IndexOf, 1, 1},
    {"combine", Func::Combine, 1, 1},
    {"union", Func::Union, 1, 1},
    {"intersect", Func::Intersect, 1, 1},
    {"exclude", Func::Exclude, 1, 1},
    {"subsetOf", Func::SubsetOf, 1, 1},
    {"supersetOf", Func::SupersetOf, 1, 1},
    {"single", Func::Single, 0, 0},
    {"resolve", Func::Resolve, 0, 0},
    {"extension", Func::Extension, 1, 1},
    {"htmlChecks", Func::HtmlChecks, 0, 0},
    {"htmlchecks", Func::HtmlChecks, 0, 0},
}};

const FunctionInfo* infoOf(Func f) {
  for (const auto& i : kFunctions)
    if (i.func == f) return &i;
  return nullptr;
}

}  // namespace

std::optional<Func> lookupFunction(std::string_view name) {
  for (const auto& i : kFunctions)
    if (i.name == name) return i.func;
  return std::nullopt;
}

Status checkArity(const Expression::Node& call) {
  const FunctionInfo* info = infoOf(call.func);
  int n = static_cast<int>(call.args.size());
  if (info && (n < info->min_args || n > info->max_args))
    return invalidArgument(call.name + "() takes " + std::to_string(info->min_args) +
                           (info->max_args != info->min_args
                                ? " to " + std::to_string(info->max_args)
                                : std::string()) +
                           " arguments, got " + std::to_string(n));
  return ok();
}

}  // namespace fp

namespace {

using fp::BinOp;
using fp::Func;
using fp::Op;
using Kind = FpValue::Kind;
using Node = Expression::Node;

// Thrown inside the evaluator only; Expression::evaluate turns it into an Error.
struct EvalError {
  std::string message;
};

struct Scope {
  const Collection* this_coll = nullptr;
  int64_t index = 0;
};

std::string_view stripNamespace(std::string_view t) {
  if (t.rfind("FHIR.", 0) == 0) return t.substr(5);
  if (t.rfind("System.", 0) == 0) return t.substr(7);
  return t;
}

std::string_view kindName(Kind k) {
  switch (k) {
    case Kind::Boolean:
      return "Boolean";
    case Kind::Integer:
      return "Integer";
    case Kind::Decimal:
      return "Decimal";
    case Kind::String:
      return "String";
    case Kind::Date:
      return "Date";
    case Kind::DateTime:
      return "DateTime";
    case Kind::Time:
      return "Time";
    case Kind::Node:
      break;
  }
  return "";
}

bool startsWithNoCase(std::string_view s, size_t pos, std::string_view word) {
  if (pos + word.size() > s.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[pos + i])) != word[i]) return false;
  return true;
}

// htmlChecks(): a <div> root, no active content (script, object, embed, iframe, applet, form,
// base, link, meta, style elements) and no on* event attributes.
bool safeXhtml(std::string_view s) {
  size_t start = s.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || !startsWithNoCase(s, start, "<div")) return false;
  static constexpr std::string_view kBanned[] = {"script", "object", "embed", "iframe", "applet",
                                                 "form",   "base",   "link",  "meta",   "style"};
  for (size_t lt = s.find('<'); lt != std::string_view::npos; lt = s.find('<', lt + 1)) {
    size_t name = lt + 1;
    if (name < s.size() && s[name] == '/') continue;
    for (auto bad : kBanned) {
      size_t end = name + bad.size();
      if (startsWithNoCase(s, name, bad) &&
          (end >= s.size() || !std::isalnum(static_cast<unsigned char>(s[end]))))
        return false;
    }
    size_t gt = s.find('>', lt);
    if (gt == std::string_view::npos) gt = s.size();
    for (size_t p = lt; p + 3 < gt; ++p) {
      if (!std::isspace(static_cast<unsigned char>(s[p])) || !startsWithNoCase(s, p + 1, "on"))
        continue;
      size_t q = p + 3;
      while (q < gt && std::isalpha(static_cast<unsigned char>(s[q]))) ++q;
      if (q > p + 3 && q < gt && s[q] == '=') return false;
    }
  }
  return true;
}

class Evaluator {
 public:
  explicit Evaluator(const EvalContext& ctx) : ctx_(ctx) {}

  Collection eval(const Node& n, const Collection& focus, const Scope& scope) {
    switch (n.op) {
      case Op::Literal:
        return {n.literal};
      case Op::Empty:
        return {};
      case Op::Variable:
        if (n.name == "this") return scope.this_coll ? *scope.this_coll : Collection{};
        if (n.name == "index") {
          FpValue v;
          v.kind = Kind::Integer;
          v.integer = scope.index;
          return {v};
        }
        return {};
      case Op::Constant:
        return constant(n.name);
      case Op::Member: {
        Collection target;
        if (n.target) target = eval(*n.target, focus, scope);
        Collection out;
        for (const auto& v : n.target ? target : focus) navigate(v, n.name, out);
        return out;
      }
      case Op::Call: {
        // The focus is only copied when the call has a target of its own.
        if (!n.target) return call(n, focus, scope);
        Collection target = eval(*n.target, focus, scope);
        return call(n, target, scope);
      }
      case Op::Indexer: {
        Collection input = eval(*n.target, focus, scope);
        auto idx = integerOf(eval(*n.args[0], *scope.this_coll, scope));
        if (!idx || *idx < 0 || *idx >= static_cast<int64_t>(input.size())) return {};
        return {input[static_cast<size_t>(*idx)]};
      }
      case Op::Negate: {
        Collection c = eval(*n.target, focus, scope);
        if (c.empty()) return {};
        auto v = single(c);
        if (!v) return {};
        if (v->kind == Kind::Integer)
          v->integer = -v->integer;
        else if (v->kind == Kind::Decimal)
          v->decimal = -v->decimal;
        else
          throw EvalError{"unary minus needs a number"};
        return {*v};
      }
      case Op::TypeIs: {
        Collection c = eval(*n.target, focus, scope);
        if (c.empty()) return {};
        if (c.size() > 1) throw EvalError{"'is' needs a single item"};
        return {FpValue::ofBoolean(typeMatches(c[0], n.name))};
      }
      case Op::TypeAs: {
        Collection c = eval(*n.target, focus, scope);
        Collection out;
        for (const auto& v : c)
          if (typeMatches(v, n.name)) out.push_back(v);
        return out;
      }
      case Op::TypeName:
        throw EvalError{"a type name is not a value"};
      case Op::Binary:
        return binary(n, focus, scope);
    }
    return {};
  }

 private:
  // ---- values -------------------------------------------------------------------------------

  std::string_view keep(std::string s) {
    if (!ctx_.strings) throw EvalError{"no string storage"};
    ctx_.strings->push_back(std::move(s));
    return ctx_.strings->back();
  }

  FpValue str(std::string_view s) {
    FpValue v;
    v.kind = Kind::String;
    v.text = s;
    return v;
  }

  Collection constant(const std::string& name) {
    if (name == "resource") return {ctx_.resource};
    if (name == "rootResource") return {ctx_.root_resource};
    if (name == "context") return {ctx_.context};
    if (name == "ucum") return {str("http://unitsofmeasure.org")};
    if (name == "sct") return {str("http://snomed.info/sct")};
    if (name == "loinc") return {str("http://loinc.org")};
    return {};
  }

  const StructureDef* actualType(const FpValue& v) const {
    if (v.type && v.type->kind == TypeKind::Resource && v.type->is_abstract && v.json &&
        v.json->is_object()) {
      auto rt = v.json->find("resourceType");
      if (rt != v.json->end() && rt->is_string()) {
        if (const auto* t = ctx_.model->type(rt->get_ref<const std::string&>())) return t;
      }
    }
    return v.type;
  }

  // The system value of a primitive item, or nullopt for complex nodes and missing values.
  std::optional<FpValue> sys(const FpValue& v) const {
    if (v.kind != Kind::Node) return v;
    const Json* j = v.json;
    if (!j) return std::nullopt;
    std::string_view st = v.type ? systemTypeOf(v.type->name) : std::string_view();
    FpValue out;
    if (j->is_boolean()) {
      out.kind = Kind::Boolean;
      out.boolean = j->get<bool>();
    } else if (j->is_number_integer() || j->is_number_unsigned()) {
      if (st == "Decimal") {
        out.kind = Kind::Decimal;
        out.decimal = j->get<double>();
      } else {
        out.kind = Kind::Integer;
        out.integer = j->get<int64_t>();
      }
    } else if (j->is_number_float()) {
      out.kind = Kind::Decimal;
      out.decimal = j->get<double>();
    } else if (j->is_string()) {
      out.text = j->get_ref<const std::string&>();
      out.kind = st == "Date"       ? Kind::Date
                 : st == "DateTime" ? Kind::DateTime
                 : st == "Time"     ? Kind::Time
                                    : Kind::String;
    } else {
      return std::nullopt;
    }
    return out;
  }

  std::optional<FpValue> single(const Collection& c) const {
    if (c.empty()) return std::nullopt;
    if (c.size() > 1) throw EvalError{"expected a single item, got " + std::to_string(c.size())};
    return sys(c[0]);
  }

  std::optional<bool> toBool(const Collection& c) const {
    if (c.empty()) return std::nullopt;
    if (c.size() > 1)
      throw EvalError{"expected a single boolean, got " + std::to_string(c.size()) + " items"};
    auto v = sys(c[0]);
    if (v && v->kind == Kind::Boolean) return v->boolean;
    return true;  // singleton evaluation: a single non-boolean item is true
  }

  std::optional<int64_t> integerOf(const Collection& c) const {
    auto v = single(c);
    if (!v) return std::nullopt;
    if (v->kind == Kind::Integer) return v->integer;
    throw EvalError{"expected an integer"};
  }

  std::optional<std::string_view> stringOf(const Collection& c) const {
    auto v = single(c);
    if (!v) return std::nullopt;
    if (v->kind == Kind::String || v->kind == Kind::Date || v->kind == Kind::DateTime ||
        v->kind == Kind::Time)
      return v->text;
    throw EvalError{"expected a string"};
  }

  static bool isNumber(const FpValue& v) {
    return v.kind == Kind::Integer || v.kind == Kind::Decimal;
  }
  static double numberOf(const FpValue& v) {
    return v.kind == Kind::Integer ? static_cast<double>(v.integer) : v.decimal;
  }
  static bool isTemporal(const FpValue& v) {
    return v.kind == Kind::Date || v.kind == Kind::DateTime;
  }

  // -1/0/1, or nullopt when the order is unknown (dates of different precision that overlap).
  std::optional<int> compare(const FpValue& a, const FpValue& b) const {
    if (isNumber(a) && isNumber(b)) {
      double x = numberOf(a), y = numberOf(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if ((isTemporal(a) || isTemporal(b)) && a.kind != Kind::Boolean && b.kind != Kind::Boolean) {
      auto ra = search::parseDateRange(a.text);
      auto rb = search::parseDateRange(b.text);
      if (!ra || !rb)
        throw EvalError{"cannot compare '" + std::string(a.text) + "' with '" +
                        std::string(b.text) + "'"};
      if (ra->low == rb->low && ra->high == rb->high) return 0;
      if (ra->high <= rb->low) return -1;
      if (ra->low >= rb->high) return 1;
      return std::nullopt;
    }
    if ((a.kind == Kind::String || a.kind == Kind::Time) &&
        (b.kind == Kind::String || b.kind == Kind::Time)) {
      int c = a.text.compare(b.text);
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    throw EvalError{"cannot compare " + std::string(kindName(a.kind)) + " with " +
                    std::string(kindName(b.kind))};
  }

  std::optional<bool> equals(const FpValue& a, const FpValue& b) const {
    if (a.kind == Kind::Node && b.kind == Kind::Node && a.json && b.json &&
        (a.json->is_structured() || b.json->is_structured()))
      return a.json == b.json || *a.json == *b.json;
    auto x = sys(a);
    auto y = sys(b);
    if (!x || !y) return false;
    if (isNumber(*x) && isNumber(*y)) return numberOf(*x) == numberOf(*y);
    if (x->kind == Kind::Boolean || y->kind == Kind::Boolean)
      return x->kind == y->kind && x->boolean == y->boolean;
    if (isNumber(*x) || isNumber(*y)) return false;
    if (x->text == y->text) return true;
    if (isTemporal(*x) && isTemporal(*y)) {
      auto c = compare(*x, *y);
      if (!c) return std::nullopt;
      return *c == 0;
    }
    return false;
  }

  std::optional<bool> equalsCollections(const Collection& a, const Collection& b) const {
    if (a.empty() || b.empty()) return std::nullopt;
    if (a.size() != b.size()) return false;
    bool unknown = false;
    for (size_t i = 0; i < a.size(); ++i) {
      auto e = equals(a[i], b[i]);
      if (!e)
        unknown = true;
      else if (!*e)
        return false;
    }
    if (unknown) return std::nullopt;
    return true;
  }

  bool contains(const Collection& c, const FpValue& v) const {
    for (const auto& x : c) {
      auto e = equals(x, v);
      if (e && *e) return true;
    }
    return false;
  }

  // A hash consistent with equals(): equal items hash alike (1 and 1.0 as the same double).
  size_t hashOf(const FpValue& v) const {
    if (v.kind == Kind::Node && v.json && v.json->is_structured()) {
      size_t h = v.json->size() * 31 + (v.json->is_object() ? 7 : 13);
      if (v.json->is_object() && !v.json->empty())
        h ^= std::hash<std::string>()(v.json->begin().key());
      return h;
    }
    auto s = sys(v);
    if (!s) return 0;
    if (isNumber(*s)) return std::hash<double>()(numberOf(*s));
    if (s->kind == Kind::Boolean) return s->boolean ? 1 : 2;
    return std::hash<std::string_view>()(s->text);
  }

  // Distinct items in first-seen order; hashed so large collections stay linear.
  Collection distinct(const Collection& c) const {
    Collection out;
    if (c.size() < 16) {
      for (const auto& v : c)
        if (!contains(out, v)) out.push_back(v);
      return out;
    }
    std::unordered_map<size_t, std::vector<size_t>> buckets;
    for (const auto& v : c) {
      auto& bucket = buckets[hashOf(v)];
      bool dup = false;
      for (size_t idx : bucket) {
        auto e = equals(out[idx], v);
        if (e && *e) {
          dup = true;
          break;
        }
      }
      if (dup) continue;
      bucket.push_back(out.size());
      out.push_back(v);
    }
    return out;
  }

  bool typeMatches(const FpValue& v, std::string_view type_name) const {
    std::string_view t = stripNamespace(type_name);
    if (v.kind != Kind::Node) return kindName(v.kind) == t;
    const StructureDef* type = actualType(v);
    if (type) {
      if (type->isA(t)) return true;
      // A FHIR primitive also answers to its system type (`answer is Boolean`).
      return type->kind == TypeKind::Primitive && systemTypeOf(type->name) == t;
    }
    if (!v.json) return false;
    if (v.json->is_boolean()) return t == "Boolean" || t == "boolean";
    if (v.json->is_string()) return t == "String" || t == "string";
    if (v.json->is_number_integer()) return t == "Integer" || t == "integer";
    if (v.json->is_number()) return t == "Decimal" || t == "decimal";
    return false;
  }

  // ---- navigation -----------------------------------------------------------------------------

  static void addValues(const Json& obj, const std::string& key, const std::string& ext_key,
                        const StructureDef* type, const ElementDef* element, Collection& out) {
    auto it = obj.find(key);
    auto ext = obj.find(ext_key);
    const Json* value = it == obj.end() ? nullptr : &*it;
    const Json* extension = ext == obj.end() ? nullptr : &*ext;
    if (!value && !extension) return;
    if ((value && value->is_array()) || (extension && extension->is_array())) {
      size_t n = std::max(value && value->is_array() ? value->size() : 0,
                          extension && extension->is_array() ? extension->size() : 0);
      for (size_t i = 0; i < n; ++i) {
        const Json* v = value && value->is_array() && i < value->size() && !(*value)[i].is_null()
                            ? &(*value)[i]
                            : nullptr;
        const Json* e = extension && extension->is_array() && i < extension->size() &&
                                !(*extension)[i].is_null()
                            ? &(*extension)[i]
                            : nullptr;
        if (v || e) out.push_back(FpValue::node(v, type, element, e));
      }
      return;
    }
    if (value && value->is_null()) value = nullptr;
    if (value || extension) out.push_back(FpValue::node(value, type, element, extension));
  }

  void navigate(const FpValue& v, std::string_view name, Collection& out) const {
    if (v.kind != Kind::Node) return;
    const StructureDef* type = actualType(v);
    if (!name.empty() && std::isupper(static_cast<unsigned char>(name[0])) && type &&
        type->kind == TypeKind::Resource && type->isA(name)) {
      out.push_back(v);
      return;
    }
    const Json* obj = v.json;
    if (!obj || !obj->is_object()) {
      // A primitive's id and extensions live in its `_name` object.
      if (v.ext && v.ext->is_object() && (name == "extension" || name == "id")) {
        const StructureDef* element_type = ctx_.model->type("Element");
        const ElementDef* provider = element_type ? element_type->root : nullptr;
        auto it = provider ? provider->by_name.find(std::string(name))
                           : decltype(provider->by_name.end()){};
        if (provider && it != provider->by_name.end()) {
          const ElementDef* e = it->second;
          addValues(*v.ext, e->json_keys[0].key, e->json_keys[0].ext_key, e->json_keys[0].type, e,
                    out);
        }
      }
      return;
    }
    const ElementDef* provider = ctx_.model->childrenOf(v.element, type);
    if (!provider) {
      auto it = obj->find(std::string(name));
      if (it == obj->end()) return;
      if (it->is_array()) {
        for (const auto& item : *it) out.push_back(FpValue::node(&item, nullptr, nullptr));
      } else {
        out.push_back(FpValue::node(&*it, nullptr, nullptr));
      }
      return;
    }
    auto it = provider->by_name.find(std::string(name));
    if (it == provider->by_name.end()) return;
    const ElementDef* e = it->second;
    for (const auto& k : e->json_keys) addValues(*obj, k.key, k.ext_key, k.type, e, out);
  }

  void childrenOf(const FpValue& v, Collection& out) const {
    if (v.kind != Kind::Node) return;
    if (v.ext && v.ext->is_object()) {
      navigate(FpValue::node(nullptr, v.type, v.element, v.ext), "id", out);
      navigate(FpValue::node(nullptr, v.type, v.element, v.ext), "extension", out);
    }
    if (!v.json || !v.json->is_object()) return;
    const StructureDef* type = actualType(v);
    const ElementDef* provider = ctx_.model->childrenOf(v.element, type);
    for (auto it = v.json->begin(); it != v.json->end(); ++it) {
      const std::string& key = it.key();
      if (key == "resourceType") continue;
      if (!key.empty() && key[0] == '_') {
        if (v.json->contains(key.substr(1))) continue;  // reached with its value
      }
      std::string base = !key.empty() && key[0] == '_' ? key.substr(1) : key;
      if (provider) {
        auto slot = provider->children.find(base);
        if (slot == provider->children.end()) continue;
        const auto& k = slot->second.element->json_keys[static_cast<size_t>(
            slot->second.element->choice ? slot->second.type_index : 0)];
        addValues(*v.json, k.key, k.ext_key, k.type, slot->second.element, out);
      } else if (it->is_array()) {
        for (const auto& item : *it) out.push_back(FpValue::node(&item, nullptr, nullptr));
      } else {
        out.push_back(FpValue::node(&*it, nullptr, nullptr));
      }
    }
  }

  // resolve(): "#id" to a contained resource, else a Bundle entry by fullUrl or type/id.
  void resolve(const FpValue& v, Collection& out) const {
    std::string_view ref;
    if (v.kind == Kind::Node && v.json && v.json->is_object()) {
      auto r = v.json->find("reference");
      if (r == v.json->end() || !r->is_string()) return;
      ref = r->get_ref<const std::string&>();
    } else if (auto s = sys(v); s && s->kind == Kind::String) {
      ref = s->text;
    } else {
      return;
    }
    const StructureDef* resource_type = ctx_.model->type("Resource");
    if (!ref.empty() && ref[0] == '#') {
      const Json* root = ctx_.root_resource.json;
      if (!root || !root->is_object()) return;
      auto contained = root->find("contained");
      if (contained == root->end() || !contained->is_array()) return;
      for (const auto& c : *contained) {
        if (c.is_object() && c.value("id", "") == ref.substr(1))
          out.push_back(FpValue::node(&c, resource_type, nullptr));
      }
      return;
    }
    if (!ctx_.bundle) return;
    auto entries = ctx_.bundle->find("entry");
    if (entries == ctx_.bundle->end() || !entries->is_array()) return;
    for (const auto& entry : *entries) {
      if (!entry.is_object()) continue;
      auto res = entry.find("resource");
      if (res == entry.end() || !res->is_object()) continue;
      std::string full = entry.value("fullUrl", "");
      std::string local = res->value("resourceType", "") + "/" + res->value("id", "");
      bool match = full == ref || local == ref ||
                   (full.size() > ref.size() &&
                    full.compare(full.size() - ref.size(), ref.size(), ref) == 0 &&
                    full[full.size() - ref.size() - 1] == '/');
      if (match) {
        out.push_back(FpValue::node(&*res, resource_type, nullptr));
        return;
      }
    }
  }

  // ---- operators ------------------------------------------------------------------------------

  Collection binary(const Node& n, const Collection& focus, const Scope& scope) {
    const Node& ln = *n.args[0];
    const Node& rn = *n.args[1];
    switch (n.bop) {
      case BinOp::And: {
        auto a = toBool(eval(ln, focus, scope));
        if (a && !*a) return {FpValue::ofBoolean(false)};
        auto b = toBool(eval(rn, focus, scope));
        if (b && !*b) return {FpValue::ofBoolean(false)};
        if (a && b) return {FpValue::ofBoolean(true)};
        return {};
      }
      case BinOp::Or: {
        auto a = toBool(eval(ln, focus, scope));
        if (a && *a) return {FpValue::ofBoolean(true)};
        auto b = toBool(eval(rn, focus, scope));
        if (b && *b) return {FpValue::ofBoolean(true)};
        if (a && b) return {FpValue::ofBoolean(false)};
        return {};
      }
      case BinOp::Xor: {
        auto a = toBool(eval(ln, focus, scope));
        auto b = toBool(eval(rn, focus, scope));
        if (a && b) return {FpValue::ofBoolean(*a != *b)};
        return {};
      }
      case BinOp::Implies: {
        auto a = toBool(eval(ln, focus, scope));
        if (a && !*a) return {FpValue::ofBoolean(true)};
        auto b = toBool(eval(rn, focus, scope));
        if (b && *b) return {FpValue::ofBoolean(true)};
        if (a && b) return {FpValue::ofBoolean(false)};
        return {};
      }
      default:
        break;
    }
    Collection a = eval(ln, focus, scope);
    Collection b = eval(rn, focus, scope);
    switch (n.bop) {
      case BinOp::Union: {
        Collection all = a;
        all.insert(all.end(), b.begin(), b.end());
        return distinct(all);
      }
      case BinOp::Eq:
      case BinOp::Ne:
      case BinOp::Equiv:
      case BinOp::NotEquiv: {
        bool equiv = n.bop == BinOp::Equiv || n.bop == BinOp::NotEquiv;
        std::optional<bool> e;
        if (equiv && a.empty() && b.empty())
          e = true;
        else if (equiv && (a.empty() || b.empty()))
          e = false;
        else
          e = equalsCollections(a, b);
        if (!e) return {};
        bool negate = n.bop == BinOp::Ne || n.bop == BinOp::NotEquiv;
        return {FpValue::ofBoolean(negate ? !*e : *e)};
      }
      case BinOp::Lt:
      case BinOp::Gt:
      case BinOp::Le:
      case BinOp::Ge: {
        auto x = single(a);
        auto y = single(b);
        if (!x || !y) return {};
        auto c = compare(*x, *y);
        if (!c) return {};
        bool r = n.bop == BinOp::Lt   ? *c < 0
                 : n.bop == BinOp::Gt ? *c > 0
                 : n.bop == BinOp::Le ? *c <= 0
                                      : *c >= 0;
        return {FpValue::ofBoolean(r)};
      }
      case BinOp::In:
      case BinOp::Contains: {
        const Collection& item = n.bop == BinOp::In ? a : b;
        const Collection& set = n.bop == BinOp::In ? b : a;
        if (item.empty()) return {};
        if (item.size() > 1) throw EvalError{"'in'/'contains' need a single item"};
        return {FpValue::ofBoolean(contains(set, item[0]))};
      }
      case BinOp::Concat: {
        auto x = a.empty() ? std::optional<std::string_view>("") : stringOf(a);
        auto y = b.empty() ? std::optional<std::string_view>("") : stringOf(b);
        return {str(keep(std::string(*x) + std::string(*y)))};
      }
      case BinOp::Plus:
      case BinOp::Minus:
      case BinOp::Times:
      case BinOp::Divide:
      case BinOp::Div:
      case BinOp::Mod: {
        auto x = single(a);
        auto y = single(b);
        if (!x || !y) return {};
        if (n.bop == BinOp::Plus && x->kind == Kind::String && y->kind == Kind::String)
          return {str(keep(std::string(x->text) + std::string(y->text)))};
        if (!isNumber(*x) || !isNumber(*y)) throw EvalError{"arithmetic needs numbers"};
        FpValue r;
        if (x->kind == Kind::Integer && y->kind == Kind::Integer && n.bop != BinOp::Divide) {
          r.kind = Kind::Integer;
          int64_t p = x->integer, q = y->integer;
          if ((n.bop == BinOp::Div || n.bop == BinOp::Mod) && q == 0) return {};
          r.integer = n.bop == BinOp::Plus    ? p + q
                      : n.bop == BinOp::Minus ? p - q
                      : n.bop == BinOp::Times ? p * q
                      : n.bop == BinOp::Div   ? p / q
                                              : p % q;
          return {r};
        }
        double p = numberOf(*x), q = numberOf(*y);
        r.kind = Kind::Decimal;
        if ((n.bop == BinOp::Divide || n.bop == BinOp::Div || n.bop == BinOp::Mod) && q == 0)
          return {};
        r.decimal = n.bop == BinOp::Plus     ? p + q
                    : n.bop == BinOp::Minus  ? p - q
                    : n.bop == BinOp::Times  ? p * q
                    : n.bop == BinOp::Divide ? p / q
                    : n.bop == BinOp::Div    ? std::trunc(p / q)
                                             : std::fmod(p, q);
        return {r};
      }
      default:
        return {};
    }
  }

  // ---- functions ------------------------------------------------------------------------------

  Collection lambda(const Node& body, const FpValue& item, int64_t index) {
    Collection one{item};
    Scope s{&one, index};
    return eval(body, one, s);
  }

  Collection arg(const Node& n, size_t i, const Scope& scope) {
    return eval(*n.args[i], *scope.this_coll, scope);
  }

  Collection call(const Node& n, const Collection& input, const Scope& scope) {
    switch (n.func) {
      case Func::Empty:
        return {FpValue::ofBoolean(input.empty())};
      case Func::Exists: {
        if (n.args.empty()) return {FpValue::ofBoolean(!input.empty())};
        for (size_t i = 0; i < input.size(); ++i) {
          auto b = toBool(lambda(*n.args[0], input[i], static_cast<int64_t>(i)));
          if (b && *b) return {FpValue::ofBoolean(true)};
        }
        return {FpValue::ofBoolean(false)};
      }
      case Func::All: {
        for (size_t i = 0; i < input.size(); ++i) {
          auto b = toBool(lambda(*n.args[0], input[i], static_cast<int64_t>(i)));
          if (!b || !*b) return {FpValue::ofBoolean(false)};
        }
        return {FpValue::ofBoolean(true)};
      }
      case Func::AllTrue:
      case Func::AnyTrue:
      case Func::AllFalse:
      case Func::AnyFalse: {
        bool want = n.func == Func::AllTrue || n.func == Func::AnyTrue;
        bool all = n.func == Func::AllTrue || n.func == Func::AllFalse;
        bool result = all;
        for (const auto& v : input) {
          auto s = sys(v);
          bool hit = s && s->kind == Kind::Boolean && s->boolean == want;
          if (all && !hit) result = false;
          if (!all && hit) result = true;
        }
        return {FpValue::ofBoolean(result)};
      }
      case Func::Count: {
        FpValue v;
        v.kind = Kind::Integer;
        v.integer = static_cast<int64_t>(input.size());
        return {v};
      }
      case Func::Not: {
        auto b = toBool(input);
        if (!b) return {};
        return {FpValue::ofBoolean(!*b)};
      }
      case Func::First:
        return input.empty() ? Collection{} : Collection{input.front()};
      case Func::Last:
        return input.empty() ? Collection{} : Collection{input.back()};
      case Func::Tail:
        return input.size() <= 1 ? Collection{} : Collection(input.begin() + 1, input.end());
      case Func::Single:
        if (input.size() > 1) throw EvalError{"single() on several items"};
        return input;
      case Func::Skip:
      case Func::Take: {
        auto k = integerOf(arg(n, 0, scope)).value_or(0);
        size_t m =
            static_cast<size_t>(std::clamp<int64_t>(k, 0, static_cast<int64_t>(input.size())));
        if (n.func == Func::Skip)
          return Collection(input.begin() + static_cast<ptrdiff_t>(m), input.end());
        return Collection(input.begin(), input.begin() + static_cast<ptrdiff_t>(m));
      }
      case Func::Where: {
        Collection out;
        for (size_t i = 0; i < input.size(); ++i) {
          auto b = toBool(lambda(*n.args[0], input[i], static_cast<int64_t>(i)));
          if (b && *b) out.push_back(input[i]);
        }
        return out;
      }
      case Func::Select: {
        Collection out;
        for (size_t i = 0; i < input.size(); ++i) {
          Collection r = lambda(*n.args[0], input[i], static_cast<int64_t>(i));
          out.insert(out.end(), r.begin(), r.end());
        }
        return out;
      }
      case Func::Repeat: {
        Collection out;
        Collection work = input;
        for (int guard = 0; !work.empty() && guard < 10000; ++guard) {
          Collection next;
          for (size_t i = 0; i < work.size(); ++i) {
            for (auto& r : lambda(*n.args[0], work[i], static_cast<int64_t>(i))) {
              if (!contains(out, r)) {
                out.push_back(r);
                next.push_back(r);
              }
            }
          }
          work = std::move(next);
        }
        return out;
      }
      case Func::Distinct:
        return distinct(input);
      case Func::IsDistinct:
        return {FpValue::ofBoolean(distinct(input).size() == input.size())};
      case Func::HasValue: {
        if (input.size() != 1) return {FpValue::ofBoolean(false)};
        const FpValue& v = input[0];
        if (v.kind != Kind::Node) return {FpValue::ofBoolean(true)};
        return {FpValue::ofBoolean(v.json && v.json->is_primitive() && !v.json->is_null())};
      }
      case Func::Children: {
        Collection out;
        for (const auto& v : input) childrenOf(v, out);
        return out;
      }
      case Func::Descendants: {
        Collection out;
        Collection work = input;
        for (int depth = 0; !work.empty() && depth < 64; ++depth) {
          Collection next;
          for (const auto& v : work) childrenOf(v, next);
          out.insert(out.end(), next.begin(), next.end());
          work = std::move(next);
        }
        return out;
      }
      case Func::Trace:
        return input;
      case Func::Iif: {
        Scope s{&input, 0};
        auto b = toBool(eval(*n.args[0], input, s));
        if (b && *b) return eval(*n.args[1], input, s);
        if (n.args.size() > 2) return eval(*n.args[2], input, s);
        return {};
      }
      case Func::OfType:
      case Func::As: {
        Collection out;
        for (const auto& v : input)
          if (typeMatches(v, n.args[0]->name)) out.push_back(v);
        return out;
      }
      case Func::Is: {
        if (input.empty()) return {};
        if (input.size() > 1) throw EvalError{"is() needs a single item"};
        return {FpValue::ofBoolean(typeMatches(input[0], n.args[0]->name))};
      }
      case Func::ToInteger:
      case Func::ConvertsToInteger: {
        auto v = single(input);
        std::optional<int64_t> r;
        if (v) {
          if (v->kind == Kind::Integer) {
            r = v->integer;
          } else if (v->kind == Kind::Boolean) {
            r = v->boolean ? 1 : 0;
          } else if (v->kind == Kind::String) {
            std::string_view t = v->text;
            size_t start = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
            bool digits = t.size() > start && t.size() < 19 &&
                          std::all_of(t.begin() + static_cast<ptrdiff_t>(start), t.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
            if (digits) r = std::stoll(std::string(t));
          }
        }
        if (n.func == Func::ConvertsToInteger) {
          if (!v) return {};
          return {FpValue::ofBoolean(r.has_value())};
        }
        if (!r) return {};
        FpValue out;
        out.kind = Kind::Integer;
        out.integer = *r;
        return {out};
      }
      case Func::ToDecimal: {
        auto v = single(input);
        if (!v) return {};
        FpValue out;
        out.kind = Kind::Decimal;
        if (isNumber(*v)) {
          out.decimal = numberOf(*v);
        } else if (v->kind == Kind::String) {
          try {
            out.decimal = std::stod(std::string(v->text));
          } catch (const std::exception&) {
            return {};
          }
        } else {
          return {};
        }
        return {out};
      }
      case Func::ToString: {
        if (input.empty()) return {};
        if (input.size() > 1) throw EvalError{"toString() needs a single item"};
        const FpValue& item = input[0];
        // Keep a decimal's JSON text (1.50 stays 1.50).
        if (item.kind == Kind::Node && item.json && item.json->is_number())
          return {str(keep(dumpJson(*item.json)))};
        auto v = sys(item);
        if (!v) return {};
        switch (v->kind) {
          case Kind::Boolean:
            return {str(v->boolean ? "true" : "false")};
          case Kind::Integer:
            return {str(keep(std::to_string(v->integer)))};
          case Kind::Decimal:
            return {str(keep(dumpJson(Json(v->decimal))))};
          default:
            return {str(v->text)};
        }
      }
      case Func::Substring: {
        auto s = stringOf(input);
        if (!s) return {};
        auto start = integerOf(arg(n, 0, scope));
        if (!start || *start < 0 || *start >= static_cast<int64_t>(s->size())) return {};
        size_t len = std::string_view::npos;
        if (n.args.size() > 1) {
          auto l = integerOf(arg(n, 1, scope));
          if (!l) return {};
          len = static_cast<size_t>(std::max<int64_t>(0, *l));
        }
        return {str(s->substr(static_cast<size_t>(*start), len))};
      }
      case Func::StartsWith:
      case Func::EndsWith:
      case Func::Contains: {
        auto s = stringOf(input);
        if (!s) return {};
        auto p = stringOf(arg(n, 0, scope));
        if (!p) return {};
        bool r =
            n.func == Func::StartsWith ? s->rfind(*p, 0) == 0
            : n.func == Func::EndsWith
                ? s->size() >= p->size() && s->compare(s->size() - p->size(), p->size(), *p) == 0
                : s->find(*p) != std::string_view::npos;
        return {FpValue::ofBoolean(r)};
      }
      case Func::Matches:
      case Func::ReplaceMatches: {
        auto s = stringOf(input);
        if (!s) return {};
        std::shared_ptr<const std::regex> re = n.regex;
        if (!re) {
          auto p = stringOf(arg(n, 0, scope));
          if (!p) return {};
          try {
            re = std::make_shared<std::regex>(std::string(*p), std::regex::ECMAScript);
          } catch (const std::regex_error&) {
            throw EvalError{"invalid regular expression '" + std::string(*p) + "'"};
          }
        }
        std::string subject(*s);
        if (n.func == Func::Matches) return {FpValue::ofBoolean(std::regex_search(subject, *re))};
        auto with = stringOf(arg(n, 1, scope));
        if (!with) return {};
        return {str(keep(std::regex_replace(subject, *re, std::string(*with))))};
      }
      case Func::Replace: {
        auto s = stringOf(input);
        auto p = stringOf(arg(n, 0, scope));
        auto w = stringOf(arg(n, 1, scope));
        if (!s || !p || !w) return {};
        std::string out(*s);
        if (!p->empty()) {
          for (size_t pos = out.find(*p); pos != std::string::npos;
               pos = out.find(*p, pos + w->size()))
            out.replace(pos, p->size(), *w);
        }
        return {str(keep(std::move(out)))};
      }
      case Func::Length: {
        auto s = stringOf(input);
        if (!s) return {};
        FpValue v;
        v.kind = Kind::Integer;
        v.integer = static_cast<int64_t>(s->size());
        return {v};
      }
      case Func::Upper:
      case Func::Lower: {
        auto s = stringOf(input);
        if (!s) return {};
        std::string out(*s);
        for (auto& c : out)
          c = static_cast<char>(n.func == Func::Upper
                                    ? std::toupper(static_cast<unsigned char>(c))
                                    : std::tolower(static_cast<unsigned char>(c)));
        return {str(keep(std::move(out)))};
      }
      case Func::IndexOf: {
        auto s = stringOf(input);
        auto p = stringOf(arg(n, 0, scope));
        if (!s || !p) return {};
        auto pos = s->find(*p);
        FpValue v;
        v.kind = Kind::Integer;
        v.integer = pos == std::string_view::npos ? -1 : static_cast<int64_t>(pos);
        return {v};
      }
      case Func::Combine:
      case Func::Union: {
        Collection other = arg(n, 0, scope);
        Collection all = input;
        all.insert(all.end(), other.begin(), other.end());
        return n.func == Func::Union ? distinct(all) : all;
      }
      case Func::Intersect:
      case Func::Exclude: {
        Collection other = arg(n, 0, scope);
        Collection out;
        for (const auto& v : input) {
          bool in = contains(other, v);
          if (in == (n.func == Func::Intersect) && (n.func == Func::Exclude || !contains(out, v)))
            out.push_back(v);
        }
        return out;
      }
      case Func::SubsetOf:
      case Func::SupersetOf: {
        Collection other = arg(n, 0, scope);
        const Collection& small = n.func == Func::SubsetOf ? input : other;
        const Collection& big = n.func == Func::SubsetOf ? other : input;
        for (const auto& v : small)
          if (!contains(big, v)) return {FpValue::ofBoolean(false)};
        return {FpValue::ofBoolean(true)};
      }
      case Func::Resolve: {
        Collection out;
        for (const auto& v : input) resolve(v, out);
        return out;
      }
      case Func::Extension: {
        auto url = stringOf(arg(n, 0, scope));
        if (!url) return {};
        Collection exts;
        for (const auto& v : input) navigate(v, "extension", exts);
        Collection out;
        for (const auto& e : exts) {
          if (e.json && e.json->is_object() && e.json->value("url", "") == *url) out.push_back(e);
        }
        return out;
      }
      case Func::HtmlChecks: {
        auto s = stringOf(input);
        if (!s) return {FpValue::ofBoolean(true)};
        return {FpValue::ofBoolean(safeXhtml(*s))};
      }
    }
    return {};
  }

  const EvalContext& ctx_;
};

}  // namespace

Result<Collection> Expression::evaluate(const EvalContext& ctx, const Collection& input) const {
  try {
    Evaluator ev(ctx);
    Scope scope{&input, 0};
    return ev.eval(*root_, input, scope);
  } catch (const EvalError& e) {
    return invalidArgument(e.message);
  } catch (const std::exception& e) {
    return invalidArgument(e.what());
  }
}

Result<bool> Expression::test(const EvalContext& ctx, const FpValue& focus) const {
  Collection input{focus};
  CHTLINK_ASSIGN_OR_RETURN(Collection r, evaluate(ctx, input));
  if (r.empty()) return true;
  if (r.size() > 1)
    return invalidArgument("the invariant gave " + std::to_string(r.size()) +
                           " items instead of one boolean");
  if (r[0].kind == Kind::Boolean) return r[0].boolean;
  if (r[0].kind == Kind::Node && r[0].json && r[0].json->is_boolean())
    return r[0].json->get<bool>();
  return true;
}

}  // namespace chtlink::fhir::validation
