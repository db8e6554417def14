// The admin API's roles (GET/POST /roles, GET/PUT/DELETE /roles/{name}) and the clientID /
// role-name rule of /clients, through the API's own router on a real (temporary) store.
#include "him/admin_api/admin_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "fake_clock.h"
#include "fake_http_client.h"
#include "him/client_auth.h"
#include "him/crypto.h"
#include "him/repository.h"
#include "him/transaction_log.h"
#include "store/migrations.h"
#include "test_database.h"

namespace chtlink::him {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class AdminApiRolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = chtlink::testing::openTestDatabase(dir_);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    db_ = std::move(opened).value();
    ASSERT_TRUE(store::migrate(*db_, migrations()).has_value());
    log_ = std::make_unique<TransactionLog>(*db_, chtlink::testing::nullLogger());
    channel_router_ = std::make_unique<ChannelRouter>(table_, client_, *log_, clock_, random_,
                                                      options_, chtlink::testing::nullLogger());
    deps_ = std::make_unique<AdminApiDeps>(AdminApiDeps{*db_,
                                                        table_,
                                                        *channel_router_,
                                                        clock_,
                                                        random_,
                                                        options_,
                                                        chtlink::testing::nullLogger(),
                                                        {}});
    api_ = buildAdminRouter(*deps_);

    Json root = hashUserPassword("root-pw", "salt-1");
    root.update({{"_id", "u1"}, {"email", "root@openhim.org"}, {"groups", {"admin"}}});
    Json ops = hashUserPassword("ops-pw", "salt-2");
    ops.update({{"_id", "u2"}, {"email", "ops@example.org"}, {"groups", {"operator"}}});
    insert(Collection::Users, root);
    insert(Collection::Users, ops);
    // 7.1's virtual roles come from these: "interop" on the channel and a client, "reader"
    // on a client only; "client-a" in allow is a client's own permission, not a role.
    insert(Collection::Channels,
           {{"_id", "ch1"},
            {"name", "fhir"},
            {"urlPattern", "^/fhir/.*$"},
            {"allow", {"interop", "client-a"}},
            {"routes",
             Json::array(
                 {{{"name", "up"}, {"host", "up.local"}, {"port", 8080}, {"primary", true}}})}});
    insert(Collection::Clients,
           {{"_id", "cl1"}, {"clientID", "client-a"}, {"name", "A"}, {"roles", {"interop"}}});
    insert(Collection::Clients,
           {{"_id", "cl2"}, {"clientID", "client-b"}, {"name", "B"}, {"roles", {"reader"}}});
  }

  void insert(Collection c, const Json& doc) {
    Status s = db_->run(store::Access::Write,
                        [&](store::Transaction& tx) { return insertDoc(tx, c, doc); });
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }

  std::optional<Json> stored(Collection c, const std::string& key) {
    std::optional<Json> out;
    Status s = db_->run(store::Access::Read, [&](store::Transaction& tx) -> Status {
      CHTLINK_ASSIGN_OR_RETURN(auto found, findByKey(tx, c, key));
      if (found) out = found->doc;
      return ok();
    });
    EXPECT_TRUE(s.has_value()) << s.error().message;
    return out;
  }

  net::Response call(const std::string& method, const std::string& path, const Json& body = Json(),
                     const std::string& user = "root@openhim.org:root-pw") {
    net::Request r;
    r.method = method;
    r.path = path;
    r.target = path;
    if (!body.is_null()) r.body = dumpJson(body);
    if (!user.empty()) r.headers.set("Authorization", "Basic " + base64Encode(user));
    auto match = api_.match(method, path);
    if (match.handler == nullptr) return match.refusal.value_or(net::Response{});
    r.params = match.params;
    auto promise = std::make_shared<std::promise<net::Response>>();
    auto future = promise->get_future();
    (*match.handler)(std::move(r), net::Reply([promise](net::Response resp) {
                       promise->set_value(std::move(resp));
                     }));
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << method << " " << path << " not answered within 10 s";
      return {};
    }
    return future.get();
  }

  Json jsonOf(const net::Response& r) {
    auto parsed = parseJson(r.body);
    EXPECT_TRUE(parsed.has_value()) << r.body;
    return parsed.has_value() ? *parsed : Json();
  }

  std::vector<std::string> list(Collection c, const std::string& key, const char* field) {
    auto doc = stored(c, key);
    EXPECT_TRUE(doc.has_value()) << key;
    return doc ? doc->value(field, std::vector<std::string>{}) : std::vector<std::string>{};
  }

  chtlink::testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  chtlink::testing::FakeClock clock_;
  MtRandom random_{3};
  HimOptions options_;
  RoutingTable table_;
  chtlink::testing::FakeHttpClient client_{[](net::ClientRequest, net::HttpClient::Callback) {}};
  std::unique_ptr<TransactionLog> log_;
  std::unique_ptr<ChannelRouter> channel_router_;
  std::unique_ptr<AdminApiDeps> deps_;
  net::Router api_;
};

TEST_F(AdminApiRolesTest, WithNoStoredRoleTheListIsOpenHim71sVirtualRoles) {
  auto r = call("GET", "/roles");
  ASSERT_EQ(r.status, 200) << r.body;
  Json expected =
      Json::array({{{"name", "interop"},
                    {"channels", Json::array({{{"_id", "ch1"}, {"name", "fhir"}}})},
                    {"clients", Json::array({{{"_id", "cl1"}, {"clientID", "client-a"}}})}},
                   {{"name", "reader"},
                    {"channels", Json::array()},
                    {"clients", Json::array({{{"_id", "cl2"}, {"clientID", "client-b"}}})}}});
  EXPECT_EQ(jsonOf(r), expected);

  r = call("GET", "/roles/interop");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(jsonOf(r), expected[0]);
  r = call("GET", "/roles/client-a");  // a clientID in allow is not a role
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "Role with name 'client-a' could not be found.");
}

TEST_F(AdminApiRolesTest, AdminGroupRequiredAsForEveryOtherEndpoint) {
  EXPECT_EQ(call("GET", "/roles", Json(), "").status, 401);
  EXPECT_EQ(call("GET", "/roles", Json(), "root@openhim.org:wrong").status, 401);
  auto r = call("POST", "/roles", {{"name", "x"}}, "ops@example.org:ops-pw");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("not an admin"));
  EXPECT_EQ(call("DELETE", "/roles/interop", Json(), "ops@example.org:ops-pw").status, 403);
  EXPECT_FALSE(stored(Collection::Roles, "x").has_value());
}

TEST_F(AdminApiRolesTest, CreateAnswersOpenHimsCodesAndStoresTheRole) {
  auto r = call("POST", "/roles", Json::object());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Must specify a role name");
  EXPECT_EQ(call("POST", "/roles", {{"name", ""}}).body, "Must specify a role name");
  EXPECT_EQ(call("POST", "/roles", Json::array()).status, 400);

  r = call("POST", "/roles", {{"name", "client-a"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_THAT(r.body, HasSubstr("cannot be the same as a clientID"));

  r = call("POST", "/roles", {{"name", "interop"}});  // exists (7.1's virtual role)
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Role with name 'interop' already exists.");

  r = call("POST", "/roles", {{"name", "bad"}, {"permissions", "all"}});
  EXPECT_EQ(r.status, 400);
  r = call("POST", "/roles",
           {{"name", "bad"}, {"channels", Json::array()}, {"clients", Json::array()}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Must specify at least one channel or client to link the role to");
  EXPECT_FALSE(stored(Collection::Roles, "bad").has_value());

  Json permissions = {{"transaction-view-all", true}, {"channel-view-specified", {"ch1"}}};
  r = call("POST", "/roles", {{"name", "auditor"}, {"permissions", permissions}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "Role successfully created");
  auto doc = stored(Collection::Roles, "auditor");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ((*doc)["permissions"], permissions);

  r = call("POST", "/roles", {{"name", "auditor"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Role with name 'auditor' already exists.");

  r = call("GET", "/roles/auditor");
  ASSERT_EQ(r.status, 200);
  Json got = jsonOf(r);
  EXPECT_EQ(got["name"], "auditor");
  EXPECT_EQ(got["permissions"], permissions);
  EXPECT_EQ(got["channels"], Json::array());
  EXPECT_EQ(got["clients"], Json::array());
  EXPECT_EQ(jsonOf(call("GET", "/roles")).size(), 3U);
}

TEST_F(AdminApiRolesTest, CreateWithChannelsAndClientsLinksTheRoleAndUpdatesRouting) {
  auto r = call("POST", "/roles",
                {{"name", "lab"},
                 {"channels", Json::array({{{"name", "fhir"}}})},
                 {"clients", Json::array({{{"clientID", "client-b"}}})}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_THAT(list(Collection::Channels, "fhir", "allow"),
              ElementsAre("interop", "client-a", "lab"));
  EXPECT_THAT(list(Collection::Clients, "client-b", "roles"), ElementsAre("reader", "lab"));
  // The router sees the new link as soon as the call returned.
  auto routing = table_.get();
  ASSERT_EQ(routing->clients.count("client-b"), 1U);
  EXPECT_TRUE(clientAllowed(routing->clients.at("client-b"), routing->channels.at(0).allow));

  r = call("POST", "/roles", {{"name", "lab2"}, {"channels", Json::array({{{"name", "nope"}}})}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("nope"));
  r = call("POST", "/roles", {{"name", "lab2"}, {"clients", Json::array({"client-a"})}});
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(stored(Collection::Roles, "lab2").has_value());
}

TEST_F(AdminApiRolesTest, UpdateChangesPermissionsLinksAndName) {
  ASSERT_EQ(call("POST", "/roles", {{"name", "auditor"}}).status, 201);

  auto r = call("PUT", "/roles/nope", {{"permissions", Json::object()}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "Role with name 'nope' could not be found.");

  r = call("PUT", "/roles/auditor", {{"permissions", {{"transaction-view-all", true}}}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Successfully updated role");
  EXPECT_EQ((*stored(Collection::Roles, "auditor"))["permissions"],
            Json({{"transaction-view-all", true}}));

  EXPECT_EQ(call("PUT", "/roles/auditor", {{"name", "client-b"}}).status, 409);
  r = call("PUT", "/roles/auditor", {{"name", "reader"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Role with name 'reader' already exists.");
  EXPECT_EQ(call("PUT", "/roles/auditor", {{"name", ""}}).status, 400);

  // A 7.1 (virtual) role: linked to the channel now, renamed everywhere.
  r = call("PUT", "/roles/reader",
           {{"name", "readers"}, {"channels", Json::array({{{"_id", "ch1"}}})}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(list(Collection::Channels, "fhir", "allow"),
              ElementsAre("interop", "client-a", "readers"));
  EXPECT_THAT(list(Collection::Clients, "client-b", "roles"), ElementsAre("readers"));
  EXPECT_EQ(call("GET", "/roles/reader").status, 404);
  EXPECT_EQ(call("GET", "/roles/readers").status, 200);
  EXPECT_TRUE(stored(Collection::Roles, "readers").has_value());

  // Replacing the channel links keeps the client's own allow entry.
  ASSERT_EQ(call("PUT", "/roles/interop", {{"channels", Json::array()}}).status, 200);
  EXPECT_THAT(list(Collection::Channels, "fhir", "allow"), ElementsAre("client-a", "readers"));
  EXPECT_THAT(list(Collection::Clients, "client-a", "roles"), ElementsAre("interop"));
}

TEST_F(AdminApiRolesTest, DeleteUnlinksAndRemovesTheRole) {
  ASSERT_EQ(call("POST", "/roles", {{"name", "auditor"}}).status, 201);
  auto r = call("DELETE", "/roles/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "Role with name 'nope' could not be found.");

  r = call("DELETE", "/roles/interop");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Successfully deleted role");
  EXPECT_THAT(list(Collection::Channels, "fhir", "allow"), ElementsAre("client-a"));
  EXPECT_TRUE(list(Collection::Clients, "client-a", "roles").empty());
  EXPECT_EQ(call("GET", "/roles/interop").status, 404);

  EXPECT_EQ(call("DELETE", "/roles/auditor").status, 200);
  EXPECT_FALSE(stored(Collection::Roles, "auditor").has_value());
  EXPECT_EQ(call("GET", "/roles/auditor").status, 404);
}

TEST_F(AdminApiRolesTest, AClientIdMustNotBeARoleName) {
  ASSERT_EQ(call("POST", "/roles", {{"name", "auditor"}}).status, 201);

  auto r = call("POST", "/clients", {{"clientID", "auditor"}, {"name", "X"}});  // stored role
  EXPECT_EQ(r.status, 409);
  EXPECT_THAT(r.body, HasSubstr("A role name cannot be the same as a clientID"));
  r = call("POST", "/clients", {{"clientID", "reader"}, {"name", "X"}});  // client-b's role
  EXPECT_EQ(r.status, 409);
  r = call("POST", "/clients", {{"clientID", "c"}, {"name", "X"}, {"roles", {"c"}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(stored(Collection::Clients, "auditor").has_value());
  EXPECT_FALSE(stored(Collection::Clients, "c").has_value());

  r = call("PUT", "/clients/cl2", {{"clientID", "auditor"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_TRUE(stored(Collection::Clients, "client-b").has_value());
  // Other changes to a client are not refused for its (unchanged) clientID.
  EXPECT_EQ(call("PUT", "/clients/cl2", {{"name", "B2"}}).status, 200);

  r = call("POST", "/clients", {{"clientID", "client-c"}, {"name", "C"}, {"roles", {"auditor"}}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "Client successfully created");
}

}  // namespace
}  // namespace chtlink::him
