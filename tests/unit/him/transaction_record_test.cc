#include "him/transaction_record.h"

#include <gtest/gtest.h>

namespace chtlink::him {
namespace {

TransactionRecord fullRecord() {
  auto request = std::make_shared<RecordedRequest>();
  request->host = "localhost";
  request->port = std::string("5001");
  request->path = "/fhir/Patient";
  request->querystring = "identifier=x";
  request->method = "POST";
  request->headers = {{"Accept", "application/json"}, {"X-Tag", "a"}, {"X-Tag", "b"}};
  request->body = "{\"resourceType\":\"Patient\",\"note\":\"line\\nbreak \xff\"}";
  request->timestamp = "2024-05-01T10:11:12.000Z";

  TransactionRecord record;
  record.id = "tx1";
  record.status = "Successful";
  record.client_id = "client-object-id";
  record.client_ip = "127.0.0.1";
  record.channel_id = "channel-1";
  record.request = request;
  record.response = RecordedResponse{
      201, {{"Content-Type", "application/fhir+json"}}, "{}", "2024-05-01T10:11:12.005Z"};
  record.mediator_orchestrations.push_back({{"name", "from the mediator"}});
  RecordedRequest sent;
  sent.host = "127.0.0.1";
  sent.port = 8090;
  sent.path = "/fhir/Patient?identifier=x";
  sent.method = "POST";
  sent.timestamp = "2024-05-01T10:11:12.001Z";
  record.orchestrations.push_back(
      {"fhir", sent, RecordedResponse{201, {}, "{}", "2024-05-01T10:11:12.004Z"}, std::nullopt});
  record.routes.push_back({"audit", sent, std::nullopt, "connect ECONNREFUSED"});
  record.properties = {{"patient", "p1"}};
  record.error = Json{{"message", "m"}, {"stack", ""}};
  record.was_rerun = false;
  record.parent_id = "tx0";
  record.duration_ms = 5.25;
  return record;
}

TEST(TransactionRecordTest, WritesOpenHimsTransactionShape) {
  auto parsed = parseJson(fullRecord().toJson());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const Json& doc = *parsed;
  EXPECT_EQ(doc["_id"], "tx1");
  EXPECT_EQ(doc["status"], "Successful");
  EXPECT_EQ(doc["clientID"], "client-object-id");
  EXPECT_EQ(doc["clientIP"], "127.0.0.1");
  EXPECT_EQ(doc["channelID"], "channel-1");
  EXPECT_EQ(doc["request"]["port"], "5001");  // the Host header's port stays text
  EXPECT_EQ(doc["request"]["querystring"], "identifier=x");
  EXPECT_EQ(doc["request"]["headers"]["X-Tag"], "a, b");  // repeated fields joined
  EXPECT_EQ(doc["request"]["headers"]["Accept"], "application/json");
  EXPECT_EQ(doc["request"]["body"],
            "{\"resourceType\":\"Patient\",\"note\":\"line\\nbreak \xEF\xBF\xBD\"}");
  EXPECT_EQ(doc["response"]["status"], 201);
  EXPECT_EQ(doc["response"]["headers"]["Content-Type"], "application/fhir+json");
  ASSERT_EQ(doc["orchestrations"].size(), 2u);
  EXPECT_EQ(doc["orchestrations"][0]["name"], "from the mediator");  // the mediator's first
  EXPECT_EQ(doc["orchestrations"][1]["name"], "fhir");
  EXPECT_EQ(doc["orchestrations"][1]["request"]["port"], 8090);  // a route's port is a number
  EXPECT_FALSE(doc["orchestrations"][1]["request"].contains("querystring"));
  EXPECT_EQ(doc["orchestrations"][1]["response"]["status"], 201);
  ASSERT_EQ(doc["routes"].size(), 1u);
  EXPECT_EQ(doc["routes"][0]["error"]["message"], "connect ECONNREFUSED");
  EXPECT_FALSE(doc["routes"][0].contains("response"));
  EXPECT_EQ(doc["properties"]["patient"], "p1");
  EXPECT_EQ(doc["error"]["message"], "m");
  EXPECT_EQ(doc["canRerun"], true);
  EXPECT_EQ(doc["autoRetry"], false);
  EXPECT_EQ(doc["wasRerun"], false);
  EXPECT_EQ(doc["childIDs"], Json::array());
  EXPECT_EQ(doc["parentID"], "tx0");
  EXPECT_DOUBLE_EQ(doc["durationMs"].get<double>(), 5.25);
}

TEST(TransactionRecordTest, AProcessingRecordLeavesOutWhatIsNotKnownYet) {
  TransactionRecord record = fullRecord();
  record.status = "Processing";
  record.response.reset();
  record.mediator_orchestrations.clear();
  record.orchestrations.clear();
  record.routes.clear();
  record.error.reset();
  record.parent_id.reset();
  record.duration_ms.reset();
  auto parsed = parseJson(record.toJson());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ((*parsed)["status"], "Processing");
  for (const char* absent : {"response", "error", "parentID", "durationMs"})
    EXPECT_FALSE(parsed->contains(absent)) << absent;
  EXPECT_EQ((*parsed)["orchestrations"], Json::array());
  EXPECT_EQ((*parsed)["routes"], Json::array());
  EXPECT_EQ((*parsed)["request"]["path"], "/fhir/Patient");
}

}  // namespace
}  // namespace chtlink::him
