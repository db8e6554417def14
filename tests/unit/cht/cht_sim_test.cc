// cht-sim in process: its routes on a real listener, driven through ChtClient (so the CHT
// client is exercised against it too) and raw requests where status codes and envelopes
// matter; outbound pushes go to a real local Receiver.
#include "cht/emulator/cht_sim.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <tuple>

#include "../script/script_platform_env.h"
#include "cht/client/cht_client.h"
#include "cht/emulator/doc_store.h"
#include "cht/feed/pull_follower.h"
#include "cht/feed/pull_runner.h"
#include "cht/outbound/request.h"
#include "fake_clock.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "queue/http_delivery.h"
#include "queue/queue.h"
#include "receiver.h"
#include "store/migrations.h"
#include "test_database.h"
#include "wait_until.h"

namespace chtlink::cht::emulator {
namespace {

using ::testing::HasSubstr;

class ChtSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::openTestDatabase(dir_);
    ASSERT_TRUE(db.has_value()) << db.error().message;
    db_ = std::move(db).value();
    ASSERT_TRUE(store::migrate(*db_, DocStore::migrations()).has_value());
    auto engine = script::Engine::create(script::testing::platform(), {}, nullptr);
    ASSERT_TRUE(engine.has_value());
    engine_ = std::move(engine).value();
    loop_.start();
    http_ = net::makeBeastHttpClient(loop_, {});
    startSim();
  }

  void TearDown() override {
    stopSim();
    http_.reset();
    loop_.stop();
  }

  void startSim() {
    ChtSimOptions options;
    options.seed_ltfu = true;
    options.router_url = receiver_.url("");
    options.test_hooks = true;
    options.max_longpoll = std::chrono::milliseconds(5'000);
    auto sim =
        ChtSim::create(*db_, *engine_, *http_, clock_, random_, options, testing::nullLogger());
    ASSERT_TRUE(sim.has_value()) << sim.error().message;
    sim_ = std::move(sim).value();
    server_ = std::make_unique<net::Server>(loop_, net::ServerOptions{}, sim_->router(),
                                            testing::nullLogger());
    auto port = server_->listen();
    ASSERT_TRUE(port.has_value());
    base_ = "http://127.0.0.1:" + std::to_string(*port);
  }

  void stopSim() {
    if (server_) {
      // A destroyed Server closes its connections on their strands, later: a request already
      // read (a runner's longpoll sent just before it stopped) could still reach the sim's
      // routes after the sim is gone. Wait until every connection is closed first.
      auto closed = std::make_shared<std::promise<void>>();
      server_->shutdown(std::chrono::milliseconds(0), [closed] { closed->set_value(); });
      EXPECT_EQ(closed->get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    }
    server_.reset();
    if (sim_) sim_->stop();
    sim_.reset();
  }

  ChtClient client(const std::string& user = "medic", const std::string& password = "password") {
    auto created = ChtClient::create(*http_, ChtClientOptions{base_, user, password, {}});
    EXPECT_TRUE(created.has_value());
    return std::move(created).value();
  }

  net::ClientResponse raw(const std::string& method, const std::string& path,
                          const std::string& body = "", const std::string& user = "medic",
                          const std::string& password = "password") {
    net::ClientRequest request;
    request.method = method;
    request.url = base_ + path;
    request.body = body;
    request.headers.set("content-type", "application/json");
    if (!user.empty()) request.auth = net::BasicAuth{user, password};
    auto answer = http_->sendSync(std::move(request));
    EXPECT_TRUE(answer.has_value()) << answer.error().message;
    return answer.has_value() ? *answer : net::ClientResponse{};
  }

  static OrderedJson json(const std::string& text) {
    auto parsed = outbound::parseOrderedJson(text);
    EXPECT_TRUE(parsed.has_value()) << text;
    return parsed.has_value() ? *parsed : OrderedJson();
  }

  std::vector<net::Request> pushes(const std::string& path) {
    std::vector<net::Request> out;
    for (auto& request : receiver_.requests()) {
      if (request.path == path) out.push_back(request);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<script::Engine> engine_;
  testing::FakeClock clock_;
  MtRandom random_{7};
  net::EventLoop loop_{2};
  std::unique_ptr<net::HttpClient> http_;
  testing::Receiver receiver_;
  std::unique_ptr<ChtSim> sim_;
  std::unique_ptr<net::Server> server_;
  std::string base_;
};

TEST_F(ChtSimTest, RevisionsAndConflicts) {
  auto cht = client();
  auto first = cht.putDoc(json(R"({"_id":"doc1","type":"thing","n":1})"));
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(revGeneration(first->rev), 1);
  EXPECT_EQ(first->rev.size(), 2u + 32u);
  auto again = raw("PUT", "/medic/doc1", R"({"n":2})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.body, R"({"error":"conflict","reason":"Document update conflict."})");
  auto stale = cht.putDoc(json(R"({"_id":"doc1","_rev":"1-00000000000000000000000000000000"})"));
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::Conflict);
  EXPECT_THAT(stale.error().message, HasSubstr("Document update conflict."));
  auto doc = json(R"({"_id":"doc1","n":2})");
  doc["_rev"] = first->rev;
  auto second = cht.putDoc(doc);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(revGeneration(second->rev), 2);
  auto read = cht.getDoc("doc1");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ((*read)["n"], 2);
  auto deleted = raw("DELETE", "/medic/doc1?rev=" + second->rev);
  EXPECT_EQ(deleted.status, 200);
  auto gone = raw("GET", "/medic/doc1");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.body, R"({"error":"not_found","reason":"deleted"})");
  EXPECT_EQ(raw("GET", "/medic/never").body, R"({"error":"not_found","reason":"missing"})");
}

TEST_F(ChtSimTest, ChangesOrderCollapseSinceAndDeletes) {
  auto cht = client();
  auto a = cht.putDoc(json(R"({"_id":"a"})"));
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(cht.putDoc(json(R"({"_id":"b"})")).has_value());
  auto a2 = json(R"({"_id":"a","v":2})");
  a2["_rev"] = a->rev;
  auto a_second = cht.putDoc(a2);
  ASSERT_TRUE(a_second.has_value());
  ChangesQuery query;
  auto page = cht.changes(query);
  ASSERT_TRUE(page.has_value()) << page.error().message;
  std::vector<std::string> ids;
  for (const auto& change : page->results) {
    if (change.id == "a" || change.id == "b") ids.push_back(change.id);
  }
  EXPECT_THAT(ids, ::testing::ElementsAre("b", "a"));  // a once, at its latest seq
  EXPECT_EQ(page->results.back().id, "a");
  EXPECT_EQ(page->results.back().rev, a_second->rev);
  EXPECT_THAT(page->last_seq, ::testing::EndsWith("-emu"));
  // since is exclusive: from b's seq only a follows.
  std::string b_seq;
  for (const auto& change : page->results) {
    if (change.id == "b") b_seq = change.seq;
  }
  query.since = b_seq;
  auto after = cht.changes(query);
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->results.size(), 1u);
  EXPECT_EQ(after->results[0].id, "a");
  ASSERT_TRUE(after->results[0].doc.has_value());
  EXPECT_EQ((*after->results[0].doc)["v"], 2);
  // Nothing new: empty, last_seq stays the current one.
  query.since = after->last_seq;
  auto empty = cht.changes(query);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->results.empty());
  EXPECT_EQ(empty->last_seq, after->last_seq);
  // Deletes appear with deleted:true.
  EXPECT_EQ(raw("DELETE", "/medic/a?rev=" + a_second->rev).status, 200);
  auto deleted = cht.changes(query);
  ASSERT_TRUE(deleted.has_value());
  ASSERT_EQ(deleted->results.size(), 1u);
  EXPECT_TRUE(deleted->results[0].deleted);
  // limit
  query.since = "0";
  query.limit = 1;
  auto limited = cht.changes(query);
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(limited->results.size(), 1u);
  EXPECT_EQ(raw("GET", "/medic/_changes?since=garbage").status, 400);
}

TEST_F(ChtSimTest, LongpollAnswersOnTheNextWrite) {
  auto cht = client();
  auto current = cht.changes(ChangesQuery{});
  ASSERT_TRUE(current.has_value());
  ChangesQuery query;
  query.since = current->last_seq;
  query.longpoll = std::chrono::milliseconds(4'000);
  auto waiting = std::async(std::launch::async, [&] { return client().changes(query); });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  ASSERT_TRUE(cht.putDoc(json(R"({"_id":"late"})")).has_value());
  auto page = waiting.get();
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_EQ(page->results.size(), 1u);
  EXPECT_EQ(page->results[0].id, "late");
}

TEST_F(ChtSimTest, BulkDocsAndNewEditsFalse) {
  auto answer = raw("POST", "/medic/_bulk_docs", R"({"docs":[{"_id":"x","a":1},{"_id":"y"}]})");
  EXPECT_EQ(answer.status, 201);
  auto results = json(answer.body);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["ok"], true);
  auto conflict = json(raw("POST", "/medic/_bulk_docs", R"({"docs":[{"_id":"x"}]})").body);
  EXPECT_EQ(conflict[0]["error"], "conflict");

  auto verbatim = raw("POST", "/medic/_bulk_docs",
                      R"({"new_edits":false,"docs":[{"_id":"r","_rev":"1-abc","v":1}]})");
  EXPECT_EQ(verbatim.status, 201);
  EXPECT_EQ(verbatim.body, "[]");
  EXPECT_EQ(json(raw("GET", "/medic/r").body)["_rev"], "1-abc");
  auto cht = client();
  auto before = cht.changes(ChangesQuery{});
  // The same revision again is a no-op: no new change.
  raw("POST", "/medic/_bulk_docs",
      R"({"new_edits":false,"docs":[{"_id":"r","_rev":"1-abc","v":9}]})");
  auto after = cht.changes(ChangesQuery{});
  EXPECT_EQ(before->last_seq, after->last_seq);
  EXPECT_EQ(json(raw("GET", "/medic/r").body)["v"], 1);
  // A losing branch keeps the winner; a higher generation wins.
  raw("POST", "/medic/_bulk_docs",
      R"({"new_edits":false,"docs":[{"_id":"r","_rev":"1-aaa","v":2}]})");
  EXPECT_EQ(json(raw("GET", "/medic/r").body)["_rev"], "1-abc");
  raw("POST", "/medic/_bulk_docs",
      R"({"new_edits":false,"docs":[{"_id":"r","_rev":"2-000","v":3}]})");
  EXPECT_EQ(json(raw("GET", "/medic/r").body)["v"], 3);
  auto bad =
      raw("POST", "/medic/_bulk_docs", R"({"new_edits":false,"docs":[{"_id":"r","_rev":"x"}]})");
  EXPECT_EQ(bad.status, 400);
}

TEST_F(ChtSimTest, AllDocsAndFind) {
  raw("POST", "/medic/_bulk_docs",
      R"({"docs":[{"_id":"p1","type":"person","name":"A"},{"_id":"p2","type":"person","name":"B"}]})");
  auto all =
      json(raw("GET", "/medic/_all_docs?include_docs=true&startkey=%22p1%22&endkey=%22p2%22").body);
  ASSERT_EQ(all["rows"].size(), 2u);
  EXPECT_EQ(all["rows"][1]["doc"]["name"], "B");
  auto keys = json(raw("POST", "/medic/_all_docs", R"({"keys":["p1","nope"]})").body);
  EXPECT_EQ(keys["rows"][1]["error"], "not_found");
  auto found = json(
      raw("POST", "/medic/_find", R"({"selector":{"type":"person","name":"B"},"fields":["_id"]})")
          .body);
  ASSERT_EQ(found["docs"].size(), 1u);
  EXPECT_EQ(outbound::jsStringify(found["docs"][0]), R"({"_id":"p2"})");
}

TEST_F(ChtSimTest, AuthAndPermissionEnvelopes) {
  auto anonymous = raw("GET", "/api/v1/settings", "", "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.body, R"({"code":401,"error":"unauthorized"})");
  EXPECT_EQ(anonymous.headers.get("www-authenticate"), "Basic realm=\"Medic Web Services\"");
  EXPECT_EQ(raw("GET", "/api/v1/settings", "", "medic", "nope").status, 401);

  auto cht = client();
  auto place = cht.createPlace(json(R"({"name":"CHP Branch Two","type":"district_hospital"})"));
  ASSERT_TRUE(place.has_value()) << place.error().message;
  auto user = raw("POST", "/api/v2/users",
                  R"({"username":"geo","password":"Dakar1234","type":"chw","place":")" + place->id +
                      R"(","contact":{"name":"Maria Blob","phone":"+2868917046"}})");
  ASSERT_EQ(user.status, 200) << user.body;
  EXPECT_TRUE(json(user.body).contains("contact"));
  auto taken = raw("POST", "/api/v2/users",
                   R"({"username":"geo","password":"Dakar1234","roles":["program_officer"]})");
  EXPECT_EQ(taken.status, 400);
  EXPECT_THAT(taken.body, HasSubstr("already taken."));

  // The offline CHW may create people and bulk-write, not configure or read the sentinel db.
  auto chw = client("geo", "Dakar1234");
  EXPECT_TRUE(
      chw.createPerson(json(R"({"name":"John Test","place":")" + place->id + R"("})")).has_value());
  EXPECT_EQ(raw("POST", "/medic/_bulk_docs", R"({"docs":[{"_id":"chw-doc"}]})", "geo", "Dakar1234")
                .status,
            201);
  auto forbidden = raw("PUT", "/api/v1/settings", "{}", "geo", "Dakar1234");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.body, R"({"code":403,"error":"Insufficient privileges"})");
  EXPECT_EQ(raw("PUT", "/api/v1/credentials/k", "s", "geo", "Dakar1234").status, 403);
  auto settings_error = chw.putSettings(json("{}"));
  ASSERT_FALSE(settings_error.has_value());
  EXPECT_EQ(settings_error.error().code, ErrorCode::PermissionDenied);
  EXPECT_THAT(settings_error.error().message, HasSubstr("Insufficient privileges"));
}

TEST_F(ChtSimTest, PeopleValidationAndRecords) {
  auto cht = client();
  auto no_name = cht.createPerson(json(R"({"type":"person"})"));
  ASSERT_FALSE(no_name.has_value());
  EXPECT_THAT(no_name.error().message, HasSubstr("Person is missing a \"name\" property."));
  auto no_place = raw("POST", "/api/v1/people", R"({"name":"x","place":"missing"})");
  EXPECT_EQ(no_place.status, 404);
  EXPECT_EQ(no_place.body, R"({"code":404,"error":"Failed to find place."})");

  auto id = cht.createRecord(
      json(R"({"_meta":{"form":"interop_follow_up"},"Patient_UUID":"abc","junk":1})"));
  ASSERT_TRUE(id.has_value()) << id.error().message;
  EXPECT_EQ(id->size(), 36u);
  auto record = cht.getDoc(*id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ((*record)["form"], "INTEROP_FOLLOW_UP");
  EXPECT_EQ(outbound::jsStringify((*record)["fields"]), R"({"patient_uuid":"abc"})");
  auto unknown = raw("POST", "/api/v2/records", R"({"_meta":{"form":"nope"}})");
  EXPECT_EQ(unknown.status, 500);
  EXPECT_EQ(unknown.body,
            R"({"code":500,"error":"Server error","details":"Form not found: NOPE"})");
}

TEST_F(ChtSimTest, OutboundPushDedupeAndRetryWhenTheDestinationComesBack) {
  auto cht = client();
  auto person = cht.createPerson(json(
      R"({"name":"Amina Otieno","short_name":"Amina","sex":"female","date_of_birth":"1990-04-12","role":"patient"})"));
  ASSERT_TRUE(person.has_value()) << person.error().message;
  auto sent = pushes("/mediator/patient");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].headers.get("authorization"),
            "Basic aW50ZXJvcC1jbGllbnQ6aW50ZXJvcC1wYXNzd29yZA==");
  EXPECT_EQ(
      sent[0].body,
      R"({"resourceType":"Patient","identifier":[{"system":"cht","use":"official","value":")" +
          person->id +
          R"("}],"name":[{"use":"official","family":"Amina Otieno","given":["Amina"]}],"gender":"female","birthDate":"1990-04-12"})");
  // Sentinel's short-code rev (2) produced the same payload: not sent again.
  auto stored = cht.getDoc(person->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ((*stored)["patient_id"].get<std::string>().size(), 5u);
  EXPECT_EQ(revGeneration((*stored)["_rev"].get<std::string>()), 2);
  auto info = cht.getDoc(person->id + "-info", "medic-sentinel");
  ASSERT_TRUE(info.has_value());
  ASSERT_EQ((*info)["completed_tasks"].size(), 1u);
  EXPECT_EQ((*info)["completed_tasks"][0]["name"], "FHIR_patient");

  // The destination is down: the changed payload waits in task:outbound.
  receiver_.answerWith(503);
  (*stored)["date_of_birth"] = "1990-04-13";
  ASSERT_TRUE(cht.putDoc(*stored).has_value());
  EXPECT_EQ(pushes("/mediator/patient").size(), 2u);
  auto task = cht.getDoc("task:outbound:" + person->id, "medic-sentinel");
  ASSERT_TRUE(task.has_value()) << task.error().message;
  EXPECT_EQ(outbound::jsStringify((*task)["queue"]), R"(["FHIR_patient"])");
  EXPECT_THAT(raw("GET", "/api/v2/monitoring").body, HasSubstr(R"("backlog":1)"));

  // Still down at the next scheduler run: still queued.
  EXPECT_EQ(raw("POST", "/_sim/scheduler/run").status, 200);
  EXPECT_TRUE(cht.getDoc("task:outbound:" + person->id, "medic-sentinel").has_value());
  // Back up: the scheduler sends the current document and clears the task.
  receiver_.answerWith(200);
  EXPECT_EQ(raw("POST", "/_sim/scheduler/run").status, 200);
  auto retried = pushes("/mediator/patient");
  ASSERT_EQ(retried.size(), 4u);
  EXPECT_THAT(retried.back().body, HasSubstr("1990-04-13"));
  auto cleared = cht.getDoc("task:outbound:" + person->id, "medic-sentinel");
  ASSERT_FALSE(cleared.has_value());
  EXPECT_EQ(cleared.error().code, ErrorCode::NotFound);
  EXPECT_THAT(raw("GET", "/api/v2/monitoring").body, HasSubstr(R"("backlog":0)"));
}

TEST_F(ChtSimTest, RequiredFieldMissingStaysQueuedAndDeletedDocDropsTheTask) {
  auto cht = client();
  auto person =
      cht.createPerson(json(R"({"name":"No Sex","role":"patient","date_of_birth":"1990-01-01"})"));
  ASSERT_TRUE(person.has_value());
  EXPECT_TRUE(pushes("/mediator/patient").empty());
  ASSERT_TRUE(cht.getDoc("task:outbound:" + person->id, "medic-sentinel").has_value());
  raw("POST", "/_sim/scheduler/run");
  ASSERT_TRUE(cht.getDoc("task:outbound:" + person->id, "medic-sentinel").has_value());
  auto stored = cht.getDoc(person->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(
      raw("DELETE", "/medic/" + person->id + "?rev=" + (*stored)["_rev"].get<std::string>()).status,
      200);
  raw("POST", "/_sim/scheduler/run");
  EXPECT_FALSE(cht.getDoc("task:outbound:" + person->id, "medic-sentinel").has_value());
}

TEST_F(ChtSimTest, EncounterFromBulkDocsAndHydrate) {
  auto cht = client();
  auto report = raw(
      "POST", "/medic/_bulk_docs",
      R"({"new_edits":false,"docs":[{"_id":"rep1","_rev":"1-x","type":"data_record","form":"interop_follow_up","fields":{"inputs":{"contact":{"_id":"pat-1"}}}}]})");
  EXPECT_EQ(report.status, 201);
  auto sent = pushes("/mediator/encounter");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_THAT(sent[0].body, HasSubstr(R"("subject":{"reference":"Patient/?identifier=pat-1"})"));

  auto place = cht.createPlace(json(R"({"name":"HC","type":"district_hospital"})"));
  ASSERT_TRUE(place.has_value());
  auto person = cht.createPerson(json(R"({"name":"P","place":")" + place->id + R"("})"));
  ASSERT_TRUE(person.has_value());
  auto hydrated = cht.hydrate({person->id, "missing"});
  ASSERT_TRUE(hydrated.has_value()) << hydrated.error().message;
  ASSERT_EQ(hydrated->size(), 2u);
  ASSERT_TRUE((*hydrated)[0].doc.has_value());
  EXPECT_EQ((*(*hydrated)[0].doc)["parent"]["name"], "HC");
  EXPECT_FALSE((*hydrated)[1].doc.has_value());
  auto stored = cht.getDoc(person->id);
  EXPECT_EQ(outbound::jsStringify((*stored)["parent"]), R"({"_id":")" + place->id + R"("})");
}

TEST_F(ChtSimTest, StateSurvivesARestart) {
  auto cht = client();
  ASSERT_TRUE(cht.putDoc(json(R"({"_id":"kept"})")).has_value());
  auto before = cht.changes(ChangesQuery{});
  ASSERT_TRUE(before.has_value());
  stopSim();
  startSim();
  auto again = client();
  auto doc = again.getDoc("kept");
  ASSERT_TRUE(doc.has_value());
  ASSERT_TRUE(again.putDoc(json(R"({"_id":"next"})")).has_value());
  auto after = again.changes(ChangesQuery{});
  ASSERT_TRUE(after.has_value());
  EXPECT_GT(DocStore::parseSeq(after->last_seq).value(),
            DocStore::parseSeq(before->last_seq).value());
}

TEST_F(ChtSimTest, SettingsAndCredentials) {
  auto cht = client();
  auto settings = cht.getSettings();
  ASSERT_TRUE(settings.has_value());
  EXPECT_TRUE((*settings)["outbound"].contains("FHIR_patient"));
  ASSERT_TRUE(
      cht.putSettings(json(R"({"outbound":{"extra":{"relevant_to":"false"}}})")).has_value());
  auto merged = cht.getSettings();
  EXPECT_TRUE((*merged)["outbound"].contains("FHIR_patient"));
  EXPECT_TRUE((*merged)["outbound"].contains("extra"));
  EXPECT_TRUE(cht.putCredential("openhim1", "new-secret").has_value());
  auto person = cht.createPerson(
      json(R"({"name":"A B","sex":"male","date_of_birth":"1990-04-12","role":"patient"})"));
  ASSERT_TRUE(person.has_value());
  auto sent = pushes("/mediator/patient");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].headers.get("authorization"),
            outbound::basicAuthorization("interop-client", "new-secret"));
}

class OneCredential final : public outbound::CredentialStore {
 public:
  Result<std::optional<std::string>> get(std::string_view key) override {
    if (key == "openhim1") return std::optional<std::string>("pull-secret");
    return std::optional<std::string>();
  }
};

TEST_F(ChtSimTest, PullModeEnqueuesChangedPayloadsWithTheCheckpoint) {
  testing::TempDir pull_dir;
  auto pull_db = testing::openTestDatabase(pull_dir);
  ASSERT_TRUE(pull_db.has_value());
  ASSERT_TRUE(store::migrate(**pull_db, queue::migrations()).has_value());
  ASSERT_TRUE(store::migrate(**pull_db, feed::PullFollower::migrations()).has_value());
  OneCredential credentials;
  auto cht = client();
  feed::PullOptions options;
  options.read_ahead = false;  // each poll reads what the test just wrote
  auto follower = [&] {
    return std::make_unique<feed::PullFollower>(**pull_db, cht, *engine_, credentials, clock_,
                                                queue::QueueOptions{}, options,
                                                testing::nullLogger());
  };
  auto jobs = [&] {
    std::vector<queue::HttpJob> out;
    (void)(*pull_db)->run(store::Access::Read, [&](store::Transaction& tx) -> Status {
      CHTLINK_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT payload FROM jobs ORDER BY id"));
      for (size_t i = 0; i < rows.size(); ++i)
        out.push_back(*queue::decodeHttpJob(rows.text(i, 0)));
      return ok();
    });
    return out;
  };
  auto person = cht.createPerson(json(
      R"({"name":"Amina Otieno","short_name":"Amina","sex":"female","date_of_birth":"1990-04-12","role":"patient"})"));
  ASSERT_TRUE(person.has_value());
  ASSERT_TRUE(
      cht.createPerson(json(R"({"name":"No Sex","role":"patient","date_of_birth":"1990-01-01"})"))
          .has_value());

  auto pull = follower();
  auto first = pull->pollOnce(false);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->enqueued, 1u);
  EXPECT_EQ(first->errors, 1u);
  auto queued = jobs();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].url, receiver_.url("/mediator/patient"));
  EXPECT_THAT(queued[0].body, HasSubstr(R"("given":["Amina"])"));
  bool has_auth = false;
  for (const auto& [name, value] : queued[0].headers) {
    if (name == "authorization")
      has_auth = value == outbound::basicAuthorization("interop-client", "pull-secret");
  }
  EXPECT_TRUE(has_auth);
  auto checkpoint = pull->checkpoint();
  EXPECT_EQ(*checkpoint, first->last_seq);

  // Nothing new; then a revision with the same payload: deduplicated by hash.
  EXPECT_EQ(pull->pollOnce(false)->enqueued, 0u);
  auto stored = cht.getDoc(person->id);
  (*stored)["notes"] = "unrelated";
  ASSERT_TRUE(cht.putDoc(*stored).has_value());
  auto same = pull->pollOnce(false);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->enqueued, 0u);
  EXPECT_EQ(same->skipped, 1u);
  // A changed payload is sent again, by a restarted follower resuming from the checkpoint.
  stored = cht.getDoc(person->id);
  (*stored)["sex"] = "male";
  ASSERT_TRUE(cht.putDoc(*stored).has_value());
  pull = follower();
  auto changed = pull->pollOnce(false);
  ASSERT_TRUE(changed.has_value());
  EXPECT_EQ(changed->changes, 1u);
  EXPECT_EQ(changed->enqueued, 1u);
  ASSERT_EQ(jobs().size(), 2u);
  EXPECT_THAT(jobs()[1].body, HasSubstr(R"("gender":"male")"));
  auto errors = (*pull_db)->runFor<int64_t>(
      store::Access::Read, [](store::Transaction& tx) -> Result<int64_t> {
        CHTLINK_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT message FROM chtpull_errors"));
        EXPECT_THAT(rows.text(0, 0), HasSubstr("cannot find 'doc.sex'"));
        return static_cast<int64_t>(rows.size());
      });
  EXPECT_EQ(*errors, 1);
}

}  // namespace
}  // namespace chtlink::cht::emulator

namespace chtlink::cht::emulator {
namespace {

// The permission rows of cht.md 2.1 / 6.2 for users other than the admin.
TEST_F(ChtSimTest, PermissionRowsForOnlineOfflineAndUnprivilegedUsers) {
  auto cht = client();
  auto place = cht.createPlace(json(R"({"name":"Branch","type":"district_hospital"})"));
  ASSERT_TRUE(place.has_value()) << place.error().message;
  auto person = cht.createPerson(json(R"({"name":"Amina","place":")" + place->id + R"("})"));
  ASSERT_TRUE(person.has_value());
  ASSERT_EQ(raw("POST", "/api/v2/users",
                R"({"username":"geo","password":"Dakar1234","type":"chw","place":")" + place->id +
                    R"(","contact":{"name":"Maria Blob"}})")
                .status,
            200);
  ASSERT_EQ(raw("POST", "/api/v2/users",
                R"({"username":"viewer","password":"Viewer-Pass-123","roles":["data_entry"]})")
                .status,
            200);
  ASSERT_EQ(
      raw("POST", "/api/v2/users",
          R"({"username":"officer","password":"Officer-Pass-123","roles":["program_officer"]})")
          .status,
      200);
  const std::string forbidden = R"({"code":403,"error":"Insufficient privileges"})";
  auto as = [&](const std::string& user, const std::string& method, const std::string& path,
                const std::string& body = "") {
    const std::string password = user == "geo"      ? "Dakar1234"
                                 : user == "viewer" ? "Viewer-Pass-123"
                                                    : "Officer-Pass-123";
    return raw(method, path, body, user, password);
  };
  // An online user with no permissions: only what every authenticated user may do.
  EXPECT_EQ(as("viewer", "GET", "/api/v1/settings").status, 200);
  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/api/v1/people", R"({"name":"X"})"},
           {"POST", "/api/v1/places", R"({"name":"X","type":"district_hospital"})"},
           {"POST", "/api/v2/records", R"({"_meta":{"form":"INTEROP_FOLLOW_UP"}})"},
           {"GET", "/api/v1/person/" + person->id, ""},
           {"GET", "/api/v2/users", ""},
           {"POST", "/api/v2/users", R"({"username":"x","password":"Long-Pass-1"})"},
           {"PUT", "/medic/viewer-doc", R"({"a":1})"},
           {"POST", "/medic/_find", R"({"selector":{"type":"person"}})"},
           {"GET", "/medic-sentinel/" + person->id + "-info", ""},
           {"PUT", "/api/v1/credentials/k", "secret"}}) {
    auto answer = as("viewer", method, path, body);
    EXPECT_EQ(answer.status, 403) << method << " " << path;
    EXPECT_EQ(answer.body, forbidden) << method << " " << path;
  }
  // The offline CHW: writes, but no online-only reads.
  EXPECT_EQ(as("geo", "POST", "/api/v2/records",
               R"({"_meta":{"form":"INTEROP_FOLLOW_UP"},"patient_uuid":")" + person->id + "\"}")
                .status,
            200);
  EXPECT_EQ(as("geo", "GET", "/api/v1/person/" + person->id).status, 403);
  EXPECT_EQ(as("geo", "POST", "/medic/_find", R"({"selector":{"type":"person"}})").status, 403);
  EXPECT_EQ(as("geo", "GET", "/medic/_changes").status, 403);
  EXPECT_EQ(as("geo", "GET", "/api/v2/users").status, 403);
  // The program officer manages users and settings; credentials stay admin-only.
  EXPECT_EQ(as("officer", "GET", "/api/v2/users").status, 200);
  EXPECT_EQ(as("officer", "GET", "/api/v1/person/" + person->id).status, 200);
  EXPECT_EQ(as("officer", "PUT", "/api/v1/settings", R"({"locale":"fr"})").status, 200);
  EXPECT_EQ(as("officer", "PUT", "/api/v1/credentials/k", "secret").status, 403);
  // No credentials on the changes feed either.
  auto anonymous = raw("GET", "/medic/_changes", "", "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.body, R"({"code":401,"error":"unauthorized"})");
}

TEST_F(ChtSimTest, ContinuousFeedIsOneLinePerChangeThenLastSeq) {
  auto cht = client();
  ASSERT_TRUE(cht.putDoc(json(R"({"_id":"a","v":1})")).has_value());
  ASSERT_TRUE(cht.putDoc(json(R"({"_id":"b","v":1})")).has_value());
  auto feed = raw("GET", "/medic/_changes?feed=continuous&since=0&include_docs=true");
  ASSERT_EQ(feed.status, 200) << feed.body;
  std::vector<OrderedJson> lines;
  size_t start = 0;
  for (size_t end; (end = feed.body.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(json(feed.body.substr(start, end - start)));
  }
  ASSERT_GE(lines.size(), 3u);
  const auto& last = lines.back();
  EXPECT_TRUE(last.contains("last_seq"));
  EXPECT_EQ(lines[lines.size() - 2]["id"], "b");
  EXPECT_EQ(lines[lines.size() - 2]["doc"]["v"], 1);
  EXPECT_EQ(last["last_seq"], lines[lines.size() - 2]["seq"]);
  // Nothing after `now`: the feed ends at its timeout with only the last_seq line.
  auto idle = raw("GET", "/medic/_changes?feed=continuous&since=now&timeout=50");
  EXPECT_EQ(
      idle.body,
      outbound::jsStringify(OrderedJson{{"last_seq", last["last_seq"]}, {"pending", 0}}) + "\n");
  EXPECT_EQ(raw("GET", "/medic/_changes?feed=eventsourcing").status, 400);
}

class PullCredentials final : public outbound::CredentialStore {
 public:
  Result<std::optional<std::string>> get(std::string_view) override {
    return std::optional<std::string>("pull-secret");
  }
};

class PullTest : public ChtSimTest {
 protected:
  void SetUp() override {
    ChtSimTest::SetUp();
    auto db = testing::openTestDatabase(pull_dir_);
    ASSERT_TRUE(db.has_value());
    pull_db_ = std::move(db).value();
    ASSERT_TRUE(store::migrate(*pull_db_, queue::migrations()).has_value());
    ASSERT_TRUE(store::migrate(*pull_db_, feed::PullFollower::migrations()).has_value());
    // Only pull mode sends in these tests.
    ASSERT_TRUE(
        client().putSettings(json(R"({"transitions":{"mark_for_outbound":false}})")).has_value());
  }
  std::vector<queue::HttpJob> jobs() {
    std::vector<queue::HttpJob> out;
    (void)pull_db_->run(store::Access::Read, [&](store::Transaction& tx) -> Status {
      CHTLINK_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT payload FROM jobs ORDER BY id"));
      for (size_t i = 0; i < rows.size(); ++i)
        out.push_back(*queue::decodeHttpJob(rows.text(i, 0)));
      return ok();
    });
    return out;
  }
  testing::TempDir pull_dir_;
  std::unique_ptr<store::Database> pull_db_;
  PullCredentials credentials_;
};

TEST_F(PullTest, SettingsAreReadAgainWhenTheSettingsDocChanges) {
  auto cht = client();
  feed::PullOptions options;
  options.read_ahead = false;  // each poll reads what the test just wrote
  feed::PullFollower follower(*pull_db_, cht, *engine_, credentials_, clock_, {}, options,
                              testing::nullLogger());
  auto person = cht.createPerson(json(
      R"({"name":"Amina Otieno","sex":"female","date_of_birth":"1990-04-12","role":"patient"})"));
  ASSERT_TRUE(person.has_value());
  ASSERT_EQ(follower.pollOnce(false)->enqueued, 1u);
  ASSERT_TRUE(
      cht.putSettings(
             json(R"({"outbound":{"FHIR_patient":{"destination":{"path":"/v2/patient"}}}})"))
          .has_value());
  auto stored = cht.getDoc(person->id);
  (*stored)["sex"] = "male";
  ASSERT_TRUE(cht.putDoc(*stored).has_value());
  auto page = follower.pollOnce(false);
  ASSERT_TRUE(page.has_value()) << page.error().message;
  EXPECT_EQ(page->enqueued, 1u);
  ASSERT_EQ(jobs().size(), 2u);
  EXPECT_EQ(jobs()[1].url, receiver_.url("/v2/patient"));
}

TEST_F(PullTest, SettingsFromAFileReplaceCht) {
  auto cht = client();
  feed::PullOptions options;
  options.app_settings = json(R"({"outbound":{"mine":{"relevant_to":"doc.kind === 'x'",
      "destination":{"base_url":"http://127.0.0.1:9","path":"/in"},
      "mapping":{"id":"doc._id","n":{"expr":"doc.n * 2"}}}}})");
  feed::PullFollower follower(*pull_db_, cht, *engine_, credentials_, clock_, {}, options,
                              testing::nullLogger());
  ASSERT_TRUE(cht.putDoc(json(R"({"_id":"d1","kind":"x","n":21})")).has_value());
  ASSERT_TRUE(cht.putDoc(json(R"({"_id":"d2","kind":"y","n":1})")).has_value());
  auto page = follower.pollOnce(false);
  ASSERT_TRUE(page.has_value()) << page.error().message;
  EXPECT_EQ(page->enqueued, 1u);
  ASSERT_EQ(jobs().size(), 1u);
  EXPECT_EQ(jobs()[0].url, "http://127.0.0.1:9/in");
  EXPECT_EQ(jobs()[0].body, R"({"id":"d1","n":42})");
}

TEST_F(PullTest, ReadAheadPagesEnqueueEveryDocumentOnceAndFollowTheCheckpoint) {
  auto cht = client();
  OrderedJson docs = OrderedJson::array();
  for (int i = 0; i < 9; ++i) {
    docs.push_back(json(R"({"_id":"p)" + std::to_string(i) +
                        R"(","type":"person","role":"patient","name":"N","sex":"male",)"
                        R"("date_of_birth":"2000-01-01"})"));
  }
  ASSERT_TRUE(cht.bulkDocs(docs).has_value());
  feed::PullOptions options;
  options.batch = 2;
  feed::PullFollower follower(*pull_db_, cht, *engine_, credentials_, clock_, {}, options,
                              testing::nullLogger());
  auto drain = [&](int max_pages, size_t& enqueued, size_t& skipped) {
    for (int page = 0; page < max_pages; ++page) {
      auto result = follower.pollOnce(false);
      ASSERT_TRUE(result.has_value()) << result.error().message;
      enqueued += result->enqueued;
      skipped += result->skipped;
      if (result->changes == 0) break;
    }
  };
  size_t enqueued = 0, skipped = 0;
  drain(2, enqueued, skipped);  // two pages; the third is being read ahead
  const size_t first = enqueued;
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, 9u);
  // Moving the checkpoint back drops the page read ahead: the first documents are read
  // again and, their payloads unchanged, skipped by hash.
  ASSERT_TRUE(follower.setCheckpoint("0").has_value());
  drain(20, enqueued, skipped);
  EXPECT_EQ(enqueued, 9u);
  EXPECT_EQ(skipped, first);
  std::set<std::string> bodies;
  for (const auto& job : jobs()) bodies.insert(job.body);
  EXPECT_EQ(bodies.size(), 9u);
  EXPECT_EQ(jobs().size(), 9u);
}

TEST_F(PullTest, RunnerFollowsNewChangesAndStopsWithoutWaitingForTheLongpoll) {
  auto cht = client();
  feed::PullFollower follower(*pull_db_, cht, *engine_, credentials_, clock_, {}, {},
                              testing::nullLogger());
  std::atomic<int> notified{0};
  feed::PullRunner runner(
      follower, cht, std::chrono::milliseconds(4'000), [&] { ++notified; }, testing::nullLogger());
  runner.start();
  // Caught up at once (nothing relevant yet); then a new document arrives by longpoll.
  ASSERT_TRUE(cht.createPerson(json(R"({"name":"Amina Otieno","sex":"female",)"
                                    R"("date_of_birth":"1990-04-12","role":"patient"})"))
                  .has_value());
  ASSERT_TRUE(testing::waitUntil([&] { return jobs().size() == 1; }));
  EXPECT_GE(notified.load(), 1);
  // The runner is back in its longpoll (or about to be): stop well before the 4 s timeout.
  const auto stopping = std::chrono::steady_clock::now();
  runner.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::milliseconds(2'000));
  EXPECT_EQ(jobs().size(), 1u);
}

// Two runners on one database and checkpoint (as two processes would be on PostgreSQL; on
// SQLite the lock is among holders in this process): one follows, the other stands by and
// takes over from the checkpoint once the first one stops.
TEST_F(PullTest, OneOfTwoRunnersFollowsAndTheStandbyTakesOverWhenItStops) {
  auto cht = client();
  feed::PullOptions options;
  options.read_ahead = false;
  feed::PullFollower follower_a(*pull_db_, cht, *engine_, credentials_, clock_, {}, options,
                                testing::nullLogger());
  feed::PullFollower follower_b(*pull_db_, cht, *engine_, credentials_, clock_, {}, options,
                                testing::nullLogger());
  std::atomic<int> role_a{-1};
  std::atomic<int> role_b{-1};
  auto leadership = [](std::atomic<int>& role) {
    feed::PullLeadership out;
    out.lock_name = "cht-pull:test";
    out.retry = std::chrono::milliseconds(20);
    out.on_role = [&role](feed::PullRole r) { role = static_cast<int>(r); };
    return out;
  };
  const int leader = static_cast<int>(feed::PullRole::Leader);
  const int standby = static_cast<int>(feed::PullRole::Standby);
  auto runner_a = std::make_unique<feed::PullRunner>(
      follower_a, cht, std::chrono::milliseconds(4'000), [] {}, testing::nullLogger(),
      pull_db_.get(), leadership(role_a));
  runner_a->start();
  ASSERT_TRUE(testing::waitUntil([&] { return role_a == leader; }));
  feed::PullRunner runner_b(
      follower_b, cht, std::chrono::milliseconds(4'000), [] {}, testing::nullLogger(),
      pull_db_.get(), leadership(role_b));
  runner_b.start();
  ASSERT_TRUE(testing::waitUntil([&] { return role_b == standby; }));
  ASSERT_TRUE(cht.createPerson(json(R"({"name":"Amina Otieno","sex":"female",)"
                                    R"("date_of_birth":"1990-04-12","role":"patient"})"))
                  .has_value());
  ASSERT_TRUE(testing::waitUntil([&] { return jobs().size() == 1; }));
  EXPECT_EQ(role_b.load(), standby);

  runner_a.reset();  // releases the lock
  ASSERT_TRUE(testing::waitUntil([&] { return role_b == leader; }));
  ASSERT_TRUE(cht.createPerson(json(R"({"name":"Baraka Mwangi","sex":"male",)"
                                    R"("date_of_birth":"1985-02-01","role":"patient"})"))
                  .has_value());
  ASSERT_TRUE(testing::waitUntil([&] { return jobs().size() == 2; }));
  runner_b.stop();
  auto all = jobs();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_NE(all[0].body, all[1].body);
}

}  // namespace
}  // namespace chtlink::cht::emulator
