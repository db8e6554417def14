// Raw tables generated at build time by src/fhir/gen/generate_validation.js from the official
// R4 package. Read only by model.cc, which turns them into the linked Model.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chtlink::fhir::validation::generated {

struct RawStructure {
  const char* name;  // type name ("Patient", "HumanName") or profile id ("vitalsigns")
  const char* url;
  const char* type;  // the type a profile constrains; equals name for specializations
  const char* kind;  // "primitive-type", "complex-type" or "resource"
  const char* base;  // base type name or profile id; null for Base/Element roots
  bool profile;
  bool is_abstract;
  uint32_t first_element;  // range in kElements
  uint32_t element_count;
};

struct RawElement {
  const char* path;  // "Patient.contact.name", "Observation.value[x]"
  int32_t min;
  int32_t max;  // -1: unbounded
  // Space-separated types: "code", "Quantity@SimpleQuantity", "Reference:Patient,Group".
  const char* types;
  const char* content_reference;  // "Questionnaire.item" or null
  int32_t binding_strength;       // 0 none, 1 required, 2 extensible, 3 preferred
  int32_t value_set;              // index in kValueSets or -1
  const char* fixed_json;         // null when absent
  const char* pattern_json;
  const char* constraints;  // space-separated indexes in kConstraints
  bool is_modifier;
};

struct RawConstraint {
  const char* key;
  const char* severity;  // "error" or "warning"
  const char* human;
  const char* expression;
};

struct RawValueSet {
  const char* url;
  bool expandable;  // false: needs code systems outside the package; the binding is not checked
  uint32_t first_code;
  uint32_t code_count;
};

struct RawCode {
  const char* system;
  const char* code;
};

extern const RawStructure kStructures[];
extern const size_t kStructureCount;
extern const RawElement kElements[];
extern const size_t kElementCount;
extern const RawConstraint kConstraints[];
extern const size_t kConstraintCount;
extern const RawValueSet kValueSets[];
extern const size_t kValueSetCount;
extern const RawCode kCodes[];
extern const size_t kCodeCount;

}  // namespace chtlink::fhir::validation::generated
