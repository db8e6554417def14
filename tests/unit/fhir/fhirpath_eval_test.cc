// The FHIRPath evaluator of the validator (src/fhir/validation/fhirpath.h), on typed resources.
#include <gtest/gtest.h>

#include <deque>

#include "fhir/validation/fhirpath.h"
#include "fhir/validation/model.h"

namespace chtlink::fhir::validation {
namespace {

class FhirPathEvalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = Model::load(); }
  static void TearDownTestSuite() { model_.reset(); }
  static std::shared_ptr<const Model> model_;

  // Evaluates `expr` on `resource_text` and returns the result as JSON values (system values
  // as JSON scalars) for easy comparison.
  Json eval(const std::string& resource_text, const std::string& expr) {
    auto compiled = Expression::compile(expr);
    EXPECT_TRUE(compiled.has_value()) << expr << ": " << compiled.error().message;
    if (!compiled.has_value()) return Json();
    resource_ = parseJson(resource_text).value();
    const StructureDef* type = model_->type(resource_.value("resourceType", ""));
    FpValue root = FpValue::node(&resource_, type, type ? type->root : nullptr);
    EvalContext ctx;
    ctx.model = model_.get();
    ctx.resource = root;
    ctx.root_resource = root;
    ctx.context = root;
    ctx.strings = &strings_;
    auto r = (*compiled)->evaluate(ctx, {root});
    EXPECT_TRUE(r.has_value()) << expr << ": " << r.error().message;
    Json out = Json::array();
    if (!r.has_value()) return out;
    for (const auto& v : *r) {
      switch (v.kind) {
        case FpValue::Kind::Node:
          out.push_back(v.json ? *v.json : Json());
          break;
        case FpValue::Kind::Boolean:
          out.push_back(v.boolean);
          break;
        case FpValue::Kind::Integer:
          out.push_back(v.integer);
          break;
        case FpValue::Kind::Decimal:
          out.push_back(v.decimal);
          break;
        default:
          out.push_back(std::string(v.text));
      }
    }
    return out;
  }

  Json resource_;
  std::deque<std::string> strings_;
};
std::shared_ptr<const Model> FhirPathEvalTest::model_;

const char* kPatient = R"({"resourceType":"Patient","id":"p1","active":true,
  "name":[{"use":"official","family":"Doe","given":["Jane","Ann"]},{"family":"Roe"}],
  "birthDate":"1990-05-01","deceasedDateTime":"2020-01-01T10:00:00Z",
  "contained":[{"resourceType":"Organization","id":"o1","name":"Clinic"}],
  "managingOrganization":{"reference":"#o1"},
  "extension":[{"url":"http://x.org/a","valueString":"v"}]})";

TEST_F(FhirPathEvalTest, PathsFlattenArraysAndFilterByType) {
  EXPECT_EQ(eval(kPatient, "Patient.name.given"), Json::parse(R"(["Jane","Ann"])"));
  EXPECT_EQ(eval(kPatient, "name.family"), Json::parse(R"(["Doe","Roe"])"));
  EXPECT_EQ(eval(kPatient, "name[1].family"), Json::parse(R"(["Roe"])"));
  EXPECT_EQ(eval(kPatient, "Observation.status"), Json::array());
  EXPECT_EQ(eval(kPatient, "name.given.count()"), Json::parse("[2]"));
}

TEST_F(FhirPathEvalTest, ChoiceElementsAndTypeOperators) {
  EXPECT_EQ(eval(kPatient, "deceased"), Json::parse(R"(["2020-01-01T10:00:00Z"])"));
  EXPECT_EQ(eval(kPatient, "deceased is dateTime"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "deceased is DateTime"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "deceased is boolean"), Json::parse("[false]"));
  EXPECT_EQ(eval(kPatient, "deceased.ofType(boolean).exists()"), Json::parse("[false]"));
  EXPECT_EQ(eval(kPatient, "contained.first().is(Organization)"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "contained.ofType(Organization).name"), Json::parse(R"(["Clinic"])"));
  EXPECT_EQ(eval(kPatient, "(birthDate as date) < @2000"), Json::parse("[true]"));
}

TEST_F(FhirPathEvalTest, BooleanLogicIsThreeValued) {
  EXPECT_EQ(eval(kPatient, "active and {}"), Json::array());
  EXPECT_EQ(eval(kPatient, "active.not() and {}"), Json::parse("[false]"));
  EXPECT_EQ(eval(kPatient, "{} or active"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "active xor true"), Json::parse("[false]"));
  EXPECT_EQ(eval(kPatient, "gender.exists() implies false"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "active implies {}"), Json::array());
}

TEST_F(FhirPathEvalTest, ComparisonsAndArithmetic) {
  EXPECT_EQ(eval(kPatient, "birthDate < deceased"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "@2020 <= @2020-01-01"), Json::array());  // precision differs
  EXPECT_EQ(eval(kPatient, "1 + 2 * 3"), Json::parse("[7]"));
  EXPECT_EQ(eval(kPatient, "7 div 2 = 3 and 7 mod 2 = 1"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "'a' & {} & 'b'"), Json::parse(R"(["ab"])"));
  EXPECT_EQ(eval(kPatient, "1 = 1.0"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "name.family = 'Doe'"), Json::parse("[false]"));  // 2 items vs 1
  EXPECT_EQ(eval(kPatient, "'Doe' in name.family"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "name.family contains 'Zed'"), Json::parse("[false]"));
}

TEST_F(FhirPathEvalTest, CollectionFunctions) {
  EXPECT_EQ(eval(kPatient, "name.where(use = 'official').given.first()"),
            Json::parse(R"(["Jane"])"));
  EXPECT_EQ(eval(kPatient, "name.all(family.exists())"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "name.exists(given.count() > 1)"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "name.select(given).count()"), Json::parse("[2]"));
  EXPECT_EQ(eval(kPatient, "(name.family | name.family).count()"), Json::parse("[2]"));
  EXPECT_EQ(eval(kPatient, "name.family.combine(name.family).isDistinct()"),
            Json::parse("[false]"));
  EXPECT_EQ(eval(kPatient, "name.given.tail()"), Json::parse(R"(["Ann"])"));
  EXPECT_EQ(eval(kPatient, "iif(active, 'y', 'n')"), Json::parse(R"(["y"])"));
  EXPECT_EQ(eval(kPatient, "name.family.intersect('Roe' | 'X')"), Json::parse(R"(["Roe"])"));
}

TEST_F(FhirPathEvalTest, StringFunctions) {
  EXPECT_EQ(eval(kPatient, "id.startsWith('p') and id.endsWith('1')"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "name[0].family.substring(1)"), Json::parse(R"(["oe"])"));
  EXPECT_EQ(eval(kPatient, "name[0].family.matches('^D[a-z]+$')"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "name[0].family.replaceMatches('o', '0')"), Json::parse(R"(["D0e"])"));
  EXPECT_EQ(eval(kPatient, "name[0].family.length()"), Json::parse("[3]"));
  EXPECT_EQ(eval(kPatient, "'12'.toInteger() + 1"), Json::parse("[13]"));
  EXPECT_EQ(eval(kPatient, "5.toString()"), Json::parse(R"(["5"])"));
}

TEST_F(FhirPathEvalTest, TreeFunctionsAndResolve) {
  EXPECT_EQ(eval(kPatient, "managingOrganization.resolve().name"), Json::parse(R"(["Clinic"])"));
  EXPECT_EQ(eval(kPatient, "descendants().where($this = 'Ann').exists()"), Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "name[1].children().count()"), Json::parse("[1]"));
  EXPECT_EQ(eval(kPatient, "birthDate.hasValue() and name.hasValue().not()"),
            Json::parse("[true]"));
  EXPECT_EQ(eval(kPatient, "extension('http://x.org/a').value"), Json::parse(R"(["v"])"));
  EXPECT_EQ(eval(kPatient, "%resource.id = id and %ucum = 'http://unitsofmeasure.org'"),
            Json::parse("[true]"));
}

TEST_F(FhirPathEvalTest, CompileErrorsNameTheProblem) {
  auto unsupported = Expression::compile("name.memberOf('http://x')");
  ASSERT_FALSE(unsupported.has_value());
  EXPECT_NE(unsupported.error().message.find("memberOf() is not supported"), std::string::npos);
  auto syntax = Expression::compile("name.(");
  ASSERT_FALSE(syntax.has_value());
  EXPECT_NE(syntax.error().message.find("position"), std::string::npos);
  EXPECT_FALSE(Expression::compile("'unterminated").has_value());
  EXPECT_FALSE(Expression::compile("first(1)").has_value());
}

TEST_F(FhirPathEvalTest, InvariantTestTreatsEmptyAsSatisfied) {
  resource_ = parseJson(kPatient).value();
  const StructureDef* type = model_->type("Patient");
  FpValue root = FpValue::node(&resource_, type, type->root);
  EvalContext ctx;
  ctx.model = model_.get();
  ctx.resource = ctx.root_resource = ctx.context = root;
  ctx.strings = &strings_;
  EXPECT_TRUE(*(*Expression::compile("gender = 'male'"))->test(ctx, root));
  EXPECT_FALSE(*(*Expression::compile("active.not()"))->test(ctx, root));
  EXPECT_FALSE((*Expression::compile("name.family and true"))->test(ctx, root).has_value());
}

}  // namespace
}  // namespace chtlink::fhir::validation
