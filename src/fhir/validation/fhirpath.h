// Expression: a FHIRPath (N1) evaluator for the invariants (constraint.expression) of the R4
// definitions. Navigation is typed through the Model: a node knows its FHIR type, so
// choice elements (`value` finds valueQuantity), `is`/`as`/`ofType` and `children()` work as the
// specification says.
//
// Supported: paths, indexers, literals (string, number, boolean, date/time, {}), $this, $index,
// %resource, %rootResource, %context, %ucum, %sct, %loinc, all operators (. [] unary +/-, * /
// div mod, + - &, is as, |, comparisons, = != ~ !~, in contains, and or xor implies) and the
// functions listed in fhirpath.cc (kFunctions). An expression using any other function fails
// to compile: its invariant is reported as not evaluated (`chtlink fhir validate --coverage`).
//
// Deviations, on purpose: an invariant whose result is empty counts as satisfied (the spec
// leaves it open; HAPI and fhirpath.js agree); htmlChecks() checks only the XHTML rules a
// string test can (a <div> root, no script/object/embed/iframe, no on* attributes).
// Compiled expressions are immutable and safe to evaluate from many threads.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace chtlink::fhir::validation {

class Model;
struct StructureDef;
struct ElementDef;

// One item of a FHIRPath collection.
struct FpValue {
  enum class Kind : uint8_t { Node, Boolean, Integer, Decimal, String, Date, DateTime, Time };
  Kind kind = Kind::Node;
  // Node: an element of the resource. `json` is the value (null when a primitive has only
  // its `_name` part), `ext` the `_name` part of a primitive.
  const Json* json = nullptr;
  const Json* ext = nullptr;
  const StructureDef* type = nullptr;
  const ElementDef* element = nullptr;
  // System values (literals and computed).
  bool boolean = false;
  int64_t integer = 0;
  double decimal = 0;
  std::string_view text;  // String, Date, DateTime, Time

  static FpValue node(const Json* json, const StructureDef* type, const ElementDef* element,
                      const Json* ext = nullptr) {
    FpValue v;
    v.json = json;
    v.ext = ext;
    v.type = type;
    v.element = element;
    return v;
  }
  static FpValue ofBoolean(bool b) {
    FpValue v;
    v.kind = Kind::Boolean;
    v.boolean = b;
    return v;
  }
};

using Collection = std::vector<FpValue>;

// What an evaluation may look at besides its input.
struct EvalContext {
  const Model* model = nullptr;
  FpValue resource;              // %resource
  FpValue root_resource;         // %rootResource (the container of a contained resource)
  FpValue context;               // %context
  const Json* bundle = nullptr;  // the enclosing Bundle, for resolve() of entries
  // Strings made during evaluation (concatenation, substring...) live here.
  std::deque<std::string>* strings = nullptr;
};

class Expression {
 public:
  // Fails (InvalidArgument, message naming the position) on a syntax error or a function the
  // evaluator does not implement.
  static Result<std::shared_ptr<const Expression>> compile(std::string_view text);

  Result<Collection> evaluate(const EvalContext& ctx, const Collection& input) const;
  // For invariants: false only when the result is a single false (or several items, which
  // is an error); true for true, empty, or a single non-boolean item.
  Result<bool> test(const EvalContext& ctx, const FpValue& focus) const;

  const std::string& text() const { return text_; }

  struct Node;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

}  // namespace chtlink::fhir::validation
