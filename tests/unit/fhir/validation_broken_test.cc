// A table of deliberately broken resources, one error class each: every one is rejected in
// strict mode with an error at the expected FHIRPath location whose message names the problem.
// Further tests pin which errors the default (HAPI-compatible) mode keeps.
#include <gtest/gtest.h>

#include "fhir/validation/validator.h"

namespace chtlink::fhir::validation {
namespace {

struct Broken {
  const char* what;
  const char* json;
  const char* location;  // Issue::expression of the expected error
  const char* message;   // substring of its message
};

// clang-format off
const Broken kBroken[] = {
    {"unknown element", R"({"resourceType":"Patient","foo":1})", "Patient.foo", "unknown element \"foo\""},
    {"unknown element in a datatype", R"({"resourceType":"Patient","name":[{"family":"A","system":"x"}]})", "Patient.name[0].system", "unknown element \"system\" in HumanName"},
    {"unknown resourceType", R"({"resourceType":"Patientt"})", "Patientt", "unknown resourceType"},
    {"no resourceType", R"({"id":"1"})", "", "has no resourceType"},
    {"array for a single value", R"({"resourceType":"Patient","gender":["male"]})", "Patient.gender", "holds a single value"},
    {"object for a repeating element", R"({"resourceType":"Practitioner","identifier":{"value":"1"}})", "Practitioner.identifier", "must be a JSON array"},
    {"array for a single complex value", R"({"resourceType":"Organization","name":["A"]})", "Organization.name", "holds a single value"},
    {"empty array", R"({"resourceType":"Patient","name":[]})", "Patient.name", "must not be empty"},
    {"missing required element", R"({"resourceType":"Encounter","class":{"code":"AMB"}})", "Encounter.status", "missing required element status"},
    {"missing required complex element", R"({"resourceType":"Observation","status":"final"})", "Observation.code", "missing required element code"},
    {"string for a complex type", R"({"resourceType":"Encounter","status":"finished","class":"outpatient"})", "Encounter.class", "must be a JSON object (Coding)"},
    {"two choice variants", R"({"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"})", "Patient.deceased", "only one of deceased[x]"},
    {"choice with a type not allowed", R"({"resourceType":"Patient","deceasedString":"yes"})", "Patient.deceasedString", "unknown element"},
    {"invalid boolean", R"({"resourceType":"Patient","active":"yes"})", "Patient.active", "not a valid boolean"},
    {"boolean as a string", R"({"resourceType":"Patient","active":"true"})", "Patient.active", "boolean values are JSON booleans"},
    {"invalid date month", R"({"resourceType":"Patient","birthDate":"2020-13-01"})", "Patient.birthDate", "not a valid date"},
    {"date that does not exist", R"({"resourceType":"Patient","birthDate":"2021-02-29"})", "Patient.birthDate", "not a valid date"},
    {"dateTime without time zone", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2020-01-01T10:00:00"})", "Observation.effective.ofType(dateTime)", "not a valid dateTime"},
    {"instant without time", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"issued":"2020-01-01"})", "Observation.issued", "not a valid instant"},
    {"invalid time", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueTime":"25:00:00"})", "Observation.value.ofType(time)", "not a valid time"},
    {"integer out of 32-bit range", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":3000000000})", "Observation.value.ofType(integer)", "32-bit"},
    {"decimal for an integer", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":1.5})", "Observation.value.ofType(integer)", "not a valid integer"},
    {"positiveInt zero", R"({"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"occurrenceTiming":{"repeat":{"frequency":0}}})", "ServiceRequest.occurrence.ofType(Timing).repeat.frequency", "must be 1 or more"},
    {"unsignedInt negative", R"({"resourceType":"Patient","photo":[{"size":-1}]})", "Patient.photo[0].size", "must be 0 or more"},
    {"decimal as text", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"abc"}})", "Observation.value.ofType(Quantity).value", "not a valid decimal"},
    {"empty string", R"({"resourceType":"Patient","name":[{"family":""}]})", "Patient.name[0].family", "must not be an empty string"},
    {"code with repeated whitespace", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"code":"m  g"}})", "Observation.value.ofType(Quantity).code", "not a valid code"},
    {"invalid resource id", R"({"resourceType":"Patient","id":"a_b"})", "Patient.id", "not a valid id"},
    {"uri with whitespace", R"({"resourceType":"Patient","identifier":[{"system":"http://a b","value":"1"}]})", "Patient.identifier[0].system", "contains whitespace"},
    {"url with whitespace", R"({"resourceType":"Endpoint","status":"active","connectionType":{"code":"hl7-fhir-rest"},"payloadType":[{"text":"any"}],"address":"http://a b"})", "Endpoint.address", "not a valid url"},
    {"canonical with whitespace", R"({"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"instantiatesCanonical":["a b"]})", "ServiceRequest.instantiatesCanonical[0]", "not a valid canonical"},
    {"invalid oid", R"({"resourceType":"Patient","extension":[{"url":"http://x.org/e","valueOid":"1.2.3"}]})", "Patient.extension[0].value.ofType(oid)", "not a valid oid"},
    {"invalid uuid", R"({"resourceType":"Patient","extension":[{"url":"http://x.org/e","valueUuid":"abc"}]})", "Patient.extension[0].value.ofType(uuid)", "not a valid uuid"},
    {"invalid base64Binary", R"({"resourceType":"Patient","photo":[{"data":"###"}]})", "Patient.photo[0].data", "not valid base64"},
    {"narrative without div", R"({"resourceType":"Patient","text":{"status":"generated","div":"<p>x</p>"}})", "Patient.text.div", "narrative XHTML"},
    {"code outside a required binding", R"({"resourceType":"Patient","gender":"mail"})", "Patient.gender", "required ValueSet http://hl7.org/fhir/ValueSet/administrative-gender"},
    {"status outside a required binding", R"({"resourceType":"Encounter","status":"done","class":{"code":"AMB"}})", "Encounter.status", "required ValueSet"},
    {"CodeableConcept outside a required binding", R"({"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"bogus"}]}})", "AllergyIntolerance.clinicalStatus", "required ValueSet"},
    {"Subscription channel type outside its binding", R"({"resourceType":"Subscription","status":"requested","reason":"r","criteria":"Encounter?x=1","channel":{"type":"email2"}})", "Subscription.channel.type", "required ValueSet"},
    {"Subscription without criteria", R"({"resourceType":"Subscription","status":"requested","reason":"r","channel":{"type":"rest-hook"}})", "Subscription.criteria", "missing required element criteria"},
    {"reference to a type not allowed", R"({"resourceType":"Patient","managingOrganization":{"reference":"Patient/1"}})", "Patient.managingOrganization.reference", "a reference to Patient is not allowed"},
    {"reference that is not a reference", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"just-text"}})", "Observation.subject.reference", "not a valid reference"},
    {"Reference.type not allowed", R"({"resourceType":"Patient","managingOrganization":{"type":"Patient","reference":"Organization/1"}})", "Patient.managingOrganization.type", "not an allowed target"},
    {"contained reference to a type not allowed", R"({"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"p"}],"managingOrganization":{"reference":"#p"}})", "Patient.managingOrganization.reference", "a reference to Patient is not allowed"},
    {"contained reference to nothing", R"({"resourceType":"Patient","managingOrganization":{"reference":"#missing"}})", "Patient.managingOrganization", "ref-1"},
    {"contained resource with a versionId", R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","meta":{"versionId":"1"}}],"managingOrganization":{"reference":"#o"}})", "Patient", "dom-4"},
    {"contained resource containing another", R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","contained":[{"resourceType":"Organization","id":"q"}]}],"managingOrganization":{"reference":"#o"}})", "Patient", "dom-2"},
    {"contained resource nobody references", R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o"}]})", "Patient", "dom-3"},
    {"invalid element inside a contained resource", R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","foo":1}],"managingOrganization":{"reference":"#o"}})", "Patient.contained[0].foo", "unknown element"},
    {"extension with a value and extensions", R"({"resourceType":"Patient","extension":[{"url":"http://x.org/e","valueString":"a","extension":[{"url":"b","valueString":"c"}]}]})", "Patient.extension[0]", "ext-1"},
    {"extension without url", R"({"resourceType":"Patient","extension":[{"valueString":"a"}]})", "Patient.extension[0].url", "missing required element url"},
    {"extension of a primitive without url", R"({"resourceType":"Patient","birthDate":"2000","_birthDate":{"extension":[{"valueString":"a"}]}})", "Patient.birthDate.extension[0].url", "missing required element url"},
    {"primitive extension part not an object", R"({"resourceType":"Patient","birthDate":"2000","_birthDate":"x"})", "Patient.birthDate", "must hold an object"},
    {"contact without details (pat-1)", R"({"resourceType":"Patient","contact":[{"gender":"male"}]})", "Patient.contact[0]", "pat-1"},
    {"period ending before it starts (per-1)", R"({"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2020-02-02","end":"2020-01-01"}})", "Encounter.period", "per-1"},
    {"observation value with dataAbsentReason (obs-6)", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","dataAbsentReason":{"text":"gone"}})", "Observation", "obs-6"},
    {"total on a batch Bundle (bdl-1)", R"({"resourceType":"Bundle","type":"batch","total":1})", "Bundle", "bdl-1"},
    {"invalid resource inside a Bundle", R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","gender":"x"}}]})", "Bundle.entry[0].resource.gender", "required ValueSet"},
    {"Bundle entry resource not an object", R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":"x"}]})", "Bundle.entry[0].resource", "must be a FHIR resource"},
    {"null in an array without extension", R"({"resourceType":"Patient","name":[{"given":["a",null]}]})", "Patient.name[0].given[1]", "null is only allowed"},
    {"null value", R"({"resourceType":"Patient","gender":null})", "Patient.gender", "null is not a value"},
    {"empty object (ele-1)", R"({"resourceType":"Patient","name":[{}]})", "Patient.name[0]", "ele-1"},
    {"comparator on a SimpleQuantity (sqty-1)", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"referenceRange":[{"low":{"value":1,"comparator":"<"}}]})", "Observation.referenceRange[0].low", "sqty-1"},
    {"fixed value of a profile", R"({"resourceType":"Group","meta":{"profile":["http://hl7.org/fhir/StructureDefinition/actualgroup"]},"type":"person","actual":false})", "Group.actual", "must be exactly true"},
    {"pattern of a profile", R"({"resourceType":"Observation","meta":{"profile":["http://hl7.org/fhir/StructureDefinition/triglyceride"]},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1-8"}]}})", "Observation.code", "must match the pattern"},
};
// clang-format on

class BrokenResourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { validator_ = Validator::create(); }
  static void TearDownTestSuite() { validator_.reset(); }
  static std::shared_ptr<const Validator> validator_;

  ValidationResult run(const std::string& text, ValidationMode mode) {
    auto json = parseJson(text);
    EXPECT_TRUE(json.has_value()) << text;
    ValidationOptions o;
    o.mode = mode;
    return validator_->validate(*json, o);
  }
};
std::shared_ptr<const Validator> BrokenResourceTest::validator_;

std::string dump(const ValidationResult& r) {
  std::string out;
  for (const auto& i : r.issues)
    out +=
        "  " + std::string(severityName(i.severity)) + " " + i.expression + ": " + i.message + "\n";
  return out;
}

TEST_F(BrokenResourceTest, TableHasAtLeastFiftyDistinctCases) {
  EXPECT_GE(std::size(kBroken), 50u);
}

TEST_F(BrokenResourceTest, EachBrokenResourceIsRejectedWithLocationAndMessage) {
  for (const auto& c : kBroken) {
    auto r = run(c.json, ValidationMode::Strict);
    bool found = false;
    for (const auto& i : r.issues) {
      if (i.severity == Severity::Error && i.expression == c.location &&
          i.message.find(c.message) != std::string::npos)
        found = true;
    }
    EXPECT_TRUE(found) << c.what << ": expected an error at \"" << c.location << "\" containing \""
                       << c.message << "\"; got:\n"
                       << dump(r);
  }
}

TEST_F(BrokenResourceTest, ValidBaselinesHaveNoErrors) {
  for (
      const char* ok : {
          R"({"resourceType":"Patient","id":"p-1","active":true,"gender":"female","birthDate":"1990-02-28","name":[{"family":"Doe","given":["Jane"]}],"identifier":[{"system":"http://cht.org/id","value":"abc"}],"managingOrganization":{"reference":"Organization/o1"}})",
          R"({"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/?identifier=abc"},"period":{"start":"2020-01-01","end":"2020-01-02T10:00:00Z"}})",
          R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"X"}],"managingOrganization":{"reference":"#o"}})",
          R"({"resourceType":"Patient","birthDate":"2000","_birthDate":{"extension":[{"url":"http://x.org/e","valueString":"a"}]},"name":[{"given":["a",null],"_given":[null,{"extension":[{"url":"http://x.org/e","valueString":"b"}]}]}]})",
      }) {
    auto r = run(ok, ValidationMode::Strict);
    EXPECT_FALSE(r.hasErrors()) << ok << "\n" << dump(r);
  }
}

TEST_F(BrokenResourceTest, DefaultModeKeepsOnlyWhatHapiRejects) {
  // HAPI's parser drops these and stores the rest: warnings in the default mode.
  for (const char* soft : {
           R"({"resourceType":"Encounter","status":"finished","class":"outpatient"})",
           R"({"resourceType":"Practitioner","identifier":{"value":"1"}})",
           R"({"resourceType":"Patient","name":[{"family":"A","system":"x"}]})",
           R"({"resourceType":"Organization","name":["A"]})",
           R"({"resourceType":"Patient","contact":[{"gender":"male"}]})",
       }) {
    auto r = run(soft, ValidationMode::Default);
    EXPECT_FALSE(r.hasErrors()) << soft << "\n" << dump(r);
    EXPECT_GT(r.count(Severity::Warning), 0u) << soft;
    EXPECT_TRUE(run(soft, ValidationMode::Strict).hasErrors()) << soft;
  }
  // HAPI's parser rejects these (invalid values, unknown enumeration codes): errors always.
  for (
      const char* hard : {
          R"({"resourceType":"Patient","birthDate":"2020-13-01"})",
          R"({"resourceType":"Patient","gender":"mail"})",
          R"({"resourceType":"Patient","active":"yes"})",
          R"({"resourceType":"Patient","id":"a_b"})",
          R"({"resourceType":"Patientt"})",
          R"({"resourceType":"Patient","extension":[{"url":"http://x.org/e","valueString":"a","extension":[{"url":"b","valueString":"c"}]}]})",
      }) {
    EXPECT_TRUE(run(hard, ValidationMode::Default).hasErrors()) << hard;
  }
}

TEST_F(BrokenResourceTest, OperationOutcomeCarriesSeverityCodeAndExpression) {
  auto r = run(R"({"resourceType":"Patient","gender":"mail"})", ValidationMode::Strict);
  Json oo = toOperationOutcome(r);
  ASSERT_EQ(oo["resourceType"], "OperationOutcome");
  bool found = false;
  for (const auto& i : oo["issue"]) {
    if (i.value("severity", "") == "error" && i["expression"][0] == "Patient.gender" &&
        i.value("code", "") == "code-invalid")
      found = true;
  }
  EXPECT_TRUE(found) << oo.dump(2);
  auto clean = toOperationOutcome(ValidationResult{});
  EXPECT_EQ(clean["issue"][0]["severity"], "information");
}

TEST_F(BrokenResourceTest, CoverageCountsEveryInvariant) {
  Coverage c = validator_->coverage();
  EXPECT_GT(c.total, 200u);
  EXPECT_EQ(c.evaluated + c.not_evaluated.size(), c.total);
  // Every invariant of the resources of the mediator flows is evaluated.
  for (const auto& m : c.not_evaluated) {
    for (const auto& t : m.types) {
      for (const char* flow :
           {"Patient", "Practitioner", "PractitionerRole", "Organization", "Location", "Endpoint",
            "ServiceRequest", "Encounter", "Observation", "Subscription", "Bundle", "Element",
            "Extension", "DomainResource", "Resource"})
        EXPECT_NE(t, flow) << m.key << " (" << m.expression << ") is not evaluated: " << m.reason;
    }
  }
  EXPECT_GT(c.bindings_checked, 0u);
}

}  // namespace
}  // namespace chtlink::fhir::validation
