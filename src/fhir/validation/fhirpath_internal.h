// The FHIRPath syntax tree shared by fhirpath_parser.cc and fhirpath.cc.
#pragma once

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/validation/fhirpath.h"

namespace chtlink::fhir::validation {
namespace fp {

enum class Op {
  Literal,
  Empty,
  Variable,
  Constant,
  Member,
  Call,
  Indexer,
  Negate,
  Binary,
  TypeIs,
  TypeAs,
  TypeName
};

enum class BinOp {
  Implies,
  Or,
  Xor,
  And,
  In,
  Contains,
  Eq,
  Ne,
  Equiv,
  NotEquiv,
  Lt,
  Gt,
  Le,
  Ge,
  Union,
  Is,
  As,
  Plus,
  Minus,
  Concat,
  Times,
  Divide,
  Div,
  Mod
};

enum class Func {
  Empty,
  Exists,
  All,
  AllTrue,
  AnyTrue,
  AllFalse,
  AnyFalse,
  Count,
  Not,
  First,
  Last,
  Tail,
  Skip,
  Take,
  Where,
  Select,
  Repeat,
  Distinct,
  IsDistinct,
  HasValue,
  Children,
  Descendants,
  Trace,
  Iif,
  OfType,
  As,
  Is,
  ToInteger,
  ToDecimal,
  ToString,
  ConvertsToInteger,
  Substring,
  StartsWith,
  EndsWith,
  Contains,
  Matches,
  ReplaceMatches,
  Replace,
  Length,
  Upper,
  Lower,
  IndexOf,
  Combine,
  Union,
  Intersect,
  Exclude,
  SubsetOf,
  SupersetOf,
  Single,
  Resolve,
  Extension,
  HtmlChecks
};

// The function of a name, or nullopt when the evaluator does not implement it.
std::optional<Func> lookupFunction(std::string_view name);

}  // namespace fp

struct Expression::Node {
  fp::Op op = fp::Op::Literal;
  FpValue literal;
  std::string text;  // literal text (literal.text points here)
  std::string name;  // member, function, variable, constant or type name
  fp::BinOp bop = fp::BinOp::Eq;
  fp::Func func = fp::Func::Empty;
  std::shared_ptr<const Node> target;
  std::vector<std::shared_ptr<const Node>> args;
  std::shared_ptr<const std::regex> regex;  // matches()/replaceMatches() with a literal pattern
};

namespace fp {
Status checkArity(const Expression::Node& call);
}

}  // namespace chtlink::fhir::validation
