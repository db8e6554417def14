// The admin API of the real binary: authentication, mediators, metadata, roles, HTTPS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "him/crypto.h"
#include "him_fixture.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;

net::Headers tokenHeaders(const std::string& email, const std::string& salt,
                          const std::string& password, const std::string& ts) {
  std::string passhash = him::sha512Hex(salt + password);
  net::Headers h;
  h.set("auth-username", email);
  h.set("auth-ts", ts);
  h.set("auth-salt", salt);
  h.set("auth-token", him::sha512Hex(passhash + salt + ts));
  return h;
}

TEST(HimApiTest, TokenAndBasicAuthenticationAsOpenHim) {
  TempDir dir;
  HimServe him(dir);
  auto salt = him.apiCall("GET", "/authenticate/root@openhim.org", Json(), {}, false);
  ASSERT_TRUE(salt.has_value());
  ASSERT_EQ(salt->status, 200) << salt->body;
  auto body = parseJson(salt->body);
  ASSERT_TRUE(body.has_value());
  std::string s = (*body)["salt"];
  EXPECT_FALSE(s.empty());
  EXPECT_TRUE((*body)["ts"].is_string());

  auto unknown = him.apiCall("GET", "/authenticate/nobody@example.org", Json(), {}, false);
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->status, 404);

  std::string now = him::isoTime(std::chrono::system_clock::now());
  auto token = him.apiCall("GET", "/channels", Json(),
                           tokenHeaders("root@openhim.org", s, "openhim-password", now), false);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->status, 200) << token->body;

  std::string old = him::isoTime(std::chrono::system_clock::now() - std::chrono::seconds(30));
  auto stale = him.apiCall("GET", "/channels", Json(),
                           tokenHeaders("root@openhim.org", s, "openhim-password", old), false);
  ASSERT_TRUE(stale.has_value());
  EXPECT_EQ(stale->status, 401);

  auto bad = him.apiCall("GET", "/channels", Json(),
                         tokenHeaders("root@openhim.org", s, "wrong", now), false);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 401);

  auto none = him.apiCall("GET", "/channels", Json(), {}, false);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body, "Unauthorized");

  // A user outside group admin authenticates but may not use the API.
  auto created =
      him.apiCall("POST", "/users",
                  {{"email", "Viewer@Example.org"}, {"password", "pw"}, {"groups", {"viewer"}}});
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->status, 201) << created->body;
  auto forbidden = him.apiCall(
      "GET", "/channels", Json(),
      [] {
        net::Headers h;
        h.set("Authorization", "Basic " + him::base64Encode("viewer@example.org:pw"));
        return h;
      }(),
      false);
  ASSERT_TRUE(forbidden.has_value());
  EXPECT_EQ(forbidden->status, 403);
  EXPECT_THAT(him.serve().process().output(), HasSubstr("default password"));
}

TEST(HimApiTest, MediatorRegistrationHeartbeatConfigAndChannelInstall) {
  TempDir dir;
  HimServe him(dir);
  Upstream upstream;
  Json mediator = {
      {"urn", "urn:mediator:test"},
      {"version", "1.0.0"},
      {"name", "Test"},
      {"endpoints", Json::array({{{"name", "Mediator"},
                                  {"host", "127.0.0.1"},
                                  {"port", upstream.port()},
                                  {"primary", true}}})},
      {"configDefs", Json::array({{{"param", "url"}, {"type", "string"}}})},
      {"defaultChannelConfig", Json::array({channelTo("Mediator", "^/mediator/.*$", upstream.port(),
                                                      {{"authType", "public"}})})}};
  auto reg = him.apiCall("POST", "/mediators", mediator);
  ASSERT_TRUE(reg.has_value());
  EXPECT_EQ(reg->status, 201);
  EXPECT_EQ(reg->body, "Created");
  EXPECT_EQ(him.apiCall("POST", "/mediators", mediator)->status, 201);

  Json no_name = mediator;
  no_name.erase("name");
  no_name["urn"] = "urn:mediator:other";
  auto invalid = him.apiCall("POST", "/mediators", no_name);
  EXPECT_EQ(invalid->status, 400);
  EXPECT_THAT(invalid->body, HasSubstr("Path `name` is required."));
  Json bad_version = mediator;
  bad_version["version"] = "one";
  EXPECT_EQ(him.apiCall("POST", "/mediators", bad_version)->status, 400);

  auto beat = him.apiCall("POST", "/mediators/urn:mediator:test/heartbeat", {{"uptime", 1.5}});
  EXPECT_EQ(beat->status, 200);
  EXPECT_EQ(beat->body, "");
  EXPECT_EQ(him.apiCall("POST", "/mediators/urn:mediator:test/heartbeat", Json::object())->status,
            400);
  EXPECT_EQ(him.apiCall("POST", "/mediators/urn:mediator:nope/heartbeat", {{"uptime", 1}})->status,
            404);
  auto no_config = him.apiCall("POST", "/mediators/urn:mediator:test/heartbeat",
                               {{"uptime", 2}, {"config", true}});
  EXPECT_EQ(no_config->body, "OK");

  EXPECT_EQ(
      him.apiCall("PUT", "/mediators/urn:mediator:test/config", {{"url", "http://x"}})->status,
      200);
  auto pushed = him.apiCall("POST", "/mediators/urn:mediator:test/heartbeat", {{"uptime", 3}});
  auto pushed_config = parseJson(pushed->body);
  ASSERT_TRUE(pushed_config.has_value()) << pushed->body;
  EXPECT_EQ((*pushed_config)["url"], "http://x");
  EXPECT_EQ(him.apiCall("POST", "/mediators/urn:mediator:test/heartbeat", {{"uptime", 4}})->body,
            "");

  auto listed = parseJson(him.apiCall("GET", "/mediators")->body);
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0]["_uptime"], 4);
  auto heartbeat = parseJson(him.apiCall("GET", "/heartbeat", Json(), {}, false)->body);
  ASSERT_TRUE(heartbeat.has_value());
  EXPECT_EQ((*heartbeat)["mediators"]["urn:mediator:test"], 4);

  EXPECT_EQ(
      him.apiCall("POST", "/mediators/urn:mediator:test/channels", Json::array({"Nope"}))->status,
      400);
  auto install =
      him.apiCall("POST", "/mediators/urn:mediator:test/channels", Json::array({"Mediator"}));
  EXPECT_EQ(install->status, 201) << install->body;
  auto installed = parseJson(him.apiCall("GET", "/channels")->body);
  ASSERT_TRUE(installed.has_value() && installed->size() == 1u);
  std::string channel_id = (*installed)[0]["_id"];
  ASSERT_EQ(him.apiCall("PUT", "/channels/" + channel_id, {{"description", "edited"}})->status,
            200);
  // Installing an installed channel again answers 201 and changes nothing (OpenHIM: 500).
  auto again =
      him.apiCall("POST", "/mediators/urn:mediator:test/channels", Json::array({"Mediator"}));
  EXPECT_EQ(again->status, 201) << again->body;
  auto after = parseJson(him.apiCall("GET", "/channels")->body);
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0]["_id"], channel_id);
  EXPECT_EQ((*after)[0]["description"], "edited");
  auto routed = him.routerCall("GET", "/mediator/x");
  ASSERT_TRUE(routed.has_value());
  EXPECT_EQ(routed->status, 200);
  EXPECT_EQ(upstream.received(), 1u);

  // A channel with transactions is only marked deleted: it stops routing, stays readable,
  // and installing it again brings it back.
  ASSERT_TRUE(waitUntil([&] { return him.transactions().size() == 1u; }));
  auto deleted = him.apiCall("DELETE", "/channels/" + channel_id);
  EXPECT_EQ(deleted->status, 200);
  EXPECT_EQ(deleted->body, "The channel was successfully deleted");
  auto soft = parseJson(him.apiCall("GET", "/channels/" + channel_id)->body);
  ASSERT_TRUE(soft.has_value());
  EXPECT_EQ((*soft)["status"], "deleted");
  ASSERT_TRUE(waitUntil([&] { return him.routerCall("GET", "/mediator/x")->status == 404; }));
  EXPECT_EQ(him.apiCall("POST", "/mediators/urn:mediator:test/channels", Json::array({"Mediator"}))
                ->status,
            201);
  auto back = parseJson(him.apiCall("GET", "/channels/" + channel_id)->body);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->value("status", "enabled"), "enabled");
  ASSERT_TRUE(waitUntil([&] { return him.routerCall("GET", "/mediator/x")->status == 200; }));

  // A channel nothing refers to is removed.
  him.createChannel(channelTo("unused", "^/unused$", upstream.port()));
  auto all = parseJson(him.apiCall("GET", "/channels")->body);
  std::string unused_id;
  for (const auto& c : *all)
    if (c["name"] == "unused") unused_id = c["_id"];
  ASSERT_FALSE(unused_id.empty());
  EXPECT_EQ(him.apiCall("DELETE", "/channels/" + unused_id)->status, 200);
  EXPECT_EQ(him.apiCall("GET", "/channels/" + unused_id)->status, 404);
}

// The shape the cht-interoperability configurator posts.
Json referenceMetadata(uint16_t fhir_port) {
  std::string user_salt = "user-salt";
  std::string client_salt = "client-salt";
  return {
      {"Users", Json::array({{{"firstname", "Interop"},
                              {"surname", "User"},
                              {"email", "interop@openhim.org"},
                              {"groups", {"admin"}},
                              {"passwordAlgorithm", "sha512"},
                              {"passwordSalt", user_salt},
                              {"passwordHash", him::sha512Hex(user_salt + "interop-password")}}})},
      {"Clients",
       Json::array({{{"clientID", "interop-client"},
                     {"name", "Interoperability client"},
                     {"roles", {"interop"}},
                     {"passwordAlgorithm", "sha512"},
                     {"passwordSalt", client_salt},
                     {"passwordHash", him::sha512Hex("interop-password" + client_salt)}}})},
      {"Channels", Json::array({{{"name", "FHIR Server"},
                                 {"urlPattern", "^/fhir/.*$"},
                                 {"priority", 1},
                                 {"methods",
                                  {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                                   "TRACE", "PATCH"}},
                                 {"type", "http"},
                                 {"allow", {"interop"}},
                                 {"authType", "private"},
                                 {"routes", Json::array({{{"name", "FHIR Server"},
                                                          {"host", "127.0.0.1"},
                                                          {"port", std::to_string(fhir_port)},
                                                          {"path", ""},
                                                          {"pathTransform", ""},
                                                          {"primary", true},
                                                          {"type", "http"}}})}}})},
      {"Mediators", Json::array()},
      {"ContactGroups",
       Json::array(
           {{{"group", "Interop admins"},
             {"users", Json::array({{{"user", "interop@openhim.org"}, {"method", "email"}}})}}})}};
}

TEST(HimApiTest, MetadataImportOfReferenceConfigurationRoutesAndUpdatesOnRepost) {
  TempDir dir;
  HimServe him(dir);
  Upstream fhir;
  Json metadata = referenceMetadata(fhir.port());

  auto validated = him.apiCall("POST", "/metadata/validate", metadata);
  ASSERT_TRUE(validated.has_value());
  EXPECT_EQ(validated->status, 201);
  EXPECT_THAT(validated->body, HasSubstr("\"Valid\""));

  auto imported = him.apiCall("POST", "/metadata", metadata);
  ASSERT_TRUE(imported.has_value());
  ASSERT_EQ(imported->status, 201) << imported->body;
  auto items = parseJson(imported->body);
  ASSERT_TRUE(items.has_value());
  ASSERT_EQ(items->size(), 4u) << imported->body;
  for (const auto& item : *items) EXPECT_EQ(item["status"], "Inserted") << item.dump();

  auto routed = him.routerCall("GET", "/fhir/Patient?name=x", "interop-client:interop-password");
  ASSERT_TRUE(routed.has_value());
  EXPECT_EQ(routed->status, 200) << routed->body;
  ASSERT_EQ(fhir.received(), 1u);
  EXPECT_EQ(fhir.requests()[0].target, "/fhir/Patient?name=x");

  // The imported user works with token auth, as the configurator then uses it.
  auto salt =
      parseJson(him.apiCall("GET", "/authenticate/interop@openhim.org", Json(), {}, false)->body);
  ASSERT_TRUE(salt.has_value());
  std::string now = him::isoTime(std::chrono::system_clock::now());
  auto again = him.apiCall(
      "POST", "/metadata", metadata,
      tokenHeaders("interop@openhim.org", (*salt)["salt"], "interop-password", now), false);
  ASSERT_TRUE(again.has_value());
  ASSERT_EQ(again->status, 201) << again->body;
  auto updated = parseJson(again->body);
  ASSERT_TRUE(updated.has_value());
  ASSERT_EQ(updated->size(), 4u);
  for (const auto& item : *updated) EXPECT_EQ(item["status"], "Updated") << item.dump();

  auto bad = him.apiCall("POST", "/metadata", {{"Nonsense", Json::array({{{"a", 1}}})}});
  EXPECT_EQ(bad->status, 201);
  EXPECT_THAT(bad->body, HasSubstr("Invalid Collection in Import Object"));
}

// Roles: the ≤7.1 view by default, v8 role documents stored, links that change routing at
// once, and the clientID / role-name rule of /clients.
TEST(HimApiTest, RolesCrudChangesWhoTheRouterLetsThrough) {
  TempDir dir;
  HimServe him(dir);
  Upstream lab;
  him.createChannel(channelTo("lab", "^/lab/.*$", lab.port(), {{"allow", {"lab"}}}));
  him.createClient("lab-client", "lab-pw", {});
  auto status = [&](const std::string& method, const std::string& path, const Json& body = Json()) {
    auto r = him.apiCall(method, path, body);
    EXPECT_TRUE(r.has_value()) << method << " " << path;
    return r.has_value() ? r->status : 0;
  };
  auto routed = [&] {
    auto r = him.routerCall("GET", "/lab/x", "lab-client:lab-pw");
    return r.has_value() ? r->status : 0;
  };
  EXPECT_EQ(routed(), 401);

  auto roles = him.apiCall("GET", "/roles");
  ASSERT_TRUE(roles.has_value());
  ASSERT_EQ(roles->status, 200);
  auto listed = parseJson(roles->body);
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u) << roles->body;
  EXPECT_EQ((*listed)[0]["name"], "lab");
  EXPECT_EQ((*listed)[0]["clients"], Json::array());
  EXPECT_FALSE((*listed)[0].contains("permissions"));

  EXPECT_EQ(status("PUT", "/roles/lab", {{"clients", Json::array({{{"clientID", "lab-client"}}})}}),
            200);
  EXPECT_EQ(routed(), 200);

  EXPECT_EQ(status("POST", "/roles", {{"permissions", Json::object()}}), 400);
  EXPECT_EQ(status("POST", "/roles", {{"name", "lab"}}), 400);
  EXPECT_EQ(status("POST", "/roles", {{"name", "lab-client"}}), 409);
  EXPECT_EQ(status("POST", "/roles", {{"name", "auditor"}, {"permissions", {{"x", true}}}}), 201);
  EXPECT_EQ(status("GET", "/roles/auditor"), 200);
  EXPECT_EQ(status("PUT", "/roles/auditor", {{"permissions", Json::object()}}), 200);
  EXPECT_EQ(status("POST", "/clients", {{"clientID", "auditor"}, {"name", "A"}}), 409);
  EXPECT_EQ(status("POST", "/clients", {{"clientID", "c1"}, {"name", "C"}, {"roles", {"c1"}}}),
            400);

  EXPECT_EQ(status("DELETE", "/roles/lab"), 200);
  EXPECT_EQ(routed(), 401);
  EXPECT_EQ(status("GET", "/roles/lab"), 404);
  EXPECT_EQ(status("PUT", "/roles/lab", Json::object()), 404);
  EXPECT_EQ(status("DELETE", "/roles/lab"), 404);
  EXPECT_EQ(status("DELETE", "/roles/auditor"), 200);
  EXPECT_EQ(lab.received(), 1u);
}

TEST(HimApiTest, DefaultHttpsApiWorksWithVerificationOff) {
  TempDir dir;
  ServeProcess serve(dir);  // him.api_tls defaults to true
  net::EventLoop loop(1);
  net::ClientOptions options;
  options.verify_tls = false;
  auto client = net::makeBeastHttpClient(loop, options);
  loop.start();
  net::ClientRequest r;
  r.url = "https://127.0.0.1:" + std::to_string(serve.port("api")) + "/heartbeat";
  auto answer = client->sendSync(r);
  client.reset();
  loop.stop();
  loop.join();
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  EXPECT_EQ(answer->status, 200);
  EXPECT_THAT(answer->body, HasSubstr("master"));
  EXPECT_TRUE(std::filesystem::exists(dir.file("him-api-cert.pem")));
}

}  // namespace
}  // namespace chtlink::testing

namespace chtlink::testing {
namespace {

// Outside the sandbox the real binary refuses to start while root@openhim.org still has
// OpenHIM's public default password, and says how to change it.
TEST(HimApiTest, OutsideTheSandboxTheDefaultAdminPasswordStopsTheStart) {
  TempDir dir;
  RunResult run =
      runCommand({CHTLINK_BINARY, "serve", "--set", "server.port=0", "--set", "him.api_port=0",
                  "--set", "him.api_tls=false", "--set", "fhir.port=0", "--set", "sandbox.mode=off",
                  "--set", "him.data_dir=" + dir.path().string(), "--set",
                  "store.url=sqlite:" + dir.file("chtlink.db")},
                 dir.path().string());
  EXPECT_NE(run.exit_code, 0);
  const std::string& output = run.output;
  EXPECT_THAT(output, ::testing::HasSubstr("root@openhim.org"));
  EXPECT_THAT(output, ::testing::HasSubstr("refuses to start outside the sandbox"));
  EXPECT_THAT(output, ::testing::HasSubstr("PUT"));
}

}  // namespace
}  // namespace chtlink::testing
