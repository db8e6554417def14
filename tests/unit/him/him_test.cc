// Him::start(): the default admin password policy (sandbox keeps it, production refuses).
#include "him/him.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_clock.h"
#include "fake_http_client.h"
#include "him/client_auth.h"
#include "him/repository.h"
#include "store/migrations.h"
#include "test_database.h"

namespace chtlink::him {
namespace {

using ::testing::HasSubstr;

class HimStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = chtlink::testing::openTestDatabase(dir_);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    db_ = std::move(opened).value();
    ASSERT_TRUE(store::migrate(*db_, migrations()).has_value());
  }

  Status start(bool sandbox) {
    HimOptions options;
    options.sandbox = sandbox;
    options.data_dir = dir_.path().string();
    Him him(*db_, client_, clock_, random_, options, chtlink::testing::nullLogger());
    Status s = him.start();
    him.stop();
    return s;
  }

  Json root() {
    Json doc;
    EXPECT_TRUE(db_->run(store::Access::Read,
                         [&](store::Transaction& tx) -> Status {
                           CHTLINK_ASSIGN_OR_RETURN(
                               auto found, findByKey(tx, Collection::Users, "root@openhim.org"));
                           if (found) doc = found->doc;
                           return ok();
                         })
                    .has_value());
    return doc;
  }

  chtlink::testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  chtlink::testing::FakeHttpClient client_{[](net::ClientRequest, net::HttpClient::Callback) {}};
  chtlink::testing::FakeClock clock_;
  MtRandom random_{7};
};

TEST_F(HimStartTest, SandboxKeepsTheDefaultAdminPassword) {
  ASSERT_TRUE(start(/*sandbox=*/true).has_value());
  Json user = root();
  ASSERT_TRUE(user.is_object());
  EXPECT_TRUE(checkUserPassword(user, "openhim-password"));
  // A second start (the user exists now) still works in the sandbox.
  EXPECT_TRUE(start(true).has_value());
}

TEST_F(HimStartTest, OutsideTheSandboxTheDefaultPasswordIsRefusedWithInstructions) {
  Status s = start(/*sandbox=*/false);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::FailedPrecondition);
  EXPECT_EQ(s.error().reason, "default_admin_password");
  EXPECT_THAT(s.error().message, HasSubstr("root@openhim.org"));
  EXPECT_THAT(s.error().message, HasSubstr("openhim-password"));
  EXPECT_THAT(s.error().message, HasSubstr("PUT"));
  EXPECT_THAT(s.error().message, HasSubstr("sandbox.mode=on"));
}

TEST_F(HimStartTest, OutsideTheSandboxAChangedPasswordStarts) {
  ASSERT_TRUE(start(true).has_value());
  Json user = root();
  user.update(hashUserPassword("a-better-secret", "salt-2"));
  ASSERT_TRUE(
      db_->run(store::Access::Write,
               [&](store::Transaction& tx) { return replaceDoc(tx, Collection::Users, user); })
          .has_value());
  EXPECT_TRUE(start(false).has_value());
}

}  // namespace
}  // namespace chtlink::him
