// Model: the R4 StructureDefinitions, invariants and expandable ValueSets of the official
// package, linked into a tree the validator and the FHIRPath evaluator walk. Built once from the
// generated tables (Model::load) and shared read-only; every method is const and thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/json.h"

namespace chtlink::fhir::validation {

class Expression;
struct StructureDef;
struct ElementDef;

enum class TypeKind { Primitive, Complex, Resource };
enum class BindingStrength { None, Required, Extensible, Preferred };

// One constraint.expression (an invariant) with its compiled form; compiled() is null when
// the evaluator does not support the expression (then compileError() says why).
struct Constraint {
  std::string key;       // "pat-1"
  bool is_ele1 = false;  // ele-1 is checked natively for every element
  bool is_error = true;
  std::string human;
  std::string expression;

  // Compiled on first use, once, thread-safe. A server validates a handful of resource types
  // and the write path evaluates only ext-1, so compiling all of the package's invariants
  // when the model loads cost about 4.5 MB of heap that mostly stayed unused.
  const Expression* compiled() const;
  const std::string& compileError() const;

 private:
  void compile() const;

  mutable std::once_flag compiled_once_;
  mutable std::shared_ptr<const Expression> compiled_;
  mutable std::string compile_error_;
};

struct ValueSet {
  std::string url;
  bool expandable = false;
  std::unordered_set<std::string> coded;  // "system|code"
  std::unordered_set<std::string> codes;  // code alone (for `code` elements, which carry no system)
};

struct TypeRef {
  std::string code;  // "HumanName", "string", "Reference"
  const StructureDef* type = nullptr;
  const StructureDef* profile = nullptr;  // SimpleQuantity for "Quantity@SimpleQuantity"
  std::vector<std::string> targets;       // Reference/canonical target types ("Resource": any)
};

// Where a JSON property of an object goes: its element and, for choice elements, which type
// ("valueQuantity" -> value[x] with the Quantity type).
struct ChildSlot {
  const ElementDef* element = nullptr;
  int type_index = 0;
};

struct ElementDef {
  std::string path;  // "Patient.contact.name", "Observation.value[x]"
  std::string name;  // JSON name without [x] ("value")
  bool choice = false;
  int min = 0;
  int max = 1;  // -1: unbounded
  std::vector<TypeRef> types;
  const ElementDef* content_reference = nullptr;
  BindingStrength strength = BindingStrength::None;
  const ValueSet* value_set = nullptr;
  std::optional<Json> fixed;
  std::optional<Json> pattern;
  std::vector<const Constraint*> constraints;
  bool is_modifier = false;
  // Children defined inline (backbone elements and the root): JSON name -> slot, including
  // every "valueQuantity"-style name of choice children.
  std::unordered_map<std::string, ChildSlot> children;
  // The same children by element name ("value" for value[x]), for FHIRPath navigation.
  std::unordered_map<std::string, const ElementDef*> by_name;
  std::vector<const ElementDef*> child_list;
  // The JSON properties this element appears as: one for plain elements, one per type for
  // choice elements ("valueQuantity"), each with its "_name" twin and its type.
  struct JsonKey {
    std::string key;
    std::string ext_key;
    const StructureDef* type = nullptr;
  };
  std::vector<JsonKey> json_keys;
  const StructureDef* owner = nullptr;
  size_t index = 0;  // position in the parent's child_list

  bool repeats() const { return max != 1; }
};

struct StructureDef {
  std::string name;  // type name, or profile id for profiles
  std::string url;
  std::string type;  // constrained type for profiles
  TypeKind kind = TypeKind::Complex;
  const StructureDef* base = nullptr;
  bool profile = false;
  bool is_abstract = false;
  std::vector<std::unique_ptr<ElementDef>> elements;
  const ElementDef* root = nullptr;

  // True when this type is `name` or derives from it ("Age" is a Quantity).
  bool isA(std::string_view name) const;
};

class Model {
 public:
  static std::shared_ptr<const Model> load();

  // A type by name ("Patient", "HumanName", "string"), or null.
  const StructureDef* type(std::string_view name) const;
  // A profile by canonical URL (resource or datatype profiles of the package), or null.
  const StructureDef* profile(std::string_view url) const;
  // The element whose children describe a node of `element` (inline children, a
  // contentReference, or the root of its type), or null for primitives.
  const ElementDef* childrenOf(const ElementDef* element, const StructureDef* type) const;

  const std::vector<std::unique_ptr<Constraint>>& constraints() const { return constraints_; }
  const std::vector<std::unique_ptr<StructureDef>>& structures() const { return structures_; }
  const std::vector<std::unique_ptr<ValueSet>>& valueSets() const { return value_sets_; }

 private:
  std::vector<std::unique_ptr<StructureDef>> structures_;
  std::unordered_map<std::string, const StructureDef*> by_name_;
  std::unordered_map<std::string, const StructureDef*> by_url_;
  std::vector<std::unique_ptr<Constraint>> constraints_;
  std::vector<std::unique_ptr<ValueSet>> value_sets_;
};

// The FHIRPath system type name of a FHIR primitive ("code" -> "String"); empty if not one.
std::string_view systemTypeOf(std::string_view fhir_primitive);

}  // namespace chtlink::fhir::validation
