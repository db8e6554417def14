// Search semantics per parameter type, modifier and prefix, through the REST layer on a real
// SQLite store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "fhir_harness.h"

namespace chtlink::fhir {
namespace {

using testing::FhirHarness;
using ::testing::UnorderedElementsAreArray;

struct Case {
  std::string query;
  std::vector<std::string> expected;  // names of the resources that must match
};

// Creates named resources; runs each query; compares by name.
void runTable(FhirHarness& h, const std::string& type, const std::map<std::string, Json>& resources,
              const std::vector<Case>& cases) {
  std::map<std::string, std::string> name_of;
  for (const auto& [name, r] : resources) {
    Json created = h.create(r);
    name_of[created.value("id", "")] = name;
  }
  for (const auto& c : cases) {
    std::vector<std::string> names;
    for (const auto& id : h.ids("/fhir/" + type + "?" + c.query + "&_count=100"))
      names.push_back(name_of[id]);
    EXPECT_THAT(names, UnorderedElementsAreArray(c.expected)) << type << "?" << c.query;
  }
}

class SearchTest : public ::testing::TestWithParam<testing::TestBackend> {};
INSTANTIATE_TEST_SUITE_P(Backends, SearchTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

TEST_P(SearchTest, DatePrefixesFollowTheIntervalTable) {
  FhirHarness h(GetParam());
  auto obs = [](Json effective) {
    Json o{{"resourceType", "Observation"}, {"status", "final"}, {"code", {{"text", "x"}}}};
    o.update(effective);
    return o;
  };
  runTable(h, "Observation",
           {{"A", obs({{"effectiveDateTime", "2024-03-05"}})},
            {"B", obs({{"effectiveDateTime", "2024-03-05T10:00:00Z"}})},
            {"C", obs({{"effectivePeriod", {{"start", "2024-03-01"}, {"end", "2024-03-10"}}}})},
            {"D", obs({{"effectiveDateTime", "2024"}})},
            {"E", obs({{"effectivePeriod", {{"start", "2024-03-06"}}}})},
            {"F", obs({{"effectiveDateTime", "2023-12-31"}})}},
           {{"date=2024-03-05", {"A", "B"}},
            {"date=eq2024-03-05", {"A", "B"}},
            {"date=ne2024-03-05", {"C", "D", "E", "F"}},
            {"date=gt2024-03-05", {"C", "D", "E"}},
            {"date=lt2024-03-05", {"C", "D", "F"}},
            {"date=ge2024-03-05", {"A", "B", "C", "D", "E"}},
            {"date=le2024-03-05", {"A", "B", "C", "D", "F"}},
            {"date=sa2024-03-05", {"E"}},
            {"date=eb2024-03-05", {"F"}},
            {"date=2024", {"A", "B", "C", "D"}},
            {"date=2024-03-05T10:00", {"B"}},
            {"date=ge2024-03-01&date=le2024-03-31", {"A", "B", "C", "D", "E"}},
            {"date=2023,2024-03-05", {"A", "B", "F"}},
            {"date:missing=true", {}}});
}

TEST_P(SearchTest, TokenFormsAndModifiers) {
  FhirHarness h(GetParam());
  runTable(
      h, "Patient",
      {{"P1",
        Json::parse(
            R"({"resourceType":"Patient","identifier":[{"system":"urn:a","value":"1"}],"gender":"male","active":true})")},
       {"P2", Json::parse(
                  R"({"resourceType":"Patient","identifier":[{"value":"1"}],"gender":"female"})")},
       {"P3",
        Json::parse(
            R"({"resourceType":"Patient","identifier":[{"system":"urn:b","value":"2","type":{"text":"Medical record"}}]})")}},
      {{"identifier=1", {"P1", "P2"}},
       {"identifier=urn:a|1", {"P1"}},
       {"identifier=|1", {"P2"}},
       {"identifier=urn:b|", {"P3"}},
       {"identifier=urn:a|2", {}},
       {"identifier=urn:a|1,urn:b|2", {"P1", "P3"}},
       {"gender=male", {"P1"}},
       {"gender:not=male", {"P2", "P3"}},
       {"gender:missing=true", {"P3"}},
       {"gender:missing=false", {"P1", "P2"}},
       {"active=true", {"P1"}},
       {"identifier:text=medical", {"P3"}}});
}

TEST_P(SearchTest, StringMatchingIsPrefixCaseAndAccentInsensitive) {
  FhirHarness h(GetParam());
  runTable(
      h, "Patient",
      {{"M",
        Json::parse(
            R"({"resourceType":"Patient","name":[{"family":"Müller","given":["Anna"]}],"address":[{"city":"Genève"}]})")},
       {"S",
        Json::parse(R"({"resourceType":"Patient","name":[{"family":"Smith","given":["John"]}]})")}},
      {{"name=mul", {"M"}},
       {"name=MÜL", {"M"}},
       {"name=ann", {"M"}},
       {"name=smith", {"S"}},
       {"name=nith", {}},
       {"name:contains=ith", {"S"}},
       {"name:exact=Müller", {"M"}},
       {"name:exact=müller", {}},
       {"family=smi", {"S"}},
       {"address-city=geneve", {"M"}},
       {"name=zz,john", {"S"}}});
}

TEST_P(SearchTest, NumberAndQuantityUseImplicitPrecisionAndPrefixes) {
  FhirHarness h(GetParam());
  auto obs = [](double value, const char* system, const char* code) {
    return Json{
        {"resourceType", "Observation"},
        {"status", "final"},
        {"code", {{"text", "w"}}},
        {"valueQuantity", {{"value", value}, {"system", system}, {"code", code}, {"unit", code}}}};
  };
  runTable(h, "Observation",
           {{"mg100", obs(100, "http://unitsofmeasure.org", "mg")},
            {"kg100", obs(100, "http://unitsofmeasure.org", "kg")},
            {"mg5.4", obs(5.4, "http://unitsofmeasure.org", "mg")}},
           {{"value-quantity=100", {"mg100", "kg100"}},
            {"value-quantity=5", {"mg5.4"}},
            {"value-quantity=5.4", {"mg5.4"}},
            {"value-quantity=5.40", {"mg5.4"}},
            {"value-quantity=5.0", {}},
            {"value-quantity=gt50", {"mg100", "kg100"}},
            {"value-quantity=lt10", {"mg5.4"}},
            {"value-quantity=ge100", {"mg100", "kg100"}},
            {"value-quantity=le5.4", {"mg5.4"}},
            {"value-quantity=ne100", {"mg5.4"}},
            {"value-quantity=ap95", {"mg100", "kg100"}},
            {"value-quantity=100|http://unitsofmeasure.org|kg", {"kg100"}},
            {"value-quantity=100||mg", {"mg100"}}});
  FhirHarness h2(GetParam());
  runTable(
      h2, "RiskAssessment",
      {{"low",
        Json::parse(
            R"({"resourceType":"RiskAssessment","status":"final","subject":{"reference":"http://elsewhere.test/fhir/Patient/x"},"prediction":[{"probabilityDecimal":0.02}]})")},
       {"high",
        Json::parse(
            R"({"resourceType":"RiskAssessment","status":"final","subject":{"reference":"http://elsewhere.test/fhir/Patient/x"},"prediction":[{"probabilityDecimal":0.8}]})")}},
      {{"probability=0.02", {"low"}},
       {"probability=gt0.5", {"high"}},
       {"probability=sa0.5", {"high"}},
       {"probability=eb0.5", {"low"}}});
}

TEST_P(SearchTest, ReferencesUriAndChaining) {
  FhirHarness h(GetParam());
  Json p1 = h.create(
      Json::parse(R"({"resourceType":"Patient","identifier":[{"system":"cht","value":"u1"}]})"));
  Json p2 = h.create(
      Json::parse(R"({"resourceType":"Patient","identifier":[{"system":"cht","value":"u2"}]})"));
  std::string id1 = p1["id"], id2 = p2["id"];
  Json e1 = h.create({{"resourceType", "Encounter"},
                      {"status", "finished"},
                      {"class", {{"code", "AMB"}}},
                      {"subject", {{"reference", "Patient/" + id1}}}});
  Json e2 = h.create({{"resourceType", "Encounter"},
                      {"status", "finished"},
                      {"class", {{"code", "AMB"}}},
                      {"subject", {{"reference", "http://fhir.test/fhir/Patient/" + id2}}}});
  Json e3 = h.create(Json::parse(
      R"({"resourceType":"Encounter","status":"planned","class":{"code":"AMB"},"subject":{"identifier":{"system":"cht","value":"u9"}}})"));
  EXPECT_THAT(h.ids("/fhir/Encounter?subject=Patient/" + id1),
              UnorderedElementsAreArray({e1["id"]}));
  EXPECT_THAT(h.ids("/fhir/Encounter?subject=" + id2), UnorderedElementsAreArray({e2["id"]}));
  EXPECT_THAT(h.ids("/fhir/Encounter?patient=" + id1), UnorderedElementsAreArray({e1["id"]}));
  EXPECT_THAT(h.ids("/fhir/Encounter?subject:Patient=" + id1),
              UnorderedElementsAreArray({e1["id"]}));
  EXPECT_TRUE(h.ids("/fhir/Encounter?subject:Group=" + id1).empty());
  EXPECT_THAT(h.ids("/fhir/Encounter?subject:identifier=cht|u9"),
              UnorderedElementsAreArray({e3["id"]}));
  EXPECT_THAT(h.ids("/fhir/Encounter?subject:Patient.identifier=cht|u2"),
              UnorderedElementsAreArray({e2["id"]}));
  EXPECT_THAT(h.ids("/fhir/Encounter?patient.identifier=u1"),
              UnorderedElementsAreArray({e1["id"]}));

  Json vs = h.create(Json::parse(
      R"({"resourceType":"ValueSet","status":"active","url":"http://example.org/fhir/ValueSet/colors"})"));
  EXPECT_THAT(h.ids("/fhir/ValueSet?url=http://example.org/fhir/ValueSet/colors"),
              UnorderedElementsAreArray({vs["id"]}));
  EXPECT_THAT(h.ids("/fhir/ValueSet?url:below=http://example.org/fhir"),
              UnorderedElementsAreArray({vs["id"]}));
  EXPECT_TRUE(h.ids("/fhir/ValueSet?url=http://example.org/fhir").empty());
  EXPECT_THAT(h.ids("/fhir/ValueSet?url:above=http://example.org/fhir/ValueSet/colors/x"),
              UnorderedElementsAreArray({vs["id"]}));
}

TEST_P(SearchTest, CommonParameters) {
  FhirHarness h(GetParam());
  Json a = h.create(Json::parse(
      R"({"resourceType":"Patient","meta":{"source":"cht","tag":[{"system":"urn:t","code":"x"}],"profile":["http://p/1"],"security":[{"system":"urn:s","code":"R"}]}})"));
  h.clock().advance(std::chrono::seconds(10));
  Json b = h.create(Json::parse(R"({"resourceType":"Patient","meta":{"source":"openmrs"}})"));
  EXPECT_EQ(a["meta"]["source"], "cht");
  EXPECT_THAT(h.ids("/fhir/Patient?_id=" + a["id"].get<std::string>()),
              UnorderedElementsAreArray({a["id"]}));
  EXPECT_THAT(
      h.ids("/fhir/Patient?_id=" + a["id"].get<std::string>() + "," + b["id"].get<std::string>())
          .size(),
      2u);
  EXPECT_THAT(h.ids("/fhir/Patient?_tag=urn:t|x"), UnorderedElementsAreArray({a["id"]}));
  EXPECT_THAT(h.ids("/fhir/Patient?_security=R"), UnorderedElementsAreArray({a["id"]}));
  EXPECT_THAT(h.ids("/fhir/Patient?_profile=http://p/1"), UnorderedElementsAreArray({a["id"]}));
  EXPECT_THAT(h.ids("/fhir/Patient?_source=openmrs"), UnorderedElementsAreArray({b["id"]}));
  std::string t = a["meta"]["lastUpdated"];
  EXPECT_THAT(h.ids("/fhir/Patient?_lastUpdated=gt" + t), UnorderedElementsAreArray({b["id"]}));
  EXPECT_THAT(h.ids("/fhir/Patient?_lastUpdated=ge" + t).size(), 2u);
  EXPECT_THAT(h.ids("/fhir/Patient?_lastUpdated=lt" + b["meta"]["lastUpdated"].get<std::string>()),
              UnorderedElementsAreArray({a["id"]}));
}

TEST_P(SearchTest, SortCountTotalSummaryElementsAndUnknownParameters) {
  FhirHarness h(GetParam());
  for (const char* family : {"Charlie", "alpha", "Bravo"})
    h.create({{"resourceType", "Patient"},
              {"name", {{{"family", family}}}},
              {"birthDate", "2000-01-0" + std::to_string(std::string(family).size() % 9)}});
  auto families = [&](const std::string& q) {
    std::vector<std::string> out;
    Json b = h.json(h.call("GET", "/fhir/Patient?" + q));
    for (const auto& e : b["entry"]) out.push_back(e["resource"]["name"][0]["family"]);
    return out;
  };
  EXPECT_EQ(families("_sort=family"), (std::vector<std::string>{"alpha", "Bravo", "Charlie"}));
  EXPECT_EQ(families("_sort=-family"), (std::vector<std::string>{"Charlie", "Bravo", "alpha"}));
  EXPECT_EQ(families("_sort=birthdate,-family"),
            (std::vector<std::string>{"Bravo", "alpha", "Charlie"}));

  Json counted = h.json(h.call("GET", "/fhir/Patient?_summary=count"));
  EXPECT_EQ(counted["total"], 3);
  EXPECT_FALSE(counted.contains("entry"));
  Json none = h.json(h.call("GET", "/fhir/Patient?_total=none&_count=1"));
  EXPECT_FALSE(none.contains("total"));
  Json page = h.json(h.call("GET", "/fhir/Patient?_count=1"));
  EXPECT_EQ(page["total"], 3);
  EXPECT_EQ(page["entry"].size(), 1u);

  Json elements = h.json(h.call("GET", "/fhir/Patient?_elements=birthDate&_count=1"));
  const Json& r = elements["entry"][0]["resource"];
  EXPECT_TRUE(r.contains("birthDate"));
  EXPECT_FALSE(r.contains("name"));
  EXPECT_EQ(r["meta"]["tag"][0]["code"], "SUBSETTED");

  auto lenient = h.call("GET", "/fhir/Patient?foo=bar&name=alp");
  EXPECT_EQ(lenient.status, 200);
  Json lb = h.json(lenient);
  EXPECT_EQ(lb["total"], 1);
  EXPECT_EQ(lb["link"][0]["url"], "http://fhir.test/fhir/Patient?name=alp");
  EXPECT_EQ(lb["entry"].back()["search"]["mode"], "outcome");
  net::Headers strict;
  strict.set("Prefer", "handling=strict");
  auto refused = h.call("GET", "/fhir/Patient?foo=bar", "", strict);
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(h.json(refused)["resourceType"], "OperationOutcome");
  EXPECT_EQ(h.call("GET", "/fhir/Observation?date=notadate").status, 400);
}

TEST_P(SearchTest, IncludeAndRevinclude) {
  FhirHarness h(GetParam());
  Json p = h.create(Json::parse(R"({"resourceType":"Patient"})"));
  std::string pid = p["id"];
  Json e = h.create({{"resourceType", "Encounter"},
                     {"status", "finished"},
                     {"class", {{"code", "AMB"}}},
                     {"subject", {{"reference", "Patient/" + pid}}}});
  std::string eid = e["id"];
  h.create({{"resourceType", "Observation"},
            {"status", "final"},
            {"code", {{"text", "a"}}},
            {"encounter", {{"reference", "Encounter/" + eid}}}});
  h.create({{"resourceType", "Observation"},
            {"status", "final"},
            {"code", {{"text", "b"}}},
            {"encounter", {{"reference", "Encounter/" + eid}}}});
  Json b =
      h.json(h.call("GET", "/fhir/Encounter?_id=" + eid +
                               "&_revinclude=Observation:encounter&_include=Encounter:patient"));
  EXPECT_EQ(b["total"], 1);
  std::multiset<std::string> modes;
  for (const auto& entry : b["entry"])
    modes.insert(entry["resource"]["resourceType"].get<std::string>() + ":" +
                 entry["search"]["mode"].get<std::string>());
  EXPECT_EQ(modes, (std::multiset<std::string>{"Encounter:match", "Patient:include",
                                               "Observation:include", "Observation:include"}));
}

TEST_P(SearchTest, PostSearchMergesBodyAndUrl) {
  FhirHarness h(GetParam());
  h.create(Json::parse(R"({"resourceType":"Patient","gender":"male","name":[{"family":"A"}]})"));
  h.create(Json::parse(R"({"resourceType":"Patient","gender":"male","name":[{"family":"B"}]})"));
  net::Headers form;
  form.set("Content-Type", "application/x-www-form-urlencoded");
  auto r = h.call("POST", "/fhir/Patient/_search?gender=male", "family=b", form);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(h.json(r)["total"], 1);
}

// Follows next links the way the CHT mediator does: only the query string, appended to the base.
std::vector<std::string> followAll(FhirHarness& h, std::string first,
                                   const std::function<void(int)>& between) {
  std::vector<std::string> ids;
  std::string target = first;
  for (int page = 0; page < 100; ++page) {
    Json b = h.json(h.call("GET", target));
    for (const auto& e : b["entry"]) ids.push_back(e["resource"]["id"]);
    std::string next;
    for (const auto& l : b["link"])
      if (l["relation"] == "next") next = l["url"];
    if (next.empty()) break;
    between(page);
    target = "/fhir/?" + next.substr(next.find('?') + 1);
  }
  return ids;
}

TEST_P(SearchTest, PagingIsStableWhileResourcesArriveAndChange) {
  FhirHarness h(GetParam());
  std::vector<std::string> created;
  for (int i = 0; i < 25; ++i)
    created.push_back(h.create(
        {{"resourceType", "Patient"},
         {"gender", "other"},
         {"birthDate", "1990-01-" + std::string(i < 9 ? "0" : "") + std::to_string(i + 1)}})["id"]);
  // Once the first page is taken (the snapshot is pinned there), a concurrent writer adds
  // matches while the pages are followed and existing matches are updated.
  std::atomic<bool> stop{false};
  std::thread writer;
  auto ids = followAll(h, "/fhir/Patient?gender=other&_count=4", [&](int page) {
    if (page == 0) {
      writer = std::thread([&] {
        for (int i = 0; i < 30 && !stop; ++i)
          h.create({{"resourceType", "Patient"}, {"gender", "other"}});
      });
    }
    Json updated = h.json(h.call("GET", "/fhir/Patient/" + created[static_cast<size_t>(page)]));
    updated["active"] = true;
    h.call("PUT", "/fhir/Patient/" + created[static_cast<size_t>(page)], dumpJson(updated));
  });
  stop = true;
  writer.join();
  EXPECT_EQ(ids, created);  // every original match once, in order, none of the new ones

  auto sorted = followAll(h, "/fhir/Patient?_sort=birthdate&birthdate=lt2000&_count=7", [&](int) {
    h.create({{"resourceType", "Patient"}, {"birthDate", "1980-01-01"}});
  });
  EXPECT_EQ(sorted, created);
}

}  // namespace
}  // namespace chtlink::fhir
