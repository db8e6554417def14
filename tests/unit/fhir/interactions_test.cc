// REST interactions, headers and errors of FhirService (in-process, real SQLite store).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fhir_harness.h"

namespace chtlink::fhir {
namespace {

using testing::FhirHarness;

net::Headers header(const std::string& name, const std::string& value) {
  net::Headers h;
  h.set(name, value);
  return h;
}

class InteractionsTest : public ::testing::TestWithParam<testing::TestBackend> {};
INSTANTIATE_TEST_SUITE_P(Backends, InteractionsTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

TEST_P(InteractionsTest, CreateIgnoresBodyIdAndSetsVersionHeaders) {
  FhirHarness h(GetParam());
  auto r = h.call(
      "POST", "/fhir/Subscription",
      R"({"resourceType":"Subscription","id":"patient-1","status":"requested","reason":"x","criteria":"Encounter?identifier=1","channel":{"type":"rest-hook","endpoint":"http://callback.test/fhir"},"meta":{"source":"cht","versionId":"9"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json body = h.json(r);
  std::string id = body["id"];
  EXPECT_NE(id, "patient-1");
  EXPECT_EQ(body["meta"]["versionId"], "1");
  EXPECT_EQ(body["meta"]["source"], "cht");
  EXPECT_EQ(r.headers.get("ETag"), "W/\"1\"");
  EXPECT_EQ(r.headers.get("Location"), "http://fhir.test/fhir/Subscription/" + id + "/_history/1");
  EXPECT_EQ(r.headers.get("Last-Modified"), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(r.headers.get("Content-Type"), "application/fhir+json;charset=utf-8");

  auto read = h.call("GET", "/fhir/Subscription/" + id);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(h.json(read), body);
}

TEST_P(InteractionsTest, UpdateCreatesUnknownIdsThenVersions) {
  FhirHarness h(GetParam());
  const std::string uuid = "5d1d7f5e-7b77-4c3b-9c3e-6a4c1d2e3f40";
  std::string body = R"({"resourceType":"Patient","id":")" + uuid + R"(","gender":"male"})";
  auto created = h.call("PUT", "/fhir/Patient/" + uuid, body);
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_FALSE(created.headers.get("Location").empty());
  auto same = h.call("PUT", "/fhir/Patient/" + uuid, body);
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(h.json(same)["meta"]["versionId"], "1");  // identical content: no new version
  auto changed = h.call("PUT", "/fhir/Patient/" + uuid,
                        R"({"resourceType":"Patient","id":")" + uuid + R"(","gender":"female"})");
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(h.json(changed)["meta"]["versionId"], "2");
  EXPECT_EQ(h.json(h.call("GET", "/fhir/Patient/" + uuid + "/_history/1"))["gender"], "male");
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + uuid + "/_history/3").status, 404);
}

TEST_P(InteractionsTest, DeleteThenReadIsGoneAndHistoryShowsIt) {
  FhirHarness h(GetParam());
  std::string id = h.create(Json::parse(R"({"resourceType":"Patient"})"))["id"];
  auto del = h.call("DELETE", "/fhir/Patient/" + id);
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(h.json(del)["resourceType"], "OperationOutcome");
  auto gone = h.call("GET", "/fhir/Patient/" + id);
  EXPECT_EQ(gone.status, 410);
  EXPECT_EQ(h.json(gone)["issue"][0]["code"], "deleted");
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + id + "/_history/1").status, 200);
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + id + "/_history/2").status, 410);
  EXPECT_EQ(h.call("DELETE", "/fhir/Patient/" + id).status, 200);  // idempotent
  EXPECT_TRUE(h.ids("/fhir/Patient?_id=" + id).empty());
  Json hist = h.json(h.call("GET", "/fhir/Patient/" + id + "/_history"));
  EXPECT_EQ(hist["type"], "history");
  EXPECT_EQ(hist["total"], 2);
  EXPECT_EQ(hist["entry"][0]["request"]["method"], "DELETE");
  EXPECT_FALSE(hist["entry"][0].contains("resource"));
  EXPECT_EQ(hist["entry"][1]["request"]["method"], "POST");
  // Re-created later, its history continues.
  auto again =
      h.call("PUT", "/fhir/Patient/" + id, R"({"resourceType":"Patient","id":")" + id + R"("})");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(h.json(again)["meta"]["versionId"], "3");
}

TEST_P(InteractionsTest, ErrorsAreOperationOutcomesWithTheRightStatus) {
  fhir::FhirOptions options;
  options.max_body_bytes = 200;
  FhirHarness h(options, GetParam());
  auto bad_json =
      h.call("POST", "/fhir/Patient", "{\n  \"resourceType\": \"Patient\",\n  \"x\": }");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_NE(h.json(bad_json)["issue"][0]["diagnostics"].get<std::string>().find("line 3"),
            std::string::npos)
      << bad_json.body;
  EXPECT_EQ(h.call("GET", "/fhir/Patients/1").status, 404);
  EXPECT_EQ(h.json(h.call("GET", "/fhir/Patients/1"))["resourceType"], "OperationOutcome");
  EXPECT_EQ(h.call("POST", "/fhir/Patient", R"({"resourceType":"Observation"})").status, 400);
  EXPECT_EQ(h.call("PUT", "/fhir/Patient/a", R"({"resourceType":"Patient","id":"b"})").status, 400);
  EXPECT_EQ(h.call("PUT", "/fhir/Patient/a", R"({"resourceType":"Patient"})").status, 400);
  EXPECT_EQ(h.call("POST", "/fhir/Patient", R"({"resourceType":"Nope"})").status, 400);
  auto xml =
      h.call("POST", "/fhir/Patient", "<Patient/>", header("Content-Type", "application/fhir+xml"));
  EXPECT_EQ(xml.status, 415);
  EXPECT_NE(xml.body.find("JSON"), std::string::npos);
  auto big = h.call("POST", "/fhir/Patient",
                    R"({"resourceType":"Patient","text":")" + std::string(300, 'x') + "\"}");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(h.json(big)["resourceType"], "OperationOutcome");
  EXPECT_EQ(h.call("GET", "/fhir/Patient/unknown-id").status, 404);
  EXPECT_EQ(h.call("GET", "/fhir/Patient/bad$id").status, 400);
  EXPECT_EQ(h.call("PATCH", "/fhir/Patient").status, 405);
}

TEST_P(InteractionsTest, ConditionalCreateUpdateAndDelete) {
  FhirHarness h(GetParam());
  std::string body = R"({"resourceType":"Patient","identifier":[{"system":"cht","value":"u1"}]})";
  auto first = h.call("POST", "/fhir/Patient", body, header("If-None-Exist", "identifier=cht|u1"));
  EXPECT_EQ(first.status, 201);
  auto second = h.call("POST", "/fhir/Patient", body, header("If-None-Exist", "identifier=cht|u1"));
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(h.json(second)["id"], h.json(first)["id"]);
  EXPECT_EQ(h.ids("/fhir/Patient?identifier=u1").size(), 1u);

  auto upd = h.call(
      "PUT", "/fhir/Patient?identifier=cht|u1",
      R"({"resourceType":"Patient","identifier":[{"system":"cht","value":"u1"}],"gender":"male"})");
  EXPECT_EQ(upd.status, 200) << upd.body;
  EXPECT_EQ(h.json(upd)["id"], h.json(first)["id"]);
  auto upd_new =
      h.call("PUT", "/fhir/Patient?identifier=cht|u2",
             R"({"resourceType":"Patient","identifier":[{"system":"cht","value":"u2"}]})");
  EXPECT_EQ(upd_new.status, 201);
  h.create(
      Json::parse(R"({"resourceType":"Patient","identifier":[{"system":"cht","value":"u2"}]})"));
  EXPECT_EQ(h.call("POST", "/fhir/Patient", body, header("If-None-Exist", "identifier=u2")).status,
            412);
  EXPECT_EQ(h.call("DELETE", "/fhir/Patient?identifier=u2").status, 412);
  EXPECT_EQ(h.call("DELETE", "/fhir/Patient?identifier=cht|u1").status, 200);
  EXPECT_TRUE(h.ids("/fhir/Patient?identifier=u1").empty());
}

TEST_P(InteractionsTest, InlineMatchUrlReferencesResolveOnCreate) {
  FhirHarness h(GetParam());
  std::string pid =
      h.create(Json::parse(R"({"resourceType":"Patient","identifier":[{"value":"cht-1"}]})"))["id"];
  auto r = h.call(
      "POST", "/fhir/Encounter",
      R"({"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/?identifier=cht-1"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(h.json(r)["subject"]["reference"], "Patient/" + pid);
  EXPECT_EQ(
      h.call(
           "POST", "/fhir/Encounter",
           R"({"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient?identifier=none"}})")
          .status,
      404);
  // HAPI-style lookup with a slash before '?'.
  EXPECT_EQ(h.ids("/fhir/Patient/?identifier=cht-1"), (std::vector<std::string>{pid}));
}

TEST_P(InteractionsTest, IfMatchAndPreferAndConditionalRead) {
  FhirHarness h(GetParam());
  std::string id = h.create(Json::parse(R"({"resourceType":"Patient"})"))["id"];
  std::string v2 = R"({"resourceType":"Patient","id":")" + id + R"(","active":true})";
  EXPECT_EQ(h.call("PUT", "/fhir/Patient/" + id, v2, header("If-Match", "W/\"7\"")).status, 412);
  auto ok = h.call("PUT", "/fhir/Patient/" + id, v2, header("If-Match", "W/\"1\""));
  EXPECT_EQ(ok.status, 200);
  auto minimal = h.call("PUT", "/fhir/Patient/" + id,
                        R"({"resourceType":"Patient","id":")" + id + R"(","active":false})",
                        header("Prefer", "return=minimal"));
  EXPECT_EQ(minimal.status, 200);
  EXPECT_TRUE(minimal.body.empty());
  EXPECT_EQ(minimal.headers.get("ETag"), "W/\"3\"");
  auto oo = h.call("POST", "/fhir/Patient", R"({"resourceType":"Patient"})",
                   header("Prefer", "return=OperationOutcome"));
  EXPECT_EQ(h.json(oo)["resourceType"], "OperationOutcome");
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + id, "", header("If-None-Match", "W/\"3\"")).status,
            304);
  EXPECT_EQ(h.call("GET", "/fhir/Patient/" + id, "", header("If-None-Match", "W/\"2\"")).status,
            200);
}

TEST_P(InteractionsTest, ConcurrentIfMatchWritersOneWinsOneGets412) {
  FhirHarness h(GetParam());
  std::string id = h.create(Json::parse(R"({"resourceType":"Patient"})"))["id"];
  std::atomic<int> ok{0}, conflict{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 2; ++i) {
    writers.emplace_back([&, i] {
      auto r = h.call("PUT", "/fhir/Patient/" + id,
                      R"({"resourceType":"Patient","id":")" + id + R"(","gender":")" +
                          (i ? "male" : "female") + "\"}",
                      header("If-Match", "W/\"1\""));
      if (r.status == 200) ++ok;
      if (r.status == 412) ++conflict;
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflict.load(), 1);
  EXPECT_EQ(h.json(h.call("GET", "/fhir/Patient/" + id))["meta"]["versionId"], "2");
}

TEST_P(InteractionsTest, JsonPatch) {
  FhirHarness h(GetParam());
  std::string id = h.create(Json::parse(
      R"({"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"display":"x"}})"))
                       ["id"];
  net::Headers ct;
  ct.set("Content-Type", "application/json-patch+json");
  auto r = h.call("PATCH", "/fhir/ServiceRequest/" + id,
                  R"([{"op":"replace","path":"/status","value":"completed"}])", ct);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(h.json(r)["status"], "completed");
  EXPECT_EQ(h.json(r)["meta"]["versionId"], "2");
  EXPECT_EQ(h.call("PATCH", "/fhir/ServiceRequest/" + id,
                   R"([{"op":"test","path":"/status","value":"active"}])", ct)
                .status,
            422);
  EXPECT_EQ(h.call("PATCH", "/fhir/ServiceRequest/nope", R"([])", ct).status, 404);
  EXPECT_EQ(h.ids("/fhir/ServiceRequest?status=completed"), (std::vector<std::string>{id}));
}

TEST_P(InteractionsTest, HistoryLevelsSinceAndCount) {
  FhirHarness h(GetParam());
  std::string a = h.create(Json::parse(R"({"resourceType":"Patient"})"))["id"];
  h.clock().advance(std::chrono::minutes(1));
  std::string since = h.json(h.call(
      "POST", "/fhir/Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})"))["meta"]
                                                                                ["lastUpdated"];
  h.call("PUT", "/fhir/Patient/" + a,
         R"({"resourceType":"Patient","id":")" + a + R"(","active":true})");
  EXPECT_EQ(h.json(h.call("GET", "/fhir/_history"))["total"], 3);
  EXPECT_EQ(h.json(h.call("GET", "/fhir/Patient/_history"))["total"], 2);
  EXPECT_EQ(h.json(h.call("GET", "/fhir/_history?_since=" + since))["total"], 2);
  Json page = h.json(h.call("GET", "/fhir/_history?_count=1"));
  EXPECT_EQ(page["entry"].size(), 1u);
  EXPECT_EQ(page["entry"][0]["resource"]["resourceType"], "Patient");  // newest first
  std::string next = page["link"][1]["url"];
  Json page2 = h.json(h.call("GET", "/fhir?" + next.substr(next.find('?') + 1)));
  EXPECT_EQ(page2["entry"][0]["resource"]["resourceType"], "Observation");
}

TEST_P(InteractionsTest, CapabilityStatementListsWhatIsIndexed) {
  FhirHarness h(GetParam());
  Json cs = h.json(h.call("GET", "/fhir/metadata"));
  EXPECT_EQ(cs["resourceType"], "CapabilityStatement");
  EXPECT_EQ(cs["fhirVersion"], "4.0.1");
  EXPECT_EQ(cs["implementation"]["url"], "http://fhir.test/fhir");
  EXPECT_EQ(cs["rest"][0]["resource"].size(), 146u);
  bool identifier = false, composite = false;
  for (const auto& r : cs["rest"][0]["resource"]) {
    for (const auto& p : r["searchParam"]) {
      if (r["type"] == "Patient" && p["name"] == "identifier") identifier = true;
      if (p["type"] == "composite") composite = true;
    }
  }
  EXPECT_TRUE(identifier);
  EXPECT_FALSE(composite);
}

}  // namespace
}  // namespace chtlink::fhir
