#include "fhir/validation/validator.h"

#include <malloc.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "fhir/validation/fhirpath.h"
#include "fhir/validation/primitives.h"

namespace chtlink::fhir::validation {
namespace {

// Hard: HAPI rejects it as well, so it is an error in every mode. Soft: an error only in
// strict mode (docs/decisions/0004-validation-modes.md).
enum class Class { Hard, Soft };

std::string quoted(const Json& v) {
  std::string s = v.is_string() ? "\"" + v.get<std::string>() + "\"" : dumpJson(v);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

std::string_view jsonKind(const Json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  return "null";
}

bool matchesPattern(const Json& v, const Json& p) {
  if (p.is_object()) {
    if (!v.is_object()) return false;
    for (auto it = p.begin(); it != p.end(); ++it) {
      auto found = v.find(it.key());
      if (found == v.end() || !matchesPattern(*found, *it)) return false;
    }
    return true;
  }
  if (p.is_array()) {
    if (!v.is_array()) return false;
    for (const auto& item : p) {
      bool any = false;
      for (const auto& candidate : v) any = any || matchesPattern(candidate, item);
      if (!any) return false;
    }
    return true;
  }
  return v == p;
}

std::string someCodes(const ValueSet& vs) {
  std::vector<std::string> codes(vs.codes.begin(), vs.codes.end());
  std::sort(codes.begin(), codes.end());
  std::string out;
  for (size_t i = 0; i < codes.size() && i < 12; ++i) out += (i ? ", " : "") + codes[i];
  if (codes.size() > 12) out += ", ... (" + std::to_string(codes.size()) + " codes)";
  return out;
}

struct Frame {
  FpValue resource;
  FpValue root;
  const Json* bundle = nullptr;
};

class Walker {
 public:
  Walker(const Model& model, const ValidationOptions& options, ValidationResult& result)
      : model_(model),
        options_(options),
        result_(result),
        soft_(!(options.errors_only && options.mode == ValidationMode::Default)) {}

  void resource(const Json& res, const Frame* container, const Json* bundle) {
    if (!res.is_object()) {
      report(Severity::Error, Class::Hard, "structure",
             "must be a FHIR resource (a JSON object with resourceType), got " +
                 std::string(jsonKind(res)));
      return;
    }
    auto rt = res.find("resourceType");
    if (rt == res.end() || !rt->is_string()) {
      report(Severity::Error, Class::Hard, "required",
             "the resource has no resourceType; add \"resourceType\": \"Patient\" (or its type)");
      return;
    }
    const std::string& type_name = rt->get_ref<const std::string&>();
    const StructureDef* sd = model_.type(type_name);
    if (!sd || sd->kind != TypeKind::Resource || sd->is_abstract || sd->profile) {
      report(Severity::Error, Class::Hard, "structure",
             "unknown resourceType \"" + type_name + "\"; it is not an R4 resource type");
      return;
    }
    sd = profileFor(res, sd);
    if (auto id = res.find("id"); id != res.end()) {
      if (id->is_string()) {
        if (auto err = checkPrimitiveText("id", id->get_ref<const std::string&>())) {
          push(".id");
          report(Severity::Error, Class::Hard, "value", "id " + quoted(*id) + " " + *err);
          pop();
        }
      }
    }
    Frame frame;
    frame.resource = FpValue::node(&res, sd, sd->root);
    frame.root = container ? container->root : frame.resource;
    frame.bundle = type_name == "Bundle" ? &res : bundle;
    const Frame* saved = frame_;
    frame_ = &frame;
    object(res, *sd->root, true);
    invariants(sd->root->constraints, frame.resource);
    frame_ = saved;
  }

  void finish() {
    if (!not_evaluated_.empty()) {
      std::string keys;
      for (const auto& k : not_evaluated_) keys += (keys.empty() ? "" : ", ") + k;
      Issue i;
      i.severity = Severity::Information;
      i.code = "informational";
      i.message =
          std::to_string(not_evaluated_.size()) +
          " invariant(s) that apply here could not be evaluated and were not checked: " + keys +
          " (see chtlink fhir validate --coverage)";
      result_.issues.push_back(std::move(i));
    }
    if (dropped_ > 0) {
      Issue i;
      i.severity = Severity::Information;
      i.code = "too-costly";
      i.message = std::to_string(dropped_) + " more issue(s) not listed";
      result_.issues.push_back(std::move(i));
    }
  }

  std::string path_;

 private:
  void push(std::string_view s) { path_ += s; }
  void pop(size_t mark) { path_.resize(mark); }
  void pop() {
    auto dot = path_.find_last_of(".[");
    if (dot != std::string::npos) path_.resize(dot);
  }

  void report(Severity severity, Class cls, std::string_view code, std::string message) {
    if (!soft_ && !(severity == Severity::Error && cls == Class::Hard)) return;
    if (severity == Severity::Error && cls == Class::Soft &&
        options_.mode == ValidationMode::Default)
      severity = Severity::Warning;
    if (result_.issues.size() >= options_.max_issues) {
      ++dropped_;
      return;
    }
    Issue i;
    i.severity = severity;
    i.code = std::string(code);
    i.expression = path_;
    i.message = std::move(message);
    result_.issues.push_back(std::move(i));
  }

  const StructureDef* profileFor(const Json& res, const StructureDef* base) {
    auto meta = res.find("meta");
    if (meta == res.end() || !meta->is_object()) return base;
    auto profiles = meta->find("profile");
    if (profiles == meta->end() || !profiles->is_array()) return base;
    for (const auto& url : *profiles) {
      if (!url.is_string()) continue;
      const std::string& u = url.get_ref<const std::string&>();
      const StructureDef* p = model_.profile(u);
      if (p && p->type == base->name) return p;
      if (!p || p->type != base->name) {
        size_t mark = path_.size();
        push(".meta.profile");
        report(Severity::Information, Class::Soft, "informational",
               "profile " + u +
                   " is not part of the R4 package; the resource was validated "
                   "against the base definition of " +
                   base->name + " only");
        pop(mark);
      }
    }
    return base;
  }

  // The properties of a JSON object against the children of `provider`.
  void object(const Json& obj, const ElementDef& provider, bool resource_root) {
    // Which children were seen, and which JSON name a choice element used.
    std::vector<const std::string*> seen(provider.child_list.size(), nullptr);
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string& key = it.key();
      if (resource_root && key == "resourceType") continue;
      const bool ext_part = !key.empty() && key[0] == '_';
      auto slot = ext_part ? provider.children.find(key.substr(1)) : provider.children.find(key);
      size_t mark = path_.size();
      if (slot == provider.children.end()) {
        if (!soft_) continue;
        push(".");
        push(key);
        std::string known;
        for (const ElementDef* c : provider.child_list)
          known += (known.empty() ? "" : ", ") + c->name + (c->choice ? "[x]" : "");
        report(Severity::Error, Class::Soft, "structure",
               "unknown element \"" + key + "\" in " + provider.path +
                   "; it is not part of FHIR R4 (known elements: " + known + ")");
        pop(mark);
        continue;
      }
      const ElementDef& e = *slot->second.element;
      const std::string& json_name = e.json_keys[static_cast<size_t>(slot->second.type_index)].key;
      if (e.choice && seen[e.index] && *seen[e.index] != json_name) {
        push(".");
        push(e.name);
        report(Severity::Error, Class::Soft, "structure",
               "only one of " + e.name + "[x] may be present, found " + *seen[e.index] + " and " +
                   json_name);
        pop(mark);
      }
      seen[e.index] = &json_name;
      push(".");
      push(e.name);
      if (e.choice) {
        push(".ofType(");
        push(e.types[static_cast<size_t>(slot->second.type_index)].code);
        push(")");
      }
      property(*it, e, slot->second.type_index, ext_part, obj);
      pop(mark);
    }
    for (const ElementDef* child : provider.child_list) {
      if (child->min > 0 && !seen[child->index]) {
        size_t mark = path_.size();
        push(".");
        push(child->name);
        report(Severity::Error, Class::Soft, "required",
               "missing required element " + child->name + (child->choice ? "[x]" : "") + " (" +
                   child->path + " has minimum cardinality " + std::to_string(child->min) + ")");
        pop(mark);
      }
    }
  }

  void property(const Json& v, const ElementDef& e, int type_index, bool ext_part,
                const Json& parent) {
    if (ext_part) {
      extensionPart(v, e);
      return;
    }
    const std::string& ext_key = e.json_keys[static_cast<size_t>(type_index)].ext_key;
    auto ext_it = parent.find(ext_key);
    const Json* ext = ext_it == parent.end() ? nullptr : &*ext_it;
    if (v.is_array()) {
      if (!e.repeats())
        report(Severity::Error, Class::Soft, "structure",
               e.path + " holds a single value (max 1), but an array was given");
      if (v.empty())
        report(Severity::Error, Class::Soft, "structure",
               "an array must not be empty; leave the element out instead");
      else if (e.max > 1 && v.size() > static_cast<size_t>(e.max))
        report(Severity::Error, Class::Soft, "structure",
               e.path + " allows at most " + std::to_string(e.max) + " values, got " +
                   std::to_string(v.size()));
      if (e.min > 1 && v.size() < static_cast<size_t>(e.min))
        report(Severity::Error, Class::Soft, "required",
               e.path + " needs at least " + std::to_string(e.min) + " values, got " +
                   std::to_string(v.size()));
      for (size_t i = 0; i < v.size(); ++i) {
        size_t mark = path_.size();
        push("[");
        push(std::to_string(i));
        push("]");
        if (v[i].is_null()) {
          bool has_ext = ext && ext->is_array() && i < ext->size() && (*ext)[i].is_object();
          if (!has_ext)
            report(Severity::Error, Class::Soft, "structure",
                   "null is only allowed in an array whose _" + e.name +
                       " twin has extensions at the same position");
        } else {
          item(v[i], e, type_index,
               ext && ext->is_array() && i < ext->size() ? &(*ext)[i] : nullptr);
        }
        pop(mark);
      }
      return;
    }
    if (e.repeats())
      report(Severity::Error, Class::Soft, "structure",
             e.path + " repeats (max " + (e.max < 0 ? std::string("*") : std::to_string(e.max)) +
                 "), so its value must be a JSON array, got " + std::string(jsonKind(v)));
    if (v.is_null()) {
      if (!ext)
        report(Severity::Error, Class::Soft, "structure",
               "null is not a value; leave the element out instead");
      return;
    }
    item(v, e, type_index, ext);
  }

  // "_name": the id and extensions of a primitive.
  void extensionPart(const Json& v, const ElementDef& e) {
    const StructureDef* element_type = model_.type("Element");
    if (!element_type) return;
    auto check = [&](const Json& one) {
      if (one.is_null()) return;
      if (!one.is_object()) {
        report(Severity::Error, Class::Soft, "structure",
               "_" + e.name + " must hold an object with id/extension, got " +
                   std::string(jsonKind(one)));
        return;
      }
      object(one, *element_type->root, false);
    };
    if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) {
        size_t mark = path_.size();
        push("[" + std::to_string(i) + "]");
        check(v[i]);
        pop(mark);
      }
    } else {
      check(v);
    }
  }

  void item(const Json& v, const ElementDef& e, int type_index, const Json* ext) {
    const TypeRef* tr = e.types.empty() ? nullptr : &e.types[static_cast<size_t>(type_index)];
    const StructureDef* t = tr ? tr->type : nullptr;
    if (t && t->kind == TypeKind::Primitive) {
      primitive(v, e, *t, ext);
      return;
    }
    if (t && t->kind == TypeKind::Resource) {
      const bool contained = e.name == "contained";
      resource(v, contained ? frame_ : nullptr, frame_ ? frame_->bundle : nullptr);
      return;
    }
    const ElementDef* provider = model_.childrenOf(&e, t);
    if (!v.is_object()) {
      report(Severity::Error, Class::Soft, "structure",
             e.path + " must be a JSON object" + (t ? " (" + t->name + ")" : std::string()) +
                 ", got " + std::string(jsonKind(v)) + " " + quoted(v));
      return;
    }
    bool has_content = false;
    for (auto it = v.begin(); it != v.end() && !has_content; ++it) has_content = it.key() != "id";
    if (!has_content)
      report(Severity::Error, Class::Soft, "structure",
             "ele-1: an element must have a value or children; remove the empty object");
    if (!provider) return;
    object(v, *provider, false);
    if (t && t->name == "Reference") reference(v, *tr);
    if (t) binding(v, e, *t);
    fixedAndPattern(v, e);
    // Invariants of the element, of its type, and of a datatype profile (SimpleQuantity).
    FpValue node = FpValue::node(&v, t, &e);
    if (provider == &e && !(tr && tr->profile)) {
      invariants(e.constraints, node);
    } else {
      std::vector<const Constraint*> all = e.constraints;
      auto add = [&all](const std::vector<const Constraint*>& more) {
        for (const Constraint* c : more)
          if (std::find(all.begin(), all.end(), c) == all.end()) all.push_back(c);
      };
      if (provider != &e) add(provider->constraints);
      if (tr && tr->profile && tr->profile->root) add(tr->profile->root->constraints);
      invariants(all, node);
    }
  }

  void primitive(const Json& v, const ElementDef& e, const StructureDef& t, const Json* ext) {
    bool wrong_kind = false;
    if (auto err = checkPrimitiveJson(t.name, v, wrong_kind)) {
      // HAPI drops an empty string silently; any other invalid value fails its parser.
      bool empty = v.is_string() && v.get_ref<const std::string&>().empty();
      report(Severity::Error, empty ? Class::Soft : Class::Hard, "value",
             "value " + quoted(v) + " " + *err);
      return;
    }
    if (wrong_kind)
      report(Severity::Error, Class::Soft, "structure",
             t.name + " values are JSON " +
                 (t.name == "boolean"                                        ? "booleans"
                  : systemTypeOf(t.name) == "Integer" || t.name == "decimal" ? "numbers"
                                                                             : "strings") +
                 ", got " + std::string(jsonKind(v)) + " " + quoted(v));
    binding(v, e, t);
    fixedAndPattern(v, e);
    bool other = false;
    for (const Constraint* c : e.constraints) other = other || !c->is_ele1;
    if (other) invariants(e.constraints, FpValue::node(&v, &t, &e, ext));
  }

  void fixedAndPattern(const Json& v, const ElementDef& e) {
    if (!soft_) return;
    if (e.fixed && v != *e.fixed)
      report(Severity::Error, Class::Soft, "value",
             "value must be exactly " + quoted(*e.fixed) + " (fixed by " + e.owner->name +
                 "), got " + quoted(v));
    if (e.pattern && !matchesPattern(v, *e.pattern))
      report(Severity::Error, Class::Soft, "value",
             "value must match the pattern " + quoted(*e.pattern) + " (required by " +
                 e.owner->name + ")");
  }

  void binding(const Json& v, const ElementDef& e, const StructureDef& t) {
    const ValueSet* vs = e.value_set;
    if (!vs || !vs->expandable || e.strength == BindingStrength::None) return;
    // Only a code element's required binding can be a hard error.
    if (!soft_ && !(t.name == "code" && e.strength == BindingStrength::Required)) return;
    const bool required = e.strength == BindingStrength::Required;
    const std::string strength = required                                    ? "required"
                                 : e.strength == BindingStrength::Extensible ? "extensible"
                                                                             : "preferred";
    auto fail = [&](Class cls, const std::string& what) {
      report(required ? Severity::Error : Severity::Warning, cls, "code-invalid",
             what + " is not in the " + strength + " ValueSet " + vs->url +
                 " (codes: " + someCodes(*vs) + ")");
    };
    auto codingIn = [&](const Json& coding) -> std::optional<bool> {
      if (!coding.is_object()) return std::nullopt;
      auto code = coding.find("code");
      if (code == coding.end() || !code->is_string()) return std::nullopt;
      auto system = coding.find("system");
      if (system == coding.end() || !system->is_string())
        return vs->codes.count(code->get_ref<const std::string&>()) > 0;
      return vs->coded.count(system->get_ref<const std::string&>() + "|" +
                             code->get_ref<const std::string&>()) > 0;
    };
    auto codingText = [](const Json& coding) {
      return "code " + coding.value("system", "") + "|" + coding.value("code", "");
    };
    if (t.kind == TypeKind::Primitive) {
      if (!v.is_string()) return;
      const std::string& code = v.get_ref<const std::string&>();
      if (vs->codes.count(code)) return;
      // A code element's required binding is an enumeration HAPI rejects when parsing.
      fail(t.name == "code" ? Class::Hard : Class::Soft, "code \"" + code + "\"");
      return;
    }
    if (t.name == "Coding") {
      auto in = codingIn(v);
      if (in && !*in) fail(Class::Soft, codingText(v));
      return;
    }
    if (t.name == "CodeableConcept") {
      auto codings = v.find("coding");
      if (codings == v.end() || !codings->is_array() || codings->empty()) {
        if (required)
          report(Severity::Warning, Class::Soft, "code-invalid",
                 "no coding from the required ValueSet " + vs->url + " (codes: " + someCodes(*vs) +
                     "); only text was given");
        return;
      }
      bool any_code = false;
      for (const auto& c : *codings) {
        auto in = codingIn(c);
        if (in) any_code = true;
        if (in && *in) return;
      }
      if (any_code) fail(Class::Soft, codingText((*codings)[0]));
    }
  }

  void reference(const Json& v, const TypeRef& tr) {
    if (!soft_) return;
    auto any = tr.targets.empty() ||
               std::find(tr.targets.begin(), tr.targets.end(), "Resource") != tr.targets.end();
    auto allowed = [&](const std::string& type) {
      if (any) return true;
      const StructureDef* sd = model_.type(type);
      for (const auto& target : tr.targets) {
        if (target == type) return true;
        if (sd && sd->isA(target)) return true;
        const StructureDef* p = model_.type(target);
        if (p && p->type == type) return true;
      }
      return false;
    };
    auto targetList = [&]() {
      std::string out;
      for (const auto& t : tr.targets) out += (out.empty() ? "" : ", ") + t;
      return out;
    };
    std::string type;
    auto ref = v.find("reference");
    if (ref != v.end() && ref->is_string()) {
      const std::string& s = ref->get_ref<const std::string&>();
      if (!s.empty() && s[0] == '#') {
        if (frame_ && frame_->root.json) {
          auto contained = frame_->root.json->find("contained");
          if (contained != frame_->root.json->end() && contained->is_array()) {
            for (const auto& c : *contained)
              if (c.is_object() && c.value("id", "") == s.substr(1))
                type = c.value("resourceType", "");
          }
        }
      } else if (s.rfind("urn:uuid:", 0) == 0 || s.rfind("urn:oid:", 0) == 0) {
        if (frame_ && frame_->bundle) {
          auto entries = frame_->bundle->find("entry");
          if (entries != frame_->bundle->end() && entries->is_array()) {
            for (const auto& entry : *entries) {
              if (entry.is_object() && entry.value("fullUrl", "") == s &&
                  entry.contains("resource") && entry["resource"].is_object())
                type = entry["resource"].value("resourceType", "");
            }
          }
        }
      } else {
        std::string_view r = s;
        bool conditional = false;
        if (auto q = r.find('?'); q != std::string_view::npos) {
          r = r.substr(0, q);
          if (!r.empty() && r.back() == '/') r.remove_suffix(1);
          conditional = true;
        }
        if (auto h = r.find("/_history/"); h != std::string_view::npos) r = r.substr(0, h);
        std::string_view candidate;
        if (conditional) {
          candidate = r.substr(r.rfind('/') == std::string_view::npos ? 0 : r.rfind('/') + 1);
        } else {
          auto slash = r.rfind('/');
          if (slash != std::string_view::npos) {
            std::string_view head = r.substr(0, slash);
            candidate =
                head.substr(head.rfind('/') == std::string_view::npos ? 0 : head.rfind('/') + 1);
          }
        }
        bool absolute = s.find("://") != std::string::npos;
        const StructureDef* sd = candidate.empty() ? nullptr : model_.type(candidate);
        if (sd && sd->kind == TypeKind::Resource && !sd->profile) {
          type = std::string(candidate);
        } else if (!absolute) {
          size_t mark = path_.size();
          push(".reference");
          report(Severity::Error, Class::Soft, "value",
                 "reference \"" + s +
                     "\" is not a valid reference: expected Type/id, Type?query, #contained-id, "
                     "an absolute URL or a urn:uuid:");
          pop(mark);
        }
      }
      if (!type.empty() && !allowed(type)) {
        size_t mark = path_.size();
        push(".reference");
        report(Severity::Error, Class::Soft, "value",
               "a reference to " + type + " is not allowed here; allowed targets: " + targetList());
        pop(mark);
      }
    }
    auto declared = v.find("type");
    if (declared != v.end() && declared->is_string() &&
        !allowed(declared->get_ref<const std::string&>())) {
      size_t mark = path_.size();
      push(".type");
      report(Severity::Error, Class::Soft, "value",
             "Reference.type " + quoted(*declared) +
                 " is not an allowed target; allowed: " + targetList());
      pop(mark);
    }
  }

  void invariants(const std::vector<const Constraint*>& constraints, const FpValue& node) {
    for (const Constraint* c : constraints) {
      if (c->is_ele1) continue;                   // checked natively for every element
      if (!soft_ && c->key != "ext-1") continue;  // only ext-1 can be a hard error
      const Expression* compiled = c->compiled();
      if (!compiled) {
        not_evaluated_.insert(c->key);
        continue;
      }
      EvalContext ctx;
      ctx.model = &model_;
      ctx.resource = frame_ ? frame_->resource : node;
      ctx.root_resource = frame_ ? frame_->root : node;
      ctx.context = node;
      ctx.bundle = frame_ ? frame_->bundle : nullptr;
      ctx.strings = &strings_;
      auto r = compiled->test(ctx, node);
      if (!r.has_value()) {
        report(Severity::Information, Class::Soft, "informational",
               "invariant " + c->key + " could not be evaluated here: " + r.error().message);
        continue;
      }
      if (*r) continue;
      // HAPI's parser rejects an extension with both a value and nested extensions.
      Class cls = Class::Soft;
      if (c->key == "ext-1" && node.json && node.json->is_object() &&
          node.json->contains("extension")) {
        for (auto it = node.json->begin(); it != node.json->end(); ++it)
          if (it.key().rfind("value", 0) == 0) cls = Class::Hard;
      }
      report(c->is_error ? Severity::Error : Severity::Warning, cls, "invariant",
             c->key + ": " + c->human + " (" + c->expression + ")");
    }
  }

  const Model& model_;
  const ValidationOptions& options_;
  ValidationResult& result_;
  const Frame* frame_ = nullptr;
  std::deque<std::string> strings_;
  std::set<std::string> not_evaluated_;
  size_t dropped_ = 0;
  // False when soft findings cannot matter (errors_only in the default mode).
  const bool soft_;
};

}  // namespace

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::Fatal:
      return "fatal";
    case Severity::Error:
      return "error";
    case Severity::Warning:
      return "warning";
    case Severity::Information:
      return "information";
  }
  return "error";
}

bool ValidationResult::hasErrors() const {
  return std::any_of(issues.begin(), issues.end(), [](const Issue& i) {
    return i.severity == Severity::Error || i.severity == Severity::Fatal;
  });
}

size_t ValidationResult::count(Severity s) const {
  return static_cast<size_t>(
      std::count_if(issues.begin(), issues.end(), [s](const Issue& i) { return i.severity == s; }));
}

Validator::Validator(std::shared_ptr<const Model> model) : model_(std::move(model)) {}

std::shared_ptr<const Validator> Validator::create() {
  return std::shared_ptr<const Validator>(new Validator());
}

const Model& Validator::model() const {
  std::call_once(loaded_, [this] {
    if (model_) return;
    model_ = Model::load();
    // Building the model frees as much as it keeps (parsed tables, per-structure indexes),
    // scattered between the model's own blocks; glibc keeps those pages. Handing them back
    // once, here, lowers a running server's resident memory by about 3 MB.
    malloc_trim(0);
  });
  return *model_;
}

ValidationResult Validator::validate(const Json& resource, const ValidationOptions& options) const {
  ValidationResult result;
  Walker walker(model(), options, result);
  if (resource.is_object() && resource.contains("resourceType") &&
      resource["resourceType"].is_string())
    walker.path_ = resource["resourceType"].get<std::string>();
  walker.resource(resource, nullptr, nullptr);
  walker.finish();
  return result;
}

Coverage Validator::coverage() const {
  Coverage c;
  std::map<const Constraint*, std::set<std::string>> used;
  for (const auto& sd : model().structures()) {
    for (const auto& e : sd->elements) {
      for (const Constraint* k : e->constraints) used[k].insert(sd->name);
      if (e->strength != BindingStrength::None && e->value_set) {
        ++c.bindings_total;
        if (e->value_set->expandable) ++c.bindings_checked;
      }
    }
  }
  for (const auto& k : model().constraints()) {
    ++c.total;
    if (k->compiled()) {
      ++c.evaluated;
      continue;
    }
    Coverage::Missing m;
    m.key = k->key;
    m.expression = k->expression;
    m.reason = k->compileError();
    const auto& types = used[k.get()];
    m.types.assign(types.begin(), types.end());
    c.not_evaluated.push_back(std::move(m));
  }
  return c;
}

Json toOperationOutcome(const ValidationResult& result) {
  Json issues = Json::array();
  for (const auto& i : result.issues) {
    Json issue{
        {"severity", severityName(i.severity)}, {"code", i.code}, {"diagnostics", i.message}};
    if (!i.expression.empty()) issue["expression"] = Json::array({i.expression});
    issues.push_back(std::move(issue));
  }
  if (issues.empty())
    issues.push_back(Json{{"severity", "information"},
                          {"code", "informational"},
                          {"diagnostics", "no issues: the resource is valid"}});
  return Json{{"resourceType", "OperationOutcome"}, {"issue", std::move(issues)}};
}

}  // namespace chtlink::fhir::validation
