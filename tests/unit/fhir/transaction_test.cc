// Batch and transaction Bundles.
#include <gtest/gtest.h>

#include "fhir_harness.h"

namespace chtlink::fhir {
namespace {

using testing::FhirHarness;

Json entry(const std::string& full_url, Json resource, const std::string& method,
           const std::string& url) {
  Json e{{"resource", std::move(resource)}, {"request", {{"method", method}, {"url", url}}}};
  if (!full_url.empty()) e["fullUrl"] = full_url;
  return e;
}

class TransactionTest : public ::testing::TestWithParam<testing::TestBackend> {};
INSTANTIATE_TEST_SUITE_P(Backends, TransactionTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

TEST_P(TransactionTest, RewritesUrnUuidsAndConditionalReferences) {
  FhirHarness h(GetParam());
  h.create(Json::parse(R"({"resourceType":"Organization","identifier":[{"value":"org-1"}]})"));
  Json bundle{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
  bundle["entry"].push_back(
      entry("urn:uuid:enc",
            {{"resourceType", "Encounter"},
             {"status", "finished"},
             {"class", {{"code", "AMB"}}},
             {"subject", {{"reference", "urn:uuid:pat"}}},
             {"serviceProvider", {{"reference", "Organization?identifier=org-1"}}}},
            "POST", "Encounter"));
  bundle["entry"].push_back(entry(
      "urn:uuid:pat",
      Json::parse(R"({"resourceType":"Patient","identifier":[{"system":"cht","value":"b7"}]})"),
      "POST", "Patient"));
  bundle["entry"][1]["request"]["ifNoneExist"] = "identifier=cht|b7";
  auto r = h.call("POST", "/fhir", dumpJson(bundle));
  ASSERT_EQ(r.status, 200) << r.body;
  Json resp = h.json(r);
  EXPECT_EQ(resp["type"], "transaction-response");
  ASSERT_EQ(resp["entry"].size(), 2u);
  EXPECT_EQ(resp["entry"][0]["response"]["status"], "201 Created");
  std::string patient_loc = resp["entry"][1]["response"]["location"];
  std::string pid = patient_loc.substr(8, patient_loc.find("/_history") - 8);
  EXPECT_EQ(resp["entry"][0]["resource"]["subject"]["reference"], "Patient/" + pid);
  EXPECT_EQ(resp["entry"][0]["resource"]["serviceProvider"]["reference"].get<std::string>().rfind(
                "Organization/", 0),
            0u);

  // Posting it again: the Patient matches (200), a second Encounter is created.
  Json again = h.json(h.call("POST", "/fhir", dumpJson(bundle)));
  EXPECT_EQ(again["entry"][1]["response"]["status"], "200 OK");
  EXPECT_EQ(h.ids("/fhir/Patient?identifier=cht|b7").size(), 1u);
  EXPECT_EQ(h.ids("/fhir/Encounter?subject=Patient/" + pid).size(), 2u);
}

TEST_P(TransactionTest, FailingFifthEntryLeavesNothingBehind) {
  FhirHarness h(GetParam());
  Json bundle{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
  for (int i = 0; i < 4; ++i)
    bundle["entry"].push_back(entry(
        "", {{"resourceType", "Patient"}, {"identifier", {{{"value", "tx-" + std::to_string(i)}}}}},
        "POST", "Patient"));
  // Entry 5 updates with a mismatching id: 400, the whole Bundle fails.
  bundle["entry"].push_back(
      entry("", Json::parse(R"({"resourceType":"Patient","id":"other"})"), "PUT", "Patient/p5"));
  auto r = h.call("POST", "/fhir", dumpJson(bundle));
  EXPECT_EQ(r.status, 400);
  Json oo = h.json(r);
  EXPECT_EQ(oo["resourceType"], "OperationOutcome");
  EXPECT_NE(oo["issue"][0]["diagnostics"].get<std::string>().find("Bundle.entry[4]"),
            std::string::npos);
  EXPECT_EQ(h.json(h.call("GET", "/fhir/Patient?_summary=count"))["total"], 0);
  EXPECT_EQ(h.json(h.call("GET", "/fhir/_history"))["total"], 0);
}

TEST_P(TransactionTest, ProcessingOrderDeletesBeforeCreatesAndReadsLast) {
  FhirHarness h(GetParam());
  std::string old =
      h.create(Json::parse(R"({"resourceType":"Patient","identifier":[{"value":"old"}]})"))["id"];
  Json bundle{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
  bundle["entry"].push_back(
      Json{{"request", {{"method", "GET"}, {"url", "Patient?identifier=new"}}}});
  bundle["entry"].push_back(
      entry("", Json::parse(R"({"resourceType":"Patient","identifier":[{"value":"new"}]})"), "POST",
            "Patient"));
  bundle["entry"].push_back(Json{{"request", {{"method", "DELETE"}, {"url", "Patient/" + old}}}});
  Json resp = h.json(h.call("POST", "/fhir", dumpJson(bundle)));
  ASSERT_EQ(resp["entry"].size(), 3u) << dumpJson(resp);
  EXPECT_EQ(resp["entry"][0]["resource"]["total"], 1);  // the GET saw the POST
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + old).status, 410);
}

TEST_P(TransactionTest, BatchReportsEachEntry) {
  FhirHarness h(GetParam());
  Json bundle{{"resourceType", "Bundle"}, {"type", "batch"}, {"entry", Json::array()}};
  bundle["entry"].push_back(
      entry("", Json::parse(R"({"resourceType":"Patient"})"), "POST", "Patient"));
  bundle["entry"].push_back(Json{{"request", {{"method", "GET"}, {"url", "Patient/missing"}}}});
  bundle["entry"].push_back(
      entry("", Json::parse(R"({"resourceType":"Patient"})"), "POST", "Patient"));
  auto r = h.call("POST", "/fhir", dumpJson(bundle));
  ASSERT_EQ(r.status, 200);
  Json resp = h.json(r);
  EXPECT_EQ(resp["type"], "batch-response");
  EXPECT_EQ(resp["entry"][0]["response"]["status"], "201 Created");
  EXPECT_EQ(resp["entry"][1]["response"]["status"], "404 Not Found");
  EXPECT_EQ(resp["entry"][1]["response"]["outcome"]["resourceType"], "OperationOutcome");
  EXPECT_EQ(resp["entry"][2]["response"]["status"], "201 Created");
  EXPECT_EQ(h.json(h.call("GET", "/fhir/Patient?_summary=count"))["total"], 2);
}

}  // namespace
}  // namespace chtlink::fhir
