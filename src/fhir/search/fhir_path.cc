#include "fhir/search/fhir_path.h"

#include <cctype>

namespace chtlink::fhir::search {

// A union of terms; a term is a start (resource type name or a parenthesised union) followed
// by steps.
struct FhirPath::Node {
  enum class StepKind {
    Child,
    Index,
    TypeFilter,
    WhereResolveIs,
    WhereEquals,
    WhereHasExtension,
    Extension
  };
  struct Step {
    StepKind kind;
    std::string name;   // child name, type, field
    std::string value;  // literal / url
  };
  struct Term {
    std::string start_type;             // "Patient"; empty when `group` is set
    std::shared_ptr<const Node> group;  // parenthesised sub-expression
    std::vector<Step> steps;
  };
  std::vector<Term> terms;
};

namespace {

using Node = FhirPath::Node;
using Step = Node::Step;
using StepKind = Node::StepKind;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<std::shared_ptr<const Node>> parseUnion() {
    auto node = std::make_shared<Node>();
    while (true) {
      CHTLINK_ASSIGN_OR_RETURN(Node::Term term, parseTerm());
      node->terms.push_back(std::move(term));
      skipSpace();
      if (peek() == '|') {
        ++pos_;
        continue;
      }
      return std::shared_ptr<const Node>(node);
    }
  }

  bool atEnd() {
    skipSpace();
    return pos_ >= s_.size();
  }
  Error fail(std::string_view what) const {
    return invalidArgument("unsupported FHIRPath " + std::string(what) + " at offset " +
                               std::to_string(pos_) + " in \"" + std::string(s_) + "\"",
                           "fhirpath_unsupported");
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  std::string ident() {
    skipSpace();
    size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
      ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }
  bool consume(std::string_view token) {
    skipSpace();
    if (s_.substr(pos_, token.size()) == token) {
      pos_ += token.size();
      return true;
    }
    return false;
  }
  Result<std::string> literal() {
    skipSpace();
    if (peek() != '\'') return fail("literal");
    size_t end = s_.find('\'', pos_ + 1);
    if (end == std::string_view::npos) return fail("unterminated literal");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }

  Result<Node::Term> parseTerm() {
    Node::Term term;
    skipSpace();
    if (peek() == '(') {
      ++pos_;
      CHTLINK_ASSIGN_OR_RETURN(term.group, parseUnion());
      if (!consume(")")) return fail("missing ')'");
    } else {
      term.start_type = ident();
      if (term.start_type.empty()) return fail("term");
    }
    while (true) {
      skipSpace();
      if (peek() == '.') {
        ++pos_;
        CHTLINK_ASSIGN_OR_RETURN(Step step, parseStep());
        term.steps.push_back(std::move(step));
      } else if (peek() == '[') {
        size_t end = s_.find(']', pos_);
        if (end == std::string_view::npos) return fail("missing ']'");
        std::string index(s_.substr(pos_ + 1, end - pos_ - 1));
        if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos)
          return fail("index");
        pos_ = end + 1;
        term.steps.push_back({StepKind::Index, index, ""});
      } else if (s_.substr(pos_, 3) == "as ") {
        pos_ += 3;
        term.steps.push_back({StepKind::TypeFilter, ident(), ""});
      } else {
        return term;
      }
    }
  }

  Result<Step> parseStep() {
    std::string name = ident();
    if (name.empty()) return fail("step");
    if (!consume("(")) return Step{StepKind::Child, name, ""};
    Step step{StepKind::Child, "", ""};
    if (name == "as" || name == "ofType") {
      step = {StepKind::TypeFilter, ident(), ""};
    } else if (name == "extension") {
      CHTLINK_ASSIGN_OR_RETURN(std::string url, literal());
      step = {StepKind::Extension, "", url};
    } else if (name == "where") {
      if (consume("resolve()")) {
        if (!consume("is")) return fail("where(resolve() ...)");
        step = {StepKind::WhereResolveIs, ident(), ""};
      } else if (consume("hasExtension(")) {
        CHTLINK_ASSIGN_OR_RETURN(std::string url, literal());
        if (!consume(")")) return fail("hasExtension");
        step = {StepKind::WhereHasExtension, "", url};
      } else {
        std::string field = ident();
        if (field.empty() || !consume("=")) return fail("where() condition");
        CHTLINK_ASSIGN_OR_RETURN(std::string value, literal());
        step = {StepKind::WhereEquals, field, value};
      }
    } else {
      return fail("function " + name + "()");
    }
    if (!consume(")")) return fail("missing ')'");
    return step;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

void flattenInto(const Json& node, std::string type, std::vector<PathValue>& out) {
  if (node.is_array()) {
    for (const auto& item : node) flattenInto(item, type, out);
  } else if (!node.is_null()) {
    out.push_back({&node, std::move(type)});
  }
}

bool typeMatches(std::string_view have, std::string_view want) {
  if (have.empty()) return true;  // not a choice element: the type cannot be told from JSON
  if (have.size() != want.size()) return false;
  for (size_t i = 0; i < have.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(have[i])) !=
        std::tolower(static_cast<unsigned char>(want[i])))
      return false;
  }
  return true;
}

// "Patient/1", "http://x/fhir/Patient/1/_history/2" -> "Patient".
std::string referenceType(const Json& node) {
  if (!node.is_object()) return "";
  auto it = node.find("reference");
  if (it != node.end() && it->is_string()) {
    std::string ref = it->get<std::string>();
    auto hist = ref.find("/_history/");
    if (hist != std::string::npos) ref.resize(hist);
    auto q = ref.find('?');
    if (q != std::string::npos) ref.resize(q);
    auto last = ref.rfind('/');
    if (last == std::string::npos || last == 0) return "";
    auto prev = ref.rfind('/', last - 1);
    return ref.substr(prev == std::string::npos ? 0 : prev + 1,
                      last - (prev == std::string::npos ? 0 : prev + 1));
  }
  auto type = node.find("type");
  if (type != node.end() && type->is_string()) return type->get<std::string>();
  return "";
}

void child(const PathValue& in, const std::string& name, std::vector<PathValue>& out) {
  if (!in.node->is_object()) return;
  auto it = in.node->find(name);
  if (it != in.node->end()) {
    flattenInto(*it, "", out);
    return;
  }
  // Choice element: value[x] is stored as valueQuantity, valueString, ...
  for (auto kv = in.node->begin(); kv != in.node->end(); ++kv) {
    const std::string& key = kv.key();
    if (key.size() > name.size() && key.compare(0, name.size(), name) == 0 &&
        std::isupper(static_cast<unsigned char>(key[name.size()]))) {
      flattenInto(kv.value(), key.substr(name.size()), out);
    }
  }
}

std::vector<PathValue> evalNode(const Node& node, const Json& resource,
                                std::string_view resource_type) {
  std::vector<PathValue> result;
  for (const auto& term : node.terms) {
    std::vector<PathValue> current;
    if (term.group) {
      current = evalNode(*term.group, resource, resource_type);
    } else if (term.start_type == resource_type || term.start_type == "Resource" ||
               term.start_type == "DomainResource") {
      current.push_back({&resource, ""});
    } else {
      continue;
    }
    for (const auto& step : term.steps) {
      std::vector<PathValue> next;
      if (step.kind == StepKind::Index) {
        size_t index = std::stoul(step.name);
        if (index < current.size()) next.push_back(current[index]);
        current = std::move(next);
        continue;
      }
      for (const auto& v : current) {
        switch (step.kind) {
          case StepKind::Child:
            child(v, step.name, next);
            break;
          case StepKind::Index:
            break;
          case StepKind::TypeFilter:
            if (typeMatches(v.type, step.name)) next.push_back({v.node, step.name});
            break;
          case StepKind::WhereResolveIs:
            if (referenceType(*v.node) == step.name) next.push_back(v);
            break;
          case StepKind::WhereEquals:
            if (v.node->is_object()) {
              auto it = v.node->find(step.name);
              if (it != v.node->end() && it->is_string() && it->get<std::string>() == step.value)
                next.push_back(v);
            }
            break;
          case StepKind::WhereHasExtension:
          case StepKind::Extension:
            if (v.node->is_object()) {
              auto ext = v.node->find("extension");
              if (ext == v.node->end() || !ext->is_array()) break;
              for (const auto& e : *ext) {
                if (!e.is_object() || e.value("url", "") != step.value) continue;
                if (step.kind == StepKind::WhereHasExtension) {
                  next.push_back(v);
                  break;
                }
                child({&e, ""}, "value", next);
              }
            }
            break;
        }
      }
      current = std::move(next);
    }
    for (auto& v : current) result.push_back(std::move(v));
  }
  return result;
}

}  // namespace

Result<FhirPath> FhirPath::compile(std::string_view expression) {
  Parser parser(expression);
  CHTLINK_ASSIGN_OR_RETURN(auto root, parser.parseUnion());
  if (!parser.atEnd()) return parser.fail("trailing text");
  FhirPath path;
  path.root_ = std::move(root);
  return path;
}

std::vector<PathValue> FhirPath::evaluate(const Json& resource,
                                          std::string_view resource_type) const {
  if (!root_) return {};
  return evalNode(*root_, resource, resource_type);
}

}  // namespace chtlink::fhir::search
