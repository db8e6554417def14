#include "queue/http_delivery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include "fake_http_client.h"
#include "queue_test_support.h"

namespace chtlink::queue {
namespace {

using ::chtlink::testing::FakeHttpClient;
using ::testing::HasSubstr;

Job httpJob(int64_t id, const HttpJob& http) {
  Job job;
  job.id = id;
  job.kind = std::string(kHttpJobKind);
  job.payload = encodeHttpJob(http);
  return job;
}

HttpJob sample() {
  HttpJob http;
  http.method = "POST";
  http.url = "http://receiver:9000/hook";
  http.headers = {{"Content-Type", "application/fhir+json"}, {"Authorization", "Bearer t"}};
  http.body = R"({"resourceType":"Encounter"})";
  return http;
}

// Runs the handler once against a client answering `answer`; returns the outcome and the
// request the client saw.
std::pair<Outcome, net::ClientRequest> deliver(const Job& job, Result<net::ClientResponse> answer) {
  net::ClientRequest seen;
  FakeHttpClient client([&](net::ClientRequest request, net::HttpClient::Callback done) {
    seen = std::move(request);
    done(answer);
  });
  std::optional<Outcome> outcome;
  makeHttpDeliveryHandler(client)->handle(job, [&](Outcome o) { outcome = std::move(o); });
  EXPECT_TRUE(outcome.has_value());
  return {outcome.value_or(Outcome::fail("no outcome")), std::move(seen)};
}

net::ClientResponse status(int code, std::string body = "") {
  net::ClientResponse r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

TEST(HttpJobTest, EncodeDecodeRoundTrip) {
  HttpJob in = sample();
  auto out = decodeHttpJob(encodeHttpJob(in));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(out->method, in.method);
  EXPECT_EQ(out->url, in.url);
  EXPECT_EQ(out->headers, in.headers);
  EXPECT_EQ(out->body, in.body);
}

TEST(HttpJobTest, DecodeAcceptsHeadersAsAnObjectAndDefaultsToPost) {
  auto out = decodeHttpJob(R"({"url":"http://x/y","headers":{"A":"1"}})");
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(out->method, "POST");
  ASSERT_EQ(out->headers.size(), 1u);
  EXPECT_EQ(out->headers[0].first, "A");
  EXPECT_EQ(out->body, "");
}

TEST(HttpJobTest, DecodeRefusesMalformedPayloads) {
  const char* bad[] = {
      "not json",
      "[]",
      R"({"method":"POST"})",
      R"({"url":""})",
      R"({"url":"http://x","headers":[["only-name"]]})",
      R"({"url":"http://x","headers":{"A":1}})",
      R"({"url":"http://x","body":{"a":1}})",
      R"({"url":"http://x","method":7})",
  };
  for (const char* payload : bad) {
    auto out = decodeHttpJob(payload);
    EXPECT_FALSE(out.has_value()) << payload;
    if (!out.has_value()) {
      EXPECT_EQ(out.error().code, ErrorCode::InvalidArgument) << payload;
    }
  }
}

TEST(HttpDeliveryTest, SendsTheRequestWithTheJobIdHeader) {
  auto [outcome, request] = deliver(httpJob(42, sample()), status(200));
  EXPECT_EQ(outcome.kind, Outcome::Kind::Delivered);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "http://receiver:9000/hook");
  EXPECT_EQ(request.body, R"({"resourceType":"Encounter"})");
  EXPECT_EQ(request.headers.get("X-Chtlink-Job-Id"), "42");
  EXPECT_EQ(request.headers.get("content-type"), "application/fhir+json");
  EXPECT_EQ(request.headers.get("Authorization"), "Bearer t");
}

TEST(HttpDeliveryTest, MapsStatusCodesToOutcomes) {
  struct Case {
    int status;
    Outcome::Kind kind;
  };
  const Case cases[] = {
      {200, Outcome::Kind::Delivered}, {201, Outcome::Kind::Delivered},
      {204, Outcome::Kind::Delivered}, {500, Outcome::Kind::Retry},
      {502, Outcome::Kind::Retry},     {503, Outcome::Kind::Retry},
      {408, Outcome::Kind::Retry},     {429, Outcome::Kind::Retry},
      {400, Outcome::Kind::Fail},      {404, Outcome::Kind::Fail},
      {422, Outcome::Kind::Fail},      {301, Outcome::Kind::Fail},
  };
  for (const Case& c : cases) {
    auto [outcome, request] = deliver(httpJob(7, sample()), status(c.status, "why"));
    EXPECT_EQ(outcome.kind, c.kind) << c.status;
    EXPECT_EQ(request.headers.get("X-Chtlink-Job-Id"), "7") << c.status;
    if (c.kind != Outcome::Kind::Delivered) {
      EXPECT_EQ(outcome.error,
                "POST http://receiver:9000/hook answered " + std::to_string(c.status) + ": why");
    }
  }
}

TEST(HttpDeliveryTest, NetworkErrorsRetryAndBadRequestsFail) {
  struct Case {
    Error error;
    Outcome::Kind kind;
  };
  const Case cases[] = {
      {unavailable("connection refused"), Outcome::Kind::Retry},
      {deadlineExceeded("timed out after 30 s"), Outcome::Kind::Retry},
      {invalidArgument("bad url"), Outcome::Kind::Fail},
      {tooLarge("answer over 64 MiB"), Outcome::Kind::Fail},
  };
  for (const Case& c : cases) {
    auto [outcome, request] = deliver(httpJob(7, sample()), c.error);
    EXPECT_EQ(outcome.kind, c.kind) << c.error.message;
    EXPECT_THAT(outcome.error, HasSubstr("POST http://receiver:9000/hook failed: "));
    EXPECT_THAT(outcome.error, HasSubstr(c.error.message));
  }
}

TEST(HttpDeliveryTest, ErrorQuotesOnlyTheStartOfTheAnswerAndMasksUrlPasswords) {
  HttpJob http = sample();
  http.url = "https://user:secret@cht.example.org/api/v2/records";
  auto [outcome, request] = deliver(httpJob(1, http), status(503, std::string(1000, 'x')));
  EXPECT_EQ(outcome.kind, Outcome::Kind::Retry);
  EXPECT_THAT(outcome.error, HasSubstr("https://user:***@cht.example.org/api/v2/records"));
  EXPECT_THAT(outcome.error, ::testing::Not(HasSubstr("secret")));
  EXPECT_THAT(outcome.error, HasSubstr(std::string(200, 'x') + "..."));
  EXPECT_THAT(outcome.error, ::testing::Not(HasSubstr(std::string(201, 'x'))));
  EXPECT_EQ(request.url, http.url);  // the request itself keeps its credentials
}

TEST(HttpDeliveryTest, UndecodablePayloadFailsNamingTheJob) {
  Job job;
  job.id = 99;
  job.kind = std::string(kHttpJobKind);
  job.payload = "{oops";
  bool sent = false;
  FakeHttpClient client([&](net::ClientRequest, net::HttpClient::Callback) { sent = true; });
  std::optional<Outcome> outcome;
  makeHttpDeliveryHandler(client)->handle(job, [&](Outcome o) { outcome = std::move(o); });
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->kind, Outcome::Kind::Fail);
  EXPECT_THAT(outcome->error, HasSubstr("job 99"));
  EXPECT_FALSE(sent);
}

class HttpDeliveryPoolTest : public QueueTest {};
INSTANTIATE_TEST_SUITE_P(Backends, HttpDeliveryPoolTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

TEST_P(HttpDeliveryPoolTest, RetriesA503ThenDelivers) {
  int calls = 0;
  FakeHttpClient client([&](net::ClientRequest, net::HttpClient::Callback done) {
    done(status(++calls == 1 ? 503 : 201, "busy"));
  });
  JobSpec spec;
  spec.kind = std::string(kHttpJobKind);
  spec.destination = "receiver:9000";
  spec.payload = encodeHttpJob(sample());
  int64_t id = add(spec).value();

  WorkerPool pool(*db_, clock_, random_, options_, testing::nullLogger());
  pool.addHandler(std::string(kHttpJobKind), makeHttpDeliveryHandler(client));
  ASSERT_EQ(pool.pollOnce().value(), 1);
  ASSERT_TRUE(pool.flushOutcomes().has_value());
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Pending);
  EXPECT_EQ(j.last_error, "POST http://receiver:9000/hook answered 503: busy");
  clock_.advance(options_.initial_backoff);
  ASSERT_EQ(pool.pollOnce().value(), 1);
  ASSERT_TRUE(pool.flushOutcomes().has_value());
  EXPECT_EQ(job(id).state, JobState::Done);
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace chtlink::queue
