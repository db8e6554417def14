// ChannelRouter with a fake upstream client and a real (temporary) store.
#include "him/channel_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include "fake_clock.h"
#include "fake_http_client.h"
#include "him/crypto.h"
#include "him/repository.h"
#include "store/migrations.h"
#include "test_database.h"
#include "wait_until.h"

namespace chtlink::him {
namespace {

using chtlink::testing::FakeHttpClient;
using ::testing::HasSubstr;

TEST(FinalStatusTest, OpenHimMatrix) {
  EXPECT_EQ(finalStatus(200, {200}), "Successful");
  EXPECT_EQ(finalStatus(200, {500}), "Completed with error(s)");
  EXPECT_EQ(finalStatus(404, {200}), "Completed");
  EXPECT_EQ(finalStatus(500, {200}), "Failed");
  EXPECT_EQ(finalStatus(200, {404}), "Completed");
  EXPECT_EQ(finalStatus(201, {}), "Successful");
  EXPECT_EQ(finalStatus(302, {}), "Completed");
}

class ChannelRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = chtlink::testing::openTestDatabase(dir_);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    db_ = std::move(opened).value();
    ASSERT_TRUE(store::migrate(*db_, migrations()).has_value());
    log_ = std::make_unique<TransactionLog>(*db_, chtlink::testing::nullLogger());
    router_ = std::make_unique<ChannelRouter>(table_, client_, *log_, clock_, random_, options_,
                                              chtlink::testing::nullLogger());
    Json channel = {{"_id", "ch1"},
                    {"name", "fhir"},
                    {"urlPattern", "^/fhir/.*$"},
                    {"methods", {"GET", "POST"}},
                    {"allow", {"interop"}},
                    {"routes", Json::array({{{"name", "up"},
                                             {"host", "up.local"},
                                             {"port", 8080},
                                             {"primary", true},
                                             {"pathTransform", "s/fhir/baseR4/"}}})}};
    auto state = std::make_shared<RoutingState>();
    state->channels.push_back(*parseChannel(channel));
    state->clients["interop-client"] = {{"_id", "cl1"},         {"clientID", "interop-client"},
                                        {"roles", {"interop"}}, {"passwordAlgorithm", "sha512"},
                                        {"passwordSalt", "s"},  {"passwordHash", sha512Hex("pws")}};
    state->clients["stranger"] = {{"_id", "cl2"},
                                  {"clientID", "stranger"},
                                  {"passwordAlgorithm", "sha512"},
                                  {"passwordSalt", "s"},
                                  {"passwordHash", sha512Hex("pws")}};
    table_.set(state);
  }

  net::Request request(const std::string& method, const std::string& path,
                       const std::string& user = "") {
    net::Request r;
    r.method = method;
    r.path = path;
    r.query = "x=1";
    r.target = path + "?x=1";
    r.remote_address = "10.0.0.7";
    r.headers.set("Host", "him:5001");
    r.headers.set("Connection", "keep-alive, X-Drop");
    r.headers.set("X-Drop", "hop");
    if (!user.empty()) r.headers.set("Authorization", "Basic " + base64Encode(user));
    return r;
  }

  net::Response call(net::Request r) {
    std::optional<net::Response> out;
    router_->handle(std::move(r), net::Reply([&](net::Response resp) { out = std::move(resp); }));
    EXPECT_TRUE(out.has_value());
    return out.value_or(net::Response{});
  }

  Json storedTransactions() {
    log_->flush();
    std::vector<Json> docs;
    EXPECT_TRUE(db_->run(store::Access::Read,
                         [&](store::Transaction& tx) -> Status {
                           CHTLINK_ASSIGN_OR_RETURN(docs, listTransactions(tx, {}));
                           return ok();
                         })
                    .has_value());
    return Json(docs);
  }

  chtlink::testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  chtlink::testing::FakeClock clock_;
  MtRandom random_{1};
  HimOptions options_;
  RoutingTable table_;
  std::vector<net::ClientRequest> sent_;
  std::function<Result<net::ClientResponse>(const net::ClientRequest&)> answer_ =
      [](const net::ClientRequest&) -> Result<net::ClientResponse> {
    net::ClientResponse r;
    r.status = 200;
    r.headers.set("Content-Type", "application/fhir+json");
    r.headers.set("Transfer-Encoding", "chunked");
    r.body = R"({"resourceType":"Bundle"})";
    return r;
  };
  FakeHttpClient client_{[this](net::ClientRequest r, net::HttpClient::Callback done) {
    sent_.push_back(r);
    done(answer_(r));
  }};
  std::unique_ptr<TransactionLog> log_;
  std::unique_ptr<ChannelRouter> router_;
};

TEST_F(ChannelRouterTest, NoChannelIs404WithJsonReason) {
  auto r = call(request("GET", "/other"));
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("no_channel"));
  EXPECT_TRUE(sent_.empty());
  EXPECT_TRUE(storedTransactions().empty());
}

TEST_F(ChannelRouterTest, MissingWrongAndNotAllowedCredentialsAre401WithoutTransaction) {
  auto missing = call(request("GET", "/fhir/Patient"));
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.headers.get("WWW-Authenticate"), "Basic");
  EXPECT_THAT(missing.body, HasSubstr("no credentials"));
  auto wrong = call(request("GET", "/fhir/Patient", "interop-client:bad"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.body, HasSubstr("wrong password"));
  auto stranger = call(request("GET", "/fhir/Patient", "stranger:pw"));
  EXPECT_EQ(stranger.status, 401);
  EXPECT_THAT(stranger.body, HasSubstr("not allowed"));
  EXPECT_TRUE(sent_.empty());
  EXPECT_TRUE(storedTransactions().empty());
}

TEST_F(ChannelRouterTest, ForwardsWithTransformedPathAndOpenHimHeaders) {
  auto r = call(request("GET", "/fhir/Patient", "interop-client:pw"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"resourceType":"Bundle"})");
  EXPECT_FALSE(r.headers.has("Transfer-Encoding"));
  EXPECT_EQ(r.headers.get("X-OpenHIM-TransactionID").size(), 24u);
  ASSERT_EQ(sent_.size(), 1u);
  const auto& out = sent_[0];
  EXPECT_EQ(out.url, "http://up.local:8080/baseR4/Patient?x=1");
  EXPECT_FALSE(out.headers.has("Authorization"));
  EXPECT_FALSE(out.headers.has("Connection"));
  EXPECT_FALSE(out.headers.has("X-Drop"));
  EXPECT_FALSE(out.headers.has("Host"));
  EXPECT_EQ(out.headers.get("X-OpenHIM-ClientID"), "interop-client");
  EXPECT_EQ(out.headers.get("X-Forwarded-For"), "10.0.0.7");
  EXPECT_EQ(out.headers.get("X-Forwarded-Host"), "him:5001");
  EXPECT_EQ(out.headers.get("X-OpenHIM-TransactionID"), r.headers.get("X-OpenHIM-TransactionID"));
  EXPECT_EQ(out.timeout, options_.router_timeout);

  Json txs = storedTransactions();
  ASSERT_EQ(txs.size(), 1u);
  EXPECT_EQ(txs[0]["status"], "Successful");
  EXPECT_EQ(txs[0]["clientID"], "cl1");
  EXPECT_EQ(txs[0]["channelID"], "ch1");
  EXPECT_EQ(txs[0]["request"]["path"], "/fhir/Patient");
  EXPECT_EQ(txs[0]["request"]["querystring"], "x=1");
  EXPECT_EQ(txs[0]["response"]["status"], 200);
  EXPECT_EQ(txs[0]["orchestrations"][0]["name"], "up");
}

TEST_F(ChannelRouterTest, UpstreamDownIs500AndFailed) {
  answer_ = [](const net::ClientRequest&) -> Result<net::ClientResponse> {
    return unavailable("connect ECONNREFUSED 127.0.0.1:8080");
  };
  auto r = call(request("GET", "/fhir/Patient", "interop-client:pw"));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("ECONNREFUSED"));
  Json txs = storedTransactions();
  ASSERT_EQ(txs.size(), 1u);
  EXPECT_EQ(txs[0]["status"], "Failed");
  EXPECT_THAT(txs[0]["error"]["message"].get<std::string>(), HasSubstr("ECONNREFUSED"));
}

TEST_F(ChannelRouterTest, TimeoutIsReportedAsOpenHimWordsIt) {
  answer_ = [](const net::ClientRequest&) -> Result<net::ClientResponse> {
    return deadlineExceeded("timed out");
  };
  auto r = call(request("GET", "/fhir/Patient", "interop-client:pw"));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("Request took longer than 60000ms"));
}

TEST_F(ChannelRouterTest, MediatorResponseIsUnwrappedAndOrchestrationsRecorded) {
  answer_ = [](const net::ClientRequest&) -> Result<net::ClientResponse> {
    net::ClientResponse r;
    r.status = 200;
    r.headers.set("Content-Type", "application/json+openhim; charset=utf-8");
    r.body =
        dumpJson({{"x-mediator-urn", "urn:m"},
                  {"status", "Completed"},
                  {"response",
                   {{"status", "201"},
                    {"headers", {{"content-type", "application/json"}}},
                    {"body", R"({"ok":true})"}}},
                  {"orchestrations", Json::array({{{"name", "o1"},
                                                   {"request", {{"path", "/x"}, {"method", "GET"}}},
                                                   {"response", {{"status", 200}}}}})},
                  {"properties", {{"k", "v"}}}});
    return r;
  };
  auto r = call(request("POST", "/fhir/Patient", "interop-client:pw"));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_EQ(r.headers.get("content-type"), "application/json");
  Json txs = storedTransactions();
  ASSERT_EQ(txs.size(), 1u);
  EXPECT_EQ(txs[0]["status"], "Completed");
  EXPECT_EQ(txs[0]["properties"]["k"], "v");
  ASSERT_EQ(txs[0]["orchestrations"].size(), 2u);
  EXPECT_EQ(txs[0]["orchestrations"][0]["name"], "o1");
  EXPECT_EQ(txs[0]["orchestrations"][1]["name"], "up");
}

TEST_F(ChannelRouterTest, InvalidMediatorResponseIs500) {
  answer_ = [](const net::ClientRequest&) -> Result<net::ClientResponse> {
    net::ClientResponse r;
    r.status = 200;
    r.headers.set("Content-Type", "application/json+openhim");
    r.body = R"({"no":"response"})";
    return r;
  };
  auto r = call(request("GET", "/fhir/Patient", "interop-client:pw"));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("bad_mediator_response"));
  EXPECT_EQ(storedTransactions()[0]["status"], "Failed");
}

TEST_F(ChannelRouterTest, BodiesAreCappedWhenStored) {
  options_.max_stored_body_bytes = 4;
  auto req = request("POST", "/fhir/Patient", "interop-client:pw");
  req.body = "0123456789";
  auto r = call(std::move(req));
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].body, "0123456789");
  Json txs = storedTransactions();
  EXPECT_EQ(txs[0]["request"]["body"], "0123\n[truncated ...]");
  EXPECT_EQ(txs[0]["canRerun"], false);
}

TEST_F(ChannelRouterTest, SecondaryRoutesAreRecordedAndDecideTheFinalStatus) {
  Json channel = {
      {"_id", "ch2"},
      {"name", "fan-out"},
      {"urlPattern", "^/fan$"},
      {"methods", {"POST"}},
      {"authType", "public"},
      {"routes", Json::array({{{"name", "primary"}, {"host", "p"}, {"port", 1}, {"primary", true}},
                              {{"name", "audit"}, {"host", "a"}, {"port", 2}}})}};
  auto state = std::make_shared<RoutingState>(*table_.get());
  state->channels.insert(state->channels.begin(), *parseChannel(channel));
  table_.set(state);
  answer_ = [](const net::ClientRequest& r) -> Result<net::ClientResponse> {
    net::ClientResponse out;
    out.status = r.url.find("//a:2") != std::string::npos ? 500 : 200;
    out.body = "from " + r.url;
    return out;
  };
  auto req = request("POST", "/fan");
  req.body = "payload";
  auto r = call(std::move(req));
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("//p:1"));
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].body, "payload");
  Json txs = storedTransactions();
  ASSERT_EQ(txs.size(), 1u);
  EXPECT_EQ(txs[0]["status"], "Completed with error(s)");
  ASSERT_EQ(txs[0]["routes"].size(), 1u);
  EXPECT_EQ(txs[0]["routes"][0]["name"], "audit");
  EXPECT_EQ(txs[0]["routes"][0]["response"]["status"], 500);
}

}  // namespace
}  // namespace chtlink::him
