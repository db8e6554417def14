#include "cht/outbound/request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "fake_http_client.h"

namespace chtlink::cht::outbound {
namespace {

using ::testing::HasSubstr;

class MapCredentials final : public CredentialStore {
 public:
  std::map<std::string, std::string> values;
  Result<std::optional<std::string>> get(std::string_view key) override {
    auto found = values.find(std::string(key));
    if (found == values.end()) return std::optional<std::string>();
    return std::optional<std::string>(found->second);
  }
};

PushConfig config(const std::string& auth_json) {
  auto settings = parseOutboundSettingsText(
      R"({"outbound":{"cfg":{"relevant_to":"true","destination":{"base_url":"http://127.0.0.1:9/base/","path":"/in",)" +
      auth_json + R"(},"mapping":{}}}})");
  EXPECT_TRUE(settings.has_value());
  EXPECT_FALSE(settings->configs.at(0).problem.has_value())
      << settings->configs.at(0).problem->message;
  return settings->configs.at(0);
}

std::string header(const PushRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "(absent)";
}

TEST(PushRequestTest, BasicAuth) {
  MapCredentials credentials;
  credentials.values["openhim1"] = "interop-password";
  auto request = buildPushRequest(
      config(R"("auth":{"type":"basic","username":"interop-client","password_key":"openhim1"})"),
      makePayload(OrderedJson{{"a", 1}}), credentials);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->url, "http://127.0.0.1:9/base/in");
  EXPECT_EQ(request->body, R"({"a":1})");
  EXPECT_EQ(header(*request, "content-type"), "application/json");
  EXPECT_EQ(header(*request, "accept"), "application/json");
  EXPECT_EQ(header(*request, "authorization"),
            "Basic aW50ZXJvcC1jbGllbnQ6aW50ZXJvcC1wYXNzd29yZA==");
}

TEST(PushRequestTest, HeaderAuthSendsTheValueVerbatim) {
  MapCredentials credentials;
  credentials.values["token"] = "Bearer abc";
  auto request = buildPushRequest(
      config(R"("auth":{"type":"HEADER","name":"Authorization","value_key":"token"})"),
      makePayload(OrderedJson::object()), credentials);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(header(*request, "authorization"), "Bearer abc");
  EXPECT_FALSE(request->login.has_value());
}

TEST(PushRequestTest, MissingCredentialIsChtsError) {
  MapCredentials credentials;
  auto request = buildPushRequest(
      config(R"("auth":{"type":"basic","username":"u","password_key":"openhim1"})"),
      makePayload(OrderedJson::object()), credentials);
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message,
            "Credentials for 'openhim1' have not been configured. See the Outbound documentation.");
}

TEST(PushRequestTest, MusoSihLogsInThenSendsTheToken) {
  MapCredentials credentials;
  credentials.values["muso"] = "p&ss";
  auto request = buildPushRequest(
      config(R"("auth":{"type":"muso-sih","username":"me","password_key":"muso","path":"/login"})"),
      makePayload(OrderedJson{{"x", "y"}}), credentials);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  ASSERT_TRUE(request->login.has_value());
  EXPECT_EQ(request->login->url, "http://127.0.0.1:9/base/login");
  EXPECT_EQ(request->login->form_body, "login=me&password=p%26ss");
  std::vector<net::ClientRequest> seen;
  testing::FakeHttpClient client([&](net::ClientRequest sent, net::HttpClient::Callback done) {
    seen.push_back(sent);
    net::ClientResponse answer;
    answer.status = 200;
    if (seen.size() == 1) answer.body = R"({"statut":200,"data":{"username_token":"T 1"}})";
    done(answer);
  });
  ASSERT_TRUE(sendPush(client, *request).has_value());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].headers.get("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(seen[1].url, "http://127.0.0.1:9/base/in?token=T+1");
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].body, R"({"x":"y"})");
}

TEST(PushRequestTest, MusoSihLoginRefusedFailsThePush) {
  MapCredentials credentials;
  credentials.values["muso"] = "p";
  auto request = buildPushRequest(
      config(R"("auth":{"type":"muso-sih","username":"me","password_key":"muso","path":"/login"})"),
      makePayload(OrderedJson::object()), credentials);
  ASSERT_TRUE(request.has_value());
  testing::FakeHttpClient client([&](net::ClientRequest, net::HttpClient::Callback done) {
    net::ClientResponse answer;
    answer.status = 200;
    answer.body = R"({"statut":401})";
    done(answer);
  });
  auto sent = sendPush(client, *request);
  ASSERT_FALSE(sent.has_value());
  EXPECT_THAT(sent.error().message, HasSubstr("Got 401 when requesting auth"));
}

TEST(PushRequestTest, Non2xxIsAFailure) {
  MapCredentials credentials;
  auto request =
      buildPushRequest(config(R"("x":1)"), makePayload(OrderedJson::object()), credentials);
  ASSERT_TRUE(request.has_value());
  int status = 0;
  testing::FakeHttpClient client([&](net::ClientRequest, net::HttpClient::Callback done) {
    net::ClientResponse answer;
    answer.status = status;
    answer.body = "nope";
    done(answer);
  });
  status = 400;
  auto failed = sendPush(client, *request);
  ASSERT_FALSE(failed.has_value());
  EXPECT_THAT(failed.error().message, HasSubstr("answered 400: nope"));
  status = 201;
  EXPECT_TRUE(sendPush(client, *request).has_value());
}

}  // namespace
}  // namespace chtlink::cht::outbound
