// `chtlink serve` as a real process: health, metrics, HTTP limits, shutdown, start-up errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "base/json.h"
#include "raw_socket.h"
#include "serve_process.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;

TEST(ServeTest, HealthAnswersStatusUptimeAndVersion) {
  TempDir dir;
  ServeProcess serve(dir);
  TestClient client;
  auto r = client.get(serve.url("/health"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(std::string(r->headers.get("Content-Type")), HasSubstr("application/json"));
  auto body = parseJson(r->body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ((*body)["status"], "ok");
  EXPECT_TRUE((*body)["uptime_seconds"].is_number());
  EXPECT_TRUE((*body)["version"].is_string());
}

TEST(ServeTest, MetricsCountRequestsByRouteAndStatusAndShowQueueDepth) {
  TempDir dir;
  // Without him's router, which otherwise answers every unmatched path.
  ServeProcess serve(dir, {"him.enabled=false"});
  TestClient client;
  ASSERT_TRUE(client.get(serve.url("/health")).has_value());
  ASSERT_TRUE(client.get(serve.url("/nope")).has_value());
  auto r = client.get(serve.url("/metrics"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(
      r->body,
      HasSubstr(R"(chtlink_http_requests_total{method="GET",route="/health",status="200"} 1)"));
  EXPECT_THAT(r->body, HasSubstr(R"(route="unmatched",status="404"} 1)"));
  EXPECT_THAT(r->body, HasSubstr("chtlink_http_request_duration_seconds_bucket"));
  EXPECT_THAT(r->body, HasSubstr(R"(chtlink_queue_jobs{state="dead"} 0)"));
  EXPECT_THAT(r->body, HasSubstr(R"(chtlink_queue_jobs{state="pending"} 0)"));
}

TEST(ServeTest, KeepAliveServesTwoRequestsOnOneConnection) {
  TempDir dir;
  ServeProcess serve(dir);
  RawSocket socket(serve.port());
  ASSERT_TRUE(socket.connected());
  ASSERT_TRUE(socket.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(statusOf(socket.readResponse()), 200);
  ASSERT_TRUE(socket.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(statusOf(socket.readResponse()), 200);
}

TEST(ServeTest, OversizedBodyGets413WithAJsonBody) {
  TempDir dir;
  ServeProcess serve(dir, {"server.max_body_bytes=1000"});
  RawSocket socket(serve.port());
  ASSERT_TRUE(socket.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
  std::string response = socket.readResponse();
  EXPECT_EQ(statusOf(response), 413);
  auto body = parseJson(bodyOf(response));
  ASSERT_TRUE(body.has_value()) << response;
  EXPECT_TRUE((*body)["message"].is_string());
}

TEST(ServeTest, UnknownPathAndWrongMethodGetJsonBodies) {
  TempDir dir;
  // Without him's router, which otherwise answers every unmatched path and method.
  ServeProcess serve(dir, {"him.enabled=false"});
  TestClient client;
  auto missing = client.get(serve.url("/no/such/thing"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(parseJson(missing->body).has_value()) << missing->body;

  net::ClientRequest post;
  post.method = "POST";
  post.url = serve.url("/health");
  auto wrong = client.send(post);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_THAT(std::string(wrong->headers.get("Allow")), HasSubstr("GET"));
  EXPECT_TRUE(parseJson(wrong->body).has_value()) << wrong->body;
}

TEST(ServeTest, MalformedRequestGets400AndTheConnectionClosed) {
  TempDir dir;
  ServeProcess serve(dir);
  RawSocket socket(serve.port());
  ASSERT_TRUE(socket.send("THIS IS NOT HTTP\r\n\r\n"));
  std::string response = socket.readResponse();
  EXPECT_EQ(statusOf(response), 400);
  EXPECT_TRUE(socket.waitClosed());
  // The server is still fine.
  TestClient client;
  auto r = client.get(serve.url("/health"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST(ServeTest, RequestIdIsEchoedAndLogged) {
  TempDir dir;
  ServeProcess serve(dir);
  TestClient client;
  net::Headers headers;
  headers.set("X-Request-Id", "trace-abc-123");
  auto r = client.get(serve.url("/health"), headers);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->headers.get("X-Request-Id"), "trace-abc-123");
  EXPECT_TRUE(waitUntil([&] {
    return serve.process().output().find("trace-abc-123") != std::string::npos;
  })) << serve.process().output();
  auto generated = client.get(serve.url("/health"));
  ASSERT_TRUE(generated.has_value());
  EXPECT_FALSE(generated->headers.get("X-Request-Id").empty());
}

TEST(ServeTest, JsonLogFormatWritesOneJsonObjectPerLine) {
  TempDir dir;
  ServeProcess serve(dir, {}, {"--log-format", "json"});
  TestClient client;
  ASSERT_TRUE(client.get(serve.url("/health")).has_value());
  ASSERT_TRUE(
      waitUntil([&] { return serve.process().output().find("/health") != std::string::npos; }));
  std::istringstream lines(serve.process().output());
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    auto parsed = parseJson(line);
    ASSERT_TRUE(parsed.has_value()) << line;
    EXPECT_TRUE((*parsed)["message"].is_string());
    ++count;
  }
  EXPECT_GE(count, 2);
}

TEST(ServeTest, SigtermLetsARequestInFlightFinishThenExitsZero) {
  TempDir dir;
  ServeProcess serve(dir);
  RawSocket socket(serve.port());
  // A request whose body is still to come when the signal arrives. The server's
  // "100 Continue" proves it has read the head, so the request is in flight.
  ASSERT_TRUE(socket.send(
      "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_EQ(statusOf(socket.readResponse()), 100);
  serve.process().signal(SIGTERM);
  // New connections are refused once the listener is closed.
  ASSERT_TRUE(waitUntil([&] { return !RawSocket(serve.port()).connected(); }))
      << serve.process().output();
  ASSERT_TRUE(socket.send("1234567890"));
  std::string response = socket.readResponse();
  EXPECT_EQ(statusOf(response), 200) << response << serve.process().output();
  EXPECT_EQ(serve.process().wait(std::chrono::seconds(15)), 0) << serve.process().output();
}

TEST(ServeTest, PortInUseIsAnErrorNamingThePortAndTheSetting) {
  TempDir dir;
  ServeProcess first(dir);
  auto r =
      runCommand({CHTLINK_BINARY, "serve", "--set", "server.port=" + std::to_string(first.port()),
                  "--set", "store.url=sqlite:" + dir.file("other.db")},
                 dir.path().string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(std::to_string(first.port())));
  EXPECT_THAT(r.output, HasSubstr("server.port"));
}

TEST(ServeTest, UnwritableDatabasePathIsAStartUpErrorNamingThePath) {
  TempDir dir;
  std::ofstream(dir.file("not-a-dir")) << "x";
  std::string path = dir.file("not-a-dir") + "/chtlink.db";
  auto r = runCommand(
      {CHTLINK_BINARY, "serve", "--set", "server.port=0", "--set", "store.url=sqlite:" + path},
      dir.path().string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(path));
}

TEST(ServeTest, InvalidConfigurationExitsWithCode2NamingTheKey) {
  TempDir dir;
  auto r = runCommand({CHTLINK_BINARY, "serve", "--set", "server.port=http"}, dir.path().string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("server.port"));

  std::ofstream(dir.file("bad.toml")) << "[server]\nport = 1\nbogus = true\n";
  auto f =
      runCommand({CHTLINK_BINARY, "serve", "--config", dir.file("bad.toml")}, dir.path().string());
  EXPECT_EQ(f.exit_code, 2) << f.output;
  EXPECT_THAT(f.output, HasSubstr("bad.toml:3:"));
  EXPECT_THAT(f.output, HasSubstr("server.bogus"));
}

TEST(ConfigCheckTest, PrintsEffectiveConfigurationWithSecretsMasked) {
  TempDir dir;
  auto r = runCommand({CHTLINK_BINARY, "config", "check", "--set",
                       "store.url=postgresql://chtlink:s3cret@db/chtlink"},
                      dir.path().string(), {"CHTLINK_SERVER_PORT=6001"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("port = 6001  # environment CHTLINK_SERVER_PORT"));
  EXPECT_THAT(r.output, HasSubstr("url = \"********\""));
  EXPECT_EQ(r.output.find("s3cret"), std::string::npos);
}

TEST(CliTest, EverySubcommandHasHelpAndVersionWorks) {
  TempDir dir;
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"serve", "--help"},
                                             {"config", "--help"},
                                             {"config", "check", "--help"},
                                             {"config", "docs", "--help"},
                                             {"jobs", "--help"},
                                             {"jobs", "list", "--help"},
                                             {"jobs", "replay", "--help"},
                                             {"jobs", "delete", "--help"}}) {
    args.insert(args.begin(), CHTLINK_BINARY);
    auto r = runCommand(args, dir.path().string());
    EXPECT_EQ(r.exit_code, 0) << args[1] << r.output;
    EXPECT_THAT(r.output, HasSubstr("Usage")) << args[1];
  }
  auto v = runCommand({CHTLINK_BINARY, "--version"}, dir.path().string());
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.output, HasSubstr("chtlink 0."));
  auto bad = runCommand({CHTLINK_BINARY, "frobnicate"}, dir.path().string());
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace chtlink::testing
