// ChtService: the [cht] / [cht_sim] wiring of serve — what it builds and the errors for bad
// pull-mode files, which must name the setting and the file.
#include "cht/cht_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "../script/script_platform_env.h"
#include "fake_clock.h"
#include "net/event_loop.h"
#include "test_database.h"

namespace chtlink::cht {
namespace {

using ::testing::HasSubstr;

class ChtServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::openTestDatabase(dir_);
    ASSERT_TRUE(db.has_value());
    db_ = std::move(db).value();
    ASSERT_TRUE(ChtService::migrate(*db_).has_value());
    loop_.start();
    http_ = net::makeBeastHttpClient(loop_, {});
  }
  void TearDown() override {
    http_.reset();
    loop_.stop();
  }
  Result<std::unique_ptr<ChtService>> create(const ChtOptions& cht, const ChtSimServeOptions& sim) {
    return ChtService::create(
        {*db_, *http_, clock_, &script::testing::platform(), {}, [] {}, testing::nullLogger(), {}},
        cht, sim, "http://127.0.0.1:5001");
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.file(name)) << text;
    return dir_.file(name);
  }
  ChtOptions pull() {
    ChtOptions options;
    options.mode = "pull";
    options.url = "http://127.0.0.1:9";
    return options;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  testing::FakeClock clock_;
  net::EventLoop loop_{1};
  std::unique_ptr<net::HttpClient> http_;
};

TEST_F(ChtServiceTest, NeedsJavaScriptOnlyForPullModeOrTheEmulator) {
  ChtSimServeOptions sim;
  EXPECT_FALSE(ChtService::needsScript(ChtOptions{}, sim));
  EXPECT_TRUE(ChtService::needsScript(pull(), sim));
  sim.enabled = true;
  EXPECT_TRUE(ChtService::needsScript(ChtOptions{}, sim));
}

TEST_F(ChtServiceTest, TheEmulatorHasARouterAndPullModeAloneHasNone) {
  ChtSimServeOptions sim;
  sim.enabled = true;
  auto with_sim = create(ChtOptions{}, sim);
  ASSERT_TRUE(with_sim.has_value()) << with_sim.error().message;
  EXPECT_TRUE((*with_sim)->takeSimRouter().has_value());
  EXPECT_FALSE((*with_sim)->takeSimRouter().has_value());  // handed out once
  (*with_sim)->stop();
  auto pull_only = create(pull(), ChtSimServeOptions{});
  ASSERT_TRUE(pull_only.has_value()) << pull_only.error().message;
  EXPECT_FALSE((*pull_only)->takeSimRouter().has_value());
}

TEST_F(ChtServiceTest, BadPullFilesAreErrorsNamingTheSettingAndTheFile) {
  auto options = pull();
  options.credentials_file = dir_.file("missing.json");
  auto missing = create(options, {});
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message, HasSubstr("cht.credentials_file: cannot read"));
  EXPECT_THAT(missing.error().message, HasSubstr("missing.json"));

  options.credentials_file = write("credentials.json", R"({"openhim1": 42})");
  auto not_text = create(options, {});
  ASSERT_FALSE(not_text.has_value());
  EXPECT_THAT(not_text.error().message, HasSubstr("\"openhim1\" must be a string"));

  options.credentials_file = write("good.json", R"({"openhim1": "secret"})");
  options.settings_file = write("settings.json", "{not json");
  auto bad_settings = create(options, {});
  ASSERT_FALSE(bad_settings.has_value());
  EXPECT_THAT(bad_settings.error().message, HasSubstr("cht.settings_file"));
  EXPECT_THAT(bad_settings.error().message, HasSubstr("is not valid JSON"));

  options.settings_file.clear();
  options.url = "cht.example.org";
  auto bad_url = create(options, {});
  ASSERT_FALSE(bad_url.has_value());
  EXPECT_THAT(bad_url.error().message, HasSubstr("cht.url"));
}

}  // namespace
}  // namespace chtlink::cht
