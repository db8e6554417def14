// System search (_type), compartment search, _has, _include:iterate, and the index-driven
// plans (a search limited by an index table must not leak resources of other types).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "fhir/search/sql_builder.h"
#include "fhir_harness.h"

namespace chtlink::fhir {
namespace {

using testing::FhirHarness;
using ::testing::UnorderedElementsAre;

class SearchFeaturesTest : public ::testing::TestWithParam<testing::TestBackend> {};
INSTANTIATE_TEST_SUITE_P(Backends, SearchFeaturesTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

Json patient(const std::string& identifier) {
  return {{"resourceType", "Patient"},
          {"identifier", Json::array({{{"system", "cht"}, {"value", identifier}}})}};
}

Json encounter(const std::string& identifier, const std::string& patient_id) {
  return {{"resourceType", "Encounter"},
          {"status", "finished"},
          {"class", {{"code", "AMB"}}},
          {"identifier", Json::array({{{"system", "cht"}, {"value", identifier}}})},
          {"subject", {{"reference", "Patient/" + patient_id}}}};
}

Json observation(const std::string& code, const std::string& patient_id,
                 const std::string& encounter_id = "") {
  Json o{{"resourceType", "Observation"},
         {"status", "final"},
         {"code", {{"coding", Json::array({{{"system", "http://loinc.org"}, {"code", code}}})}}},
         {"subject", {{"reference", "Patient/" + patient_id}}}};
  if (!encounter_id.empty()) o["encounter"] = {{"reference", "Encounter/" + encounter_id}};
  return o;
}

// (type/id, mode) of every entry of a searchset.
std::multiset<std::string> entries(const Json& bundle) {
  std::multiset<std::string> out;
  if (!bundle.contains("entry")) return out;
  for (const auto& e : bundle["entry"]) {
    if (e["search"]["mode"] == "outcome") continue;
    out.insert(e["resource"]["resourceType"].get<std::string>() + "/" +
               e["resource"]["id"].get<std::string>() + ":" +
               e["search"]["mode"].get<std::string>());
  }
  return out;
}

TEST_P(SearchFeaturesTest, IdentifierSearchStaysWithinTheSearchedType) {
  FhirHarness h(GetParam());
  std::string p = h.create(patient("same"))["id"];
  std::string other = h.create(patient("other"))["id"];
  h.create(encounter("same", p));  // the same identifier on another type
  EXPECT_EQ(h.ids("/fhir/Patient?identifier=cht|same"), std::vector<std::string>{p});
  EXPECT_EQ(h.ids("/fhir/Patient?identifier=same"), std::vector<std::string>{p});
  Json b = h.json(h.call("GET", "/fhir/Patient?identifier=same"));
  EXPECT_EQ(b["total"], 1);
  // Several clauses, one of them a :not (not index-driven) and one on a column.
  EXPECT_EQ(h.ids("/fhir/Patient?identifier=same,other&_id=" + other),
            std::vector<std::string>{other});
  EXPECT_EQ(h.ids("/fhir/Patient?identifier:not=same"), std::vector<std::string>{other});
  // Chaining through an index-driven inner clause.
  EXPECT_EQ(h.ids("/fhir/Encounter?subject:Patient.identifier=same").size(), 1u);
  EXPECT_TRUE(h.ids("/fhir/Encounter?subject:Patient.identifier=other").empty());
  // Conditional create matches by identifier through the same plan.
  net::Headers ine;
  ine.set("If-None-Exist", "identifier=cht|same");
  auto r = h.call("POST", "/fhir/Patient", dumpJson(patient("same")), ine);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(h.json(r)["id"], p);
}

TEST(SqlBuilderTest, IndexTableClausesDriveThePlan) {
  auto defs = Definitions::load();
  search::Indexer indexer(defs);
  using Params = std::vector<std::pair<std::string, std::string>>;
  auto plan = [&](const std::string& type, const Params& params) {
    auto q = search::parseSearch(indexer, type, params, {});
    EXPECT_TRUE(q.has_value());
    auto sql = search::buildConditions(*q, "r", 0);
    EXPECT_TRUE(sql.has_value());
    return *sql;
  };
  EXPECT_TRUE(plan("Patient", {{"identifier", "cht|1"}}).index_driven);
  EXPECT_TRUE(plan("Patient", {{"identifier", "1"}, {"_lastUpdated", "gt2020"}}).index_driven);
  EXPECT_TRUE(plan("Patient", {{"name:missing", "false"}}).index_driven);
  EXPECT_FALSE(plan("Patient", {{"identifier:not", "1"}}).index_driven);
  EXPECT_FALSE(plan("Patient", {{"name:missing", "true"}}).index_driven);
  EXPECT_FALSE(plan("Patient", {{"_id", "1"}}).index_driven);
  EXPECT_FALSE(plan("Patient", {{"_has:Observation:patient:code", "1"}}).index_driven);
  EXPECT_FALSE(plan("Patient", {}).index_driven);
}

TEST_P(SearchFeaturesTest, ParametersWithTheSameExpressionShareTheirRows) {
  auto defs = Definitions::load();
  search::Indexer indexer(defs);
  const SearchParamDef* name = defs->find("Patient", "name");
  const SearchParamDef* phonetic = defs->find("Patient", "phonetic");
  ASSERT_TRUE(name && phonetic);
  EXPECT_EQ(&indexer.storedAs("Patient", *phonetic), name);
  EXPECT_EQ(&indexer.storedAs("Patient", *name), name);
  const SearchParamDef* family = defs->find("Patient", "family");
  EXPECT_EQ(&indexer.storedAs("Patient", *family), family);
  auto rows = indexer.index(
      Json::parse(R"({"resourceType":"Patient","name":[{"family":"Ngugi","given":["Wanjiru"]}]})"),
      "Patient");
  size_t name_rows = 0;
  for (const auto& r : rows.strings) {
    EXPECT_NE(r.param, "phonetic");
    if (r.param == "name") ++name_rows;
  }
  EXPECT_EQ(name_rows, 2u);

  FhirHarness h(GetParam());
  std::string p = h.create(Json::parse(
      R"({"resourceType":"Patient","name":[{"family":"Ngugi","given":["Wanjiru"]}]})"))["id"];
  EXPECT_EQ(h.ids("/fhir/Patient?phonetic=ngu"), std::vector<std::string>{p});
  EXPECT_EQ(h.ids("/fhir/Patient?name=wanj"), std::vector<std::string>{p});
  EXPECT_EQ(h.ids("/fhir/Patient?_sort=phonetic&phonetic:exact=Ngugi"),
            std::vector<std::string>{p});
  EXPECT_TRUE(h.ids("/fhir/Patient?phonetic=kamau").empty());
}

TEST_P(SearchFeaturesTest, SystemSearchByTypeAndCommonParameters) {
  FhirHarness h(GetParam());
  std::string p = h.create(patient("a"))["id"];
  std::string e = h.create(encounter("a", p))["id"];
  std::string o = h.create(observation("1", p))["id"];

  Json b = h.json(h.call("GET", "/fhir?_type=Patient,Encounter&identifier=cht|a"));
  EXPECT_EQ(b["total"], 2);
  EXPECT_THAT(entries(b),
              UnorderedElementsAre("Patient/" + p + ":match", "Encounter/" + e + ":match"));
  // [base]/? as the mediator builds it, and a common parameter over every type.
  b = h.json(h.call("GET", "/fhir/?_id=" + o));
  EXPECT_EQ(b["total"], 1);
  EXPECT_THAT(entries(b), UnorderedElementsAre("Observation/" + o + ":match"));
  b = h.json(h.call("GET", "/fhir?_type=Observation"));
  EXPECT_EQ(b["total"], 1);
  b = h.json(h.call("GET", "/fhir?_lastUpdated=gt2000-01-01&_count=2"));
  EXPECT_EQ(b["total"], 3);
  // Paging links of a system search lead to the rest.
  std::set<std::string> seen;
  for (const auto& entry : b["entry"]) seen.insert(entry["resource"]["id"].get<std::string>());
  std::string next;
  for (const auto& link : b["link"])
    if (link["relation"] == "next") next = link["url"];
  ASSERT_FALSE(next.empty()) << b.dump();
  Json page2 = h.json(h.call("GET", "/fhir" + next.substr(next.find('?'))));
  for (const auto& entry : page2["entry"]) seen.insert(entry["resource"]["id"].get<std::string>());
  EXPECT_EQ(seen, (std::set<std::string>{p, e, o}));
  // POST [base]/_search takes the same form-encoded parameters.
  net::Headers form;
  form.set("Content-Type", "application/x-www-form-urlencoded");
  b = h.json(h.call("POST", "/fhir/_search", "_type=Patient&identifier=a", form));
  EXPECT_EQ(b["total"], 1);

  // name is not a parameter of Observation: ignored and reported, or 400 when strict.
  b = h.json(h.call("GET", "/fhir?_type=Patient,Observation&name=zz"));
  EXPECT_EQ(b["total"], 2);
  EXPECT_EQ(b["entry"].back()["search"]["mode"], "outcome");
  net::Headers strict;
  strict.set("Prefer", "handling=strict");
  EXPECT_EQ(h.call("GET", "/fhir?_type=Patient,Observation&name=zz", "", strict).status, 400);
  EXPECT_EQ(h.json(h.call("GET", "/fhir?_type=Patient,Observation&identifier=a"))["total"], 1);
  EXPECT_EQ(h.call("GET", "/fhir?_type=Nope").status, 400);
}

TEST_P(SearchFeaturesTest, CompartmentSearch) {
  FhirHarness h(GetParam());
  std::string p1 = h.create(patient("1"))["id"];
  std::string p2 = h.create(patient("2"))["id"];
  std::string e1 = h.create(encounter("e1", p1))["id"];
  std::string o1 = h.create(observation("111", p1, e1))["id"];
  std::string o2 = h.create(observation("222", p1))["id"];
  h.create(observation("111", p2));

  EXPECT_THAT(h.ids("/fhir/Patient/" + p1 + "/Observation"), UnorderedElementsAre(o1, o2));
  EXPECT_THAT(h.ids("/fhir/Patient/" + p1 + "/Observation?code=http://loinc.org|111"),
              UnorderedElementsAre(o1));
  EXPECT_THAT(h.ids("/fhir/Patient/" + p1 + "/Encounter"), UnorderedElementsAre(e1));
  EXPECT_TRUE(h.ids("/fhir/Patient/" + p2 + "/Encounter").empty());
  EXPECT_THAT(h.ids("/fhir/Encounter/" + e1 + "/Observation"), UnorderedElementsAre(o1));

  Json b = h.json(h.call("GET", "/fhir/Patient/" + p1 + "/Observation?_count=1"));
  EXPECT_EQ(b["total"], 2);
  EXPECT_EQ(b["link"][0]["url"], "http://fhir.test/fhir/Patient/" + p1 + "/Observation?_count=1");
  std::string next;
  for (const auto& link : b["link"])
    if (link["relation"] == "next") next = link["url"];
  ASSERT_FALSE(next.empty());
  Json page2 = h.json(h.call("GET", "/fhir" + next.substr(next.find('?'))));
  ASSERT_EQ(page2["entry"].size(), 1u);
  EXPECT_NE(page2["entry"][0]["resource"]["id"], b["entry"][0]["resource"]["id"]);
  EXPECT_EQ(page2["total"], 2);

  // Organization is not in the Patient compartment.
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + p1 + "/Organization").status, 400);
  EXPECT_EQ(h.call("POST", "/fhir/Patient/" + p1 + "/Observation", "{}").status, 405);
}

TEST_P(SearchFeaturesTest, HasIsReverseChaining) {
  FhirHarness h(GetParam());
  std::string p1 = h.create(patient("1"))["id"];
  std::string p2 = h.create(patient("2"))["id"];
  h.create(patient("3"));
  h.create(observation("111", p1));
  h.create(observation("222", p2));
  h.create(observation("111", p2));

  EXPECT_THAT(h.ids("/fhir/Patient?_has:Observation:patient:code=111"),
              UnorderedElementsAre(p1, p2));
  EXPECT_THAT(h.ids("/fhir/Patient?_has:Observation:patient:code=222"), UnorderedElementsAre(p2));
  EXPECT_THAT(h.ids("/fhir/Patient?_has:Observation:subject:code=222&identifier=cht|2"),
              UnorderedElementsAre(p2));
  EXPECT_TRUE(h.ids("/fhir/Patient?_has:Observation:patient:code=333").empty());
  EXPECT_EQ(h.call("GET", "/fhir/Patient?_has:Observation:nope:code=1").status, 400);
  EXPECT_EQ(h.call("GET", "/fhir/Patient?_has:Nope:patient:code=1").status, 400);
}

TEST_P(SearchFeaturesTest, IncludeIterateFollowsIncludedResources) {
  FhirHarness h(GetParam());
  std::string org = h.create({{"resourceType", "Organization"}, {"name", "Clinic"}})["id"];
  Json pat = patient("1");
  pat["managingOrganization"] = {{"reference", "Organization/" + org}};
  std::string p = h.create(pat)["id"];
  std::string e = h.create(encounter("e", p))["id"];
  std::string o = h.create(observation("111", p, e))["id"];

  // Observation -> Encounter (include) -> Patient (iterate) -> Organization (iterate).
  Json b = h.json(h.call("GET", "/fhir/Observation?_id=" + o +
                                    "&_include=Observation:encounter"
                                    "&_include:iterate=Encounter:subject"
                                    "&_include:iterate=Patient:organization"));
  EXPECT_EQ(b["total"], 1);
  EXPECT_THAT(entries(b), UnorderedElementsAre(
                              "Observation/" + o + ":match", "Encounter/" + e + ":include",
                              "Patient/" + p + ":include", "Organization/" + org + ":include"));
  // Without :iterate, an include whose source is not the searched type does nothing.
  b = h.json(h.call("GET", "/fhir/Observation?_id=" + o +
                               "&_include=Observation:encounter&_include=Encounter:subject"));
  EXPECT_THAT(entries(b),
              UnorderedElementsAre("Observation/" + o + ":match", "Encounter/" + e + ":include"));
  // _revinclude:iterate: Organization <- Patient <- Encounter.
  b = h.json(h.call("GET", "/fhir/Organization?_id=" + org +
                               "&_revinclude=Patient:organization"
                               "&_revinclude:iterate=Encounter:subject"));
  EXPECT_THAT(entries(b),
              UnorderedElementsAre("Organization/" + org + ":match", "Patient/" + p + ":include",
                                   "Encounter/" + e + ":include"));
}

TEST_P(SearchFeaturesTest, CapabilityStatementDeclaresWhatIsSupported) {
  FhirHarness h(GetParam());
  Json cs = h.json(h.call("GET", "/fhir/metadata"));
  std::set<std::string> interactions;
  for (const auto& i : cs["rest"][0]["interaction"]) interactions.insert(i["code"]);
  EXPECT_TRUE(interactions.count("search-system"));
  EXPECT_EQ(cs["rest"][0]["compartment"].size(), 5u);
  for (const auto& r : cs["rest"][0]["resource"]) {
    if (r["type"] != "Observation") continue;
    std::set<std::string> policy(r["referencePolicy"].begin(), r["referencePolicy"].end());
    EXPECT_TRUE(policy.count("enforced"));
    for (const auto& p : r["searchParam"]) EXPECT_NE(p["type"], "composite") << p["name"];
  }
  EXPECT_NE(cs["rest"][0]["documentation"].get<std::string>().find("Composite"), std::string::npos);
}

}  // namespace
}  // namespace chtlink::fhir
