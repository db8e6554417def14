// `chtlink cht-sim` and `chtlink outbound dry-run` as real processes: LTFU seed, outbound push
// to a real local receiver that is down and then up, a restart keeping state, and the dry-run
// exit codes against files and against the running emulator.
#include "cht_sim_process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <mutex>

#include "child_process.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "receiver.h"
#include "temp_dir.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;

// A receiver on a port fixed in advance, so it can be "down" (nothing listening) first.
class PortReceiver {
 public:
  explicit PortReceiver(uint16_t port) {
    net::Router router;
    router.add("POST", "/{rest...}", [this](net::Request request, net::Reply reply) {
      {
        std::lock_guard lock(mu_);
        bodies_.push_back(request.path + " " + request.body);
      }
      net::Response response;
      response.status = 200;
      response.body = "{}";
      reply(std::move(response));
    });
    net::ServerOptions options;
    options.port = port;
    server_ = std::make_unique<net::Server>(loop_, options, std::move(router), nullptr);
    listening_ = server_->listen().has_value();
    loop_.start();
  }
  ~PortReceiver() {
    server_.reset();
    loop_.stop();
  }
  bool listening() const { return listening_; }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  net::EventLoop loop_{1};
  std::unique_ptr<net::Server> server_;
  bool listening_ = false;
  std::mutex mu_;
  std::vector<std::string> bodies_;
};

// A port that was free a moment ago (bound by a throwaway receiver, then released).
uint16_t freePort() {
  Receiver probe;
  return probe.port();
}

class Http {
 public:
  Http() {
    loop_.start();
    client_ = net::makeBeastHttpClient(loop_, {});
  }
  ~Http() {
    client_.reset();
    loop_.stop();
  }
  net::ClientResponse send(const std::string& method, const std::string& url,
                           const std::string& body = "") {
    net::ClientRequest request;
    request.method = method;
    request.url = url;
    request.body = body;
    request.headers.set("content-type", "application/json");
    request.auth = net::BasicAuth{"medic", "password"};
    auto answer = client_->sendSync(std::move(request));
    EXPECT_TRUE(answer.has_value()) << answer.error().message;
    return answer.has_value() ? *answer : net::ClientResponse{};
  }

 private:
  net::EventLoop loop_{1};
  std::unique_ptr<net::HttpClient> client_;
};

TEST(ChtSimProcessTest, PushWaitsWhileTheReceiverIsDownAndIsDeliveredWhenItIsUp) {
  TempDir dir;
  const uint16_t receiver_port = freePort();
  ChtSimProcess sim(dir, "http://127.0.0.1:" + std::to_string(receiver_port), {"--test-hooks"});
  ASSERT_NE(sim.port(), 0) << sim.process().output();
  Http http;
  auto created = http.send(
      "POST", sim.url("/api/v1/people"),
      R"({"name":"John Test","sex":"male","date_of_birth":"1980-06-06","role":"patient"})");
  ASSERT_EQ(created.status, 200) << created.body;
  auto monitoring = http.send("GET", sim.url("/api/v2/monitoring"));
  EXPECT_THAT(monitoring.body, HasSubstr(R"("backlog":1)"));

  PortReceiver receiver(receiver_port);
  ASSERT_TRUE(receiver.listening());
  EXPECT_EQ(http.send("POST", sim.url("/_sim/scheduler/run")).status, 200);
  auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_THAT(bodies[0], HasSubstr("/mediator/patient "));
  EXPECT_THAT(bodies[0], HasSubstr(R"("given":[null])"));
  EXPECT_THAT(http.send("GET", sim.url("/api/v2/monitoring")).body, HasSubstr(R"("backlog":0)"));
  // Delivered once: another scheduler run sends nothing.
  http.send("POST", sim.url("/_sim/scheduler/run"));
  EXPECT_EQ(receiver.bodies().size(), 1u);
}

TEST(ChtSimProcessTest, RestartKeepsDocumentsAndSequence) {
  TempDir dir;
  std::string last_seq;
  {
    ChtSimProcess sim(dir, "http://127.0.0.1:9", {"--test-hooks"});
    ASSERT_NE(sim.port(), 0) << sim.process().output();
    Http http;
    EXPECT_EQ(http.send("PUT", sim.url("/medic/kept"), R"({"v":1})").status, 201);
    auto changes = http.send("GET", sim.url("/medic/_changes"));
    last_seq = changes.body.substr(changes.body.find("\"last_seq\""));
    sim.process().signal(SIGTERM);
    auto code = sim.process().wait(std::chrono::seconds(10));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << sim.process().output();
  }
  ChtSimProcess sim(dir, "http://127.0.0.1:9", {"--test-hooks"});
  ASSERT_NE(sim.port(), 0) << sim.process().output();
  Http http;
  auto doc = http.send("GET", sim.url("/medic/kept"));
  EXPECT_EQ(doc.status, 200);
  EXPECT_THAT(doc.body, HasSubstr(R"("v":1)"));
  auto changes = http.send("GET", sim.url("/medic/_changes"));
  EXPECT_THAT(changes.body, HasSubstr(last_seq));
}

TEST(ChtSimProcessTest, DryRunShowsPayloadsAndFailsOnErrors) {
  TempDir dir;
  {
    std::ofstream settings(dir.file("settings.json"));
    settings << R"j({"transitions":{"mark_for_outbound":true},"outbound":{"p":{
      "relevant_to":"doc.type === 'person'",
      "destination":{"base_url":"http://h","path":"/x"},
      "mapping":{"id":"doc._id","name":{"expr":"doc.name.toUpperCase()"},"sex":"doc.sex"}}}})j";
    std::ofstream good(dir.file("good.json"));
    good
        << R"([{"_id":"a","type":"person","name":"Ann","sex":"female"},{"_id":"c","type":"clinic"}])";
    std::ofstream bad(dir.file("bad.json"));
    bad << R"({"docs":[{"_id":"b","type":"person","name":"Bob"}]})";
  }
  auto good = runCommand({CHTLINK_BINARY, "outbound", "dry-run", "--settings",
                          dir.file("settings.json"), "--docs", dir.file("good.json")},
                         dir.path().string());
  EXPECT_EQ(good.exit_code, 0) << good.output;
  EXPECT_THAT(good.output, HasSubstr(R"(payload {"id":"a","name":"ANN","sex":"female"})"));
  EXPECT_THAT(good.output, HasSubstr("p -> POST http://h/x"));
  EXPECT_THAT(good.output, HasSubstr("no outbound config applies"));
  auto bad = runCommand({CHTLINK_BINARY, "outbound", "dry-run", "--settings",
                         dir.file("settings.json"), "--docs", dir.file("bad.json")},
                        dir.path().string());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("Mapping error for 'p/sex' on source document 'b': cannot "
                                    "find 'doc.sex' on source document"));
  auto usage =
      runCommand({CHTLINK_BINARY, "outbound", "dry-run", "--settings", dir.file("settings.json")},
                 dir.path().string());
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
}

TEST(ChtSimProcessTest, DryRunAgainstTheEmulatorUsesItsSettingsAndHydratedDocs) {
  TempDir dir;
  ChtSimProcess sim(dir, "http://127.0.0.1:9", {"--test-hooks"});
  ASSERT_NE(sim.port(), 0) << sim.process().output();
  Http http;
  auto place =
      http.send("POST", sim.url("/api/v1/places"), R"({"name":"Home","type":"district_hospital"})");
  ASSERT_EQ(place.status, 200) << place.body;
  const std::string place_id = place.body.substr(place.body.find("\"id\":\"") + 6, 32);
  auto person = http.send("POST", sim.url("/api/v1/people"),
                          R"({"name":"Amina Otieno","short_name":"Amina","sex":"female",)"
                          R"("date_of_birth":"1990-04-12","role":"patient","place":")" +
                              place_id + "\"}");
  ASSERT_EQ(person.status, 200) << person.body;
  auto run = runCommand({CHTLINK_BINARY, "outbound", "dry-run", "--cht",
                         "http://medic:password@127.0.0.1:" + std::to_string(sim.port()), "--json"},
                        dir.path().string());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr(R"("config":"FHIR_patient")"));
  EXPECT_THAT(run.output, HasSubstr(R"("given":["Amina"])"));
  EXPECT_THAT(run.output, ::testing::Not(HasSubstr("cannot hydrate")));
}

}  // namespace
}  // namespace chtlink::testing
