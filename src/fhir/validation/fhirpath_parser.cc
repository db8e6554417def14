// FHIRPath tokenizer and precedence-climbing parser (fhirpath.h); evaluation is in fhirpath.cc.
#include <cctype>
#include <regex>

#include "fhir/validation/fhirpath.h"
#include "fhir/validation/fhirpath_internal.h"

namespace chtlink::fhir::validation {
namespace {

struct Token {
  enum class Kind { End, Identifier, String, Number, DateTime, Time, Symbol, Variable, Constant };
  Kind kind = Kind::End;
  std::string text;
  size_t pos = 0;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> out;
    while (true) {
      skipSpace();
      Token t;
      t.pos = i_;
      if (i_ >= s_.size()) {
        out.push_back(t);
        return out;
      }
      char c = s_[i_];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        t.kind = Token::Kind::Identifier;
        while (i_ < s_.size() &&
               (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_'))
          t.text += s_[i_++];
      } else if (c == '`') {
        t.kind = Token::Kind::Identifier;
        CHTLINK_ASSIGN_OR_RETURN(t.text, quoted('`'));
      } else if (c == '\'') {
        t.kind = Token::Kind::String;
        CHTLINK_ASSIGN_OR_RETURN(t.text, quoted('\''));
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        t.kind = Token::Kind::Number;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])))
          t.text += s_[i_++];
        if (i_ + 1 < s_.size() && s_[i_] == '.' &&
            std::isdigit(static_cast<unsigned char>(s_[i_ + 1]))) {
          t.text += s_[i_++];
          while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])))
            t.text += s_[i_++];
        }
      } else if (c == '@') {
        ++i_;
        t.kind = i_ < s_.size() && s_[i_] == 'T' ? Token::Kind::Time : Token::Kind::DateTime;
        if (t.kind == Token::Kind::Time) ++i_;
        while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) ||
                                  std::string_view("-:.+Z").find(s_[i_]) != std::string::npos))
          t.text += s_[i_++];
      } else if (c == '$') {
        t.kind = Token::Kind::Variable;
        ++i_;
        while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_])))
          t.text += s_[i_++];
      } else if (c == '%') {
        t.kind = Token::Kind::Constant;
        ++i_;
        if (i_ < s_.size() && (s_[i_] == '`' || s_[i_] == '\'')) {
          CHTLINK_ASSIGN_OR_RETURN(t.text, quoted(s_[i_]));
        } else {
          while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) ||
                                    s_[i_] == '_' || s_[i_] == '-'))
            t.text += s_[i_++];
        }
      } else {
        t.kind = Token::Kind::Symbol;
        static constexpr std::string_view kTwo[] = {"<=", ">=", "!=", "!~"};
        bool two = false;
        for (auto op : kTwo) {
          if (s_.substr(i_, 2) == op) {
            t.text = std::string(op);
            i_ += 2;
            two = true;
            break;
          }
        }
        if (!two) {
          if (std::string_view(".[](),|+-*/&=~<>{}").find(c) == std::string_view::npos)
            return invalidArgument("unexpected character '" + std::string(1, c) + "' at position " +
                                   std::to_string(i_));
          t.text = std::string(1, c);
          ++i_;
        }
      }
      out.push_back(std::move(t));
    }
  }

 private:
  void skipSpace() {
    while (i_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
        ++i_;
      } else if (s_.substr(i_, 2) == "//") {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (s_.substr(i_, 2) == "/*") {
        auto end = s_.find("*/", i_ + 2);
        i_ = end == std::string_view::npos ? s_.size() : end + 2;
      } else {
        return;
      }
    }
  }

  Result<std::string> quoted(char quote) {
    size_t start = i_++;
    std::string out;
    while (i_ < s_.size() && s_[i_] != quote) {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size()) {
        char e = s_[i_++];
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case 'f':
            out += '\f';
            break;
          case 'u': {
            if (i_ + 4 > s_.size()) return invalidArgument("bad \\u escape");
            unsigned cp = std::stoul(std::string(s_.substr(i_, 4)), nullptr, 16);
            i_ += 4;
            if (cp < 0x80) {
              out += static_cast<char>(cp);
            } else if (cp < 0x800) {
              out += static_cast<char>(0xC0 | (cp >> 6));
              out += static_cast<char>(0x80 | (cp & 0x3F));
            } else {
              out += static_cast<char>(0xE0 | (cp >> 12));
              out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
              out += static_cast<char>(0x80 | (cp & 0x3F));
            }
            break;
          }
          default:
            out += e;  // \' \" \` \\ \/
        }
      } else {
        out += c;
      }
    }
    if (i_ >= s_.size())
      return invalidArgument("unterminated quoted text starting at position " +
                             std::to_string(start));
    ++i_;
    return out;
  }

  std::string_view s_;
  size_t i_ = 0;
};

using NodePtr = std::shared_ptr<Expression::Node>;

int binaryPrecedence(const Token& t, fp::BinOp& op) {
  using B = fp::BinOp;
  const std::string& x = t.text;
  if (t.kind == Token::Kind::Identifier) {
    if (x == "implies") return op = B::Implies, 1;
    if (x == "or") return op = B::Or, 2;
    if (x == "xor") return op = B::Xor, 2;
    if (x == "and") return op = B::And, 3;
    if (x == "in") return op = B::In, 4;
    if (x == "contains") return op = B::Contains, 4;
    if (x == "is") return op = B::Is, 8;
    if (x == "as") return op = B::As, 8;
    if (x == "div") return op = B::Div, 10;
    if (x == "mod") return op = B::Mod, 10;
    return 0;
  }
  if (t.kind != Token::Kind::Symbol) return 0;
  if (x == "=") return op = B::Eq, 5;
  if (x == "!=") return op = B::Ne, 5;
  if (x == "~") return op = B::Equiv, 5;
  if (x == "!~") return op = B::NotEquiv, 5;
  if (x == "<") return op = B::Lt, 6;
  if (x == ">") return op = B::Gt, 6;
  if (x == "<=") return op = B::Le, 6;
  if (x == ">=") return op = B::Ge, 6;
  if (x == "|") return op = B::Union, 7;
  if (x == "+") return op = B::Plus, 9;
  if (x == "-") return op = B::Minus, 9;
  if (x == "&") return op = B::Concat, 9;
  if (x == "*") return op = B::Times, 10;
  if (x == "/") return op = B::Divide, 10;
  return 0;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Result<NodePtr> parseAll() {
    CHTLINK_ASSIGN_OR_RETURN(NodePtr n, expr(1));
    if (peek().kind != Token::Kind::End) return error("unexpected '" + peek().text + "'");
    return n;
  }

 private:
  const Token& peek() const { return t_[p_]; }
  bool isSymbol(std::string_view s) const {
    return peek().kind == Token::Kind::Symbol && peek().text == s;
  }
  Error error(const std::string& what) const {
    return invalidArgument(what + " at position " + std::to_string(peek().pos));
  }
  Status expect(std::string_view s) {
    if (!isSymbol(s)) return error("expected '" + std::string(s) + "'");
    ++p_;
    return ok();
  }

  static NodePtr make(fp::Op op) {
    auto n = std::make_shared<Expression::Node>();
    n->op = op;
    return n;
  }

  Result<NodePtr> expr(int min_prec) {
    CHTLINK_ASSIGN_OR_RETURN(NodePtr left, unary());
    while (true) {
      fp::BinOp op{};
      int prec = binaryPrecedence(peek(), op);
      if (prec == 0 || prec < min_prec) return left;
      ++p_;
      if (op == fp::BinOp::Is || op == fp::BinOp::As) {
        auto n = make(op == fp::BinOp::Is ? fp::Op::TypeIs : fp::Op::TypeAs);
        CHTLINK_ASSIGN_OR_RETURN(n->name, typeSpecifier());
        n->target = left;
        left = n;
        continue;
      }
      CHTLINK_ASSIGN_OR_RETURN(NodePtr right, expr(prec + 1));
      auto n = make(fp::Op::Binary);
      n->bop = op;
      n->args = {left, right};
      left = n;
    }
  }

  Result<std::string> typeSpecifier() {
    if (peek().kind != Token::Kind::Identifier) return error("expected a type name");
    std::string name = t_[p_++].text;
    while (isSymbol(".") && t_[p_ + 1].kind == Token::Kind::Identifier) {
      p_ += 1;
      name += "." + t_[p_++].text;
    }
    return name;
  }

  Result<NodePtr> unary() {
    if (isSymbol("-") || isSymbol("+")) {
      bool minus = peek().text == "-";
      ++p_;
      CHTLINK_ASSIGN_OR_RETURN(NodePtr operand, unary());
      if (!minus) return operand;
      auto n = make(fp::Op::Negate);
      n->target = operand;
      return n;
    }
    CHTLINK_ASSIGN_OR_RETURN(NodePtr term, primary());
    return postfix(term);
  }

  Result<NodePtr> postfix(NodePtr left) {
    while (true) {
      if (isSymbol(".")) {
        ++p_;
        if (peek().kind != Token::Kind::Identifier) return error("expected a name after '.'");
        CHTLINK_ASSIGN_OR_RETURN(NodePtr inv, invocation());
        inv->target = left;
        left = inv;
      } else if (isSymbol("[")) {
        ++p_;
        CHTLINK_ASSIGN_OR_RETURN(NodePtr index, expr(1));
        CHTLINK_TRY(expect("]"));
        auto n = make(fp::Op::Indexer);
        n->target = left;
        n->args = {index};
        left = n;
      } else {
        return left;
      }
    }
  }

  // name or name(args), without a target.
  Result<NodePtr> invocation() {
    std::string name = t_[p_++].text;
    if (!isSymbol("(")) {
      auto n = make(fp::Op::Member);
      n->name = std::move(name);
      return n;
    }
    ++p_;
    auto n = make(fp::Op::Call);
    n->name = name;
    auto fn = fp::lookupFunction(name);
    if (!fn) return invalidArgument("function " + name + "() is not supported");
    n->func = *fn;
    const bool type_arg =
        n->func == fp::Func::OfType || n->func == fp::Func::As || n->func == fp::Func::Is;
    if (!isSymbol(")")) {
      while (true) {
        if (type_arg) {
          auto t = make(fp::Op::TypeName);
          CHTLINK_ASSIGN_OR_RETURN(t->name, typeSpecifier());
          n->args.push_back(t);
        } else {
          CHTLINK_ASSIGN_OR_RETURN(NodePtr a, expr(1));
          n->args.push_back(a);
        }
        if (isSymbol(",")) {
          ++p_;
          continue;
        }
        break;
      }
    }
    CHTLINK_TRY(expect(")"));
    CHTLINK_TRY(fp::checkArity(*n));
    if ((n->func == fp::Func::Matches || n->func == fp::Func::ReplaceMatches) &&
        n->args[0]->op == fp::Op::Literal && n->args[0]->literal.kind == FpValue::Kind::String) {
      try {
        n->regex = std::make_shared<std::regex>(n->args[0]->text, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return invalidArgument("invalid regular expression '" + n->args[0]->text + "'");
      }
    }
    return n;
  }

  Result<NodePtr> primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Token::Kind::End:
        return error("unexpected end of expression");
      case Token::Kind::String: {
        auto n = make(fp::Op::Literal);
        n->text = t.text;
        n->literal.kind = FpValue::Kind::String;
        n->literal.text = n->text;
        ++p_;
        return n;
      }
      case Token::Kind::Number: {
        auto n = make(fp::Op::Literal);
        n->text = t.text;
        if (t.text.find('.') != std::string::npos) {
          n->literal.kind = FpValue::Kind::Decimal;
          n->literal.decimal = std::stod(t.text);
        } else {
          n->literal.kind = FpValue::Kind::Integer;
          n->literal.integer = std::stoll(t.text);
        }
        ++p_;
        return n;
      }
      case Token::Kind::DateTime:
      case Token::Kind::Time: {
        auto n = make(fp::Op::Literal);
        n->text = t.text;
        n->literal.kind = t.kind == Token::Kind::Time             ? FpValue::Kind::Time
                          : t.text.find('T') != std::string::npos ? FpValue::Kind::DateTime
                                                                  : FpValue::Kind::Date;
        if (!n->text.empty() && n->text.back() == 'T') n->text.pop_back();
        n->literal.text = n->text;
        ++p_;
        return n;
      }
      case Token::Kind::Variable: {
        auto n = make(fp::Op::Variable);
        n->name = t.text;
        if (n->name != "this" && n->name != "index" && n->name != "total")
          return error("unknown variable $" + n->name);
        ++p_;
        return n;
      }
      case Token::Kind::Constant: {
        auto n = make(fp::Op::Constant);
        n->name = t.text;
        static constexpr std::string_view kKnown[] = {"resource", "rootResource", "context",
                                                      "ucum",     "sct",          "loinc"};
        bool known = false;
        for (auto k : kKnown) known = known || k == n->name;
        if (!known) return error("unknown constant %" + n->name);
        ++p_;
        return n;
      }
      case Token::Kind::Identifier: {
        if (t.text == "true" || t.text == "false") {
          auto n = make(fp::Op::Literal);
          n->literal = FpValue::ofBoolean(t.text == "true");
          ++p_;
          return n;
        }
        return invocation();
      }
      case Token::Kind::Symbol:
        if (t.text == "(") {
          ++p_;
          CHTLINK_ASSIGN_OR_RETURN(NodePtr inner, expr(1));
          CHTLINK_TRY(expect(")"));
          return inner;
        }
        if (t.text == "{") {
          ++p_;
          CHTLINK_TRY(expect("}"));
          return make(fp::Op::Empty);
        }
        return error("unexpected '" + t.text + "'");
    }
    return error("unexpected token");
  }

  std::vector<Token> t_;
  size_t p_ = 0;
};

}  // namespace

Result<std::shared_ptr<const Expression>> Expression::compile(std::string_view text) {
  CHTLINK_ASSIGN_OR_RETURN(auto tokens, Lexer(text).run());
  CHTLINK_ASSIGN_OR_RETURN(NodePtr root, Parser(std::move(tokens)).parseAll());
  auto e = std::make_shared<Expression>();
  e->text_ = std::string(text);
  e->root_ = std::move(root);
  return std::shared_ptr<const Expression>(std::move(e));
}

}  // namespace chtlink::fhir::validation
