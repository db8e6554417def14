#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/duration.h"
#include "temp_dir.h"

namespace chtlink::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ConfigSources fromFile(const std::string& file) {
  ConfigSources s;
  s.file = file;
  return s;
}

ConfigSources fromSets(std::vector<std::string> sets) {
  ConfigSources s;
  s.overrides = std::move(sets);
  return s;
}

std::string writeFile(const testing::TempDir& dir, const std::string& text) {
  std::string path = dir.file("chtlink.toml");
  std::ofstream(path) << text;
  return path;
}

TEST(LoadConfigTest, DefaultsNeedNoFile) {
  auto c = loadConfig({});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->server.port, 5001);
  EXPECT_EQ(c->server.host, "127.0.0.1");
  EXPECT_EQ(c->store.url, "sqlite:chtlink-data/chtlink.db");
  EXPECT_EQ(c->sources.at("server.port"), "default");
}

TEST(LoadConfigTest, FileThenEnvironmentThenSetEachOverride) {
  testing::TempDir dir;
  std::string file = writeFile(dir,
                               "[server]\nport = 7000\nhost = \"0.0.0.0\"\nread_timeout = \"2s\"\n"
                               "[queue]\nmax_attempts = 3\n");
  ConfigSources src;
  src.file = file;
  src.env = {
      {"CHTLINK_SERVER_PORT", "7001"}, {"CHTLINK_QUEUE_MAX_ATTEMPTS", "4"}, {"PATH", "/usr/bin"}};
  src.overrides = {"server.port=7002"};
  auto c = loadConfig(src);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->server.port, 7002);       // --set beats environment
  EXPECT_EQ(c->queue.max_attempts, 4);   // environment beats file
  EXPECT_EQ(c->server.host, "0.0.0.0");  // file beats default
  EXPECT_EQ(c->server.read_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c->sources.at("server.port"), "--set");
  EXPECT_EQ(c->sources.at("queue.max_attempts"), "environment CHTLINK_QUEUE_MAX_ATTEMPTS");
  EXPECT_THAT(c->sources.at("server.host"), HasSubstr("chtlink.toml:3:"));
}

TEST(LoadConfigTest, UnknownKeyInFileNamesKeyLineAndColumn) {
  testing::TempDir dir;
  std::string file = writeFile(dir, "[server]\nport = 7000\nprot = 7001\n");
  auto c = loadConfig(fromFile(file));
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(c.error().message, HasSubstr("chtlink.toml:3:"));
  EXPECT_THAT(c.error().message, HasSubstr("unknown key \"server.prot\""));
}

TEST(LoadConfigTest, WrongTypeInFileNamesKeyAndType) {
  testing::TempDir dir;
  std::string file = writeFile(dir, "[server]\nport = \"7000\"\n");
  auto c = loadConfig(fromFile(file));
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("chtlink.toml:2:"));
  EXPECT_THAT(c.error().message, HasSubstr("server.port: expected an integer, got a string"));
}

TEST(LoadConfigTest, TomlSyntaxErrorNamesLineAndColumn) {
  testing::TempDir dir;
  std::string file = writeFile(dir, "[server]\nport = = 1\n");
  auto c = loadConfig(fromFile(file));
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("chtlink.toml:2:"));
}

TEST(LoadConfigTest, MissingFileIsAnError) {
  auto c = loadConfig(fromFile("/nonexistent/chtlink.toml"));
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("/nonexistent/chtlink.toml"));
}

TEST(LoadConfigTest, KeyOutsideASectionIsAnError) {
  testing::TempDir dir;
  auto c = loadConfig(fromFile(writeFile(dir, "port = 1\n")));
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("must be a [section]"));
}

TEST(LoadConfigTest, ArrayValueIsAnError) {
  testing::TempDir dir;
  auto c = loadConfig(fromFile(writeFile(dir, "[server]\nport = [1]\n")));
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("server.port: arrays"));
}

struct BadValueCase {
  std::string set;
  std::string expected;
};

// Names the case by its --set text in test output.
void PrintTo(const BadValueCase& c, std::ostream* os) { *os << c.set; }

class BadValueTest : public ::testing::TestWithParam<BadValueCase> {};

TEST_P(BadValueTest, IsRefusedWithAMessageNamingTheKey) {
  auto c = loadConfig(fromSets({GetParam().set}));
  ASSERT_FALSE(c.has_value()) << GetParam().set;
  EXPECT_THAT(c.error().message, HasSubstr(GetParam().expected)) << GetParam().set;
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadValueTest,
    ::testing::Values(
        BadValueCase{"server.port=70000", "server.port: 70000 is out of range (0 to 65535)"},
        BadValueCase{"server.port=-1", "server.port: -1 is out of range"},
        BadValueCase{"server.port=80a", "server.port: expected an integer, got \"80a\""},
        BadValueCase{"server.read_timeout=5 s", "server.read_timeout: \"5 s\" has an unknown unit"},
        BadValueCase{"server.read_timeout=fast", "server.read_timeout: \"fast\" is not a duration"},
        BadValueCase{"client.verify_tls=maybe", "client.verify_tls: expected true or false"},
        BadValueCase{"log.format=xml", "log.format: \"xml\" is not one of: text, json"},
        BadValueCase{"store.sqlite_synchronous=off", "\"off\" is not one of: normal, full"},
        BadValueCase{"queue.max_attempts=0", "queue.max_attempts: 0 is out of range"},
        BadValueCase{"nosuch.key=1", "unknown key \"nosuch.key\""},
        BadValueCase{"server.port", "--set server.port: expected section.key=value"},
        BadValueCase{"=1", "expected section.key=value"},
        BadValueCase{"server.tls_certificate_file=/c.pem", "must be set together"},
        BadValueCase{"queue.initial_backoff=2h", "must not be longer than queue.max_backoff"}));

TEST(LoadConfigTest, UnknownChtlinkEnvironmentVariableIsAnError) {
  ConfigSources src;
  src.env = {{"CHTLINK_SERVER_PROT", "1"}};
  auto c = loadConfig(src);
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("CHTLINK_SERVER_PROT"));
}

TEST(LoadConfigTest, ReportsEveryProblemAtOnce) {
  auto c = loadConfig(fromSets({"server.port=x", "log.level=loud", "a.b=1"}));
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message, HasSubstr("3 problems"));
  EXPECT_THAT(c.error().message, HasSubstr("server.port"));
  EXPECT_THAT(c.error().message, HasSubstr("log.level"));
  EXPECT_THAT(c.error().message, HasSubstr("a.b"));
}

TEST(LoadConfigTest, TlsFilesTogetherEnableHttps) {
  auto c = loadConfig(
      fromSets({"server.tls_certificate_file=/c.pem", "server.tls_private_key_file=/k.pem"}));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_TRUE(c->server.tls.has_value());
  EXPECT_EQ(c->server.tls->certificate_file, "/c.pem");
}

TEST(RenderEffectiveConfigTest, MasksSecretsAndShowsSources) {
  auto c = loadConfig(fromSets({"store.url=postgresql://u:hunter2@db/chtlink"}));
  ASSERT_TRUE(c.has_value());
  std::string out = renderEffectiveConfig(*c);
  EXPECT_THAT(out, Not(HasSubstr("hunter2")));
  EXPECT_THAT(out, HasSubstr("url = \"********\"  # --set"));
  EXPECT_THAT(out, HasSubstr("port = 5001  # default"));
  EXPECT_THAT(out, HasSubstr("[queue]"));
}

TEST(RenderEffectiveConfigTest, OutputLoadsBackToTheSameValues) {
  testing::TempDir dir;
  auto c = loadConfig(fromSets({"server.port=6100", "queue.lease=90s"}));
  ASSERT_TRUE(c.has_value());
  std::string text = renderEffectiveConfig(*c);
  // store.url is masked; drop that line so the rest round-trips.
  std::string kept;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("url = ", 0) != 0) kept += line + "\n";
  auto again = loadConfig(fromFile(writeFile(dir, kept)));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->server.port, 6100);
  EXPECT_EQ(again->queue.lease, std::chrono::seconds(90));
}

TEST(ConfigReferenceTest, DocsConfigurationMdIsUpToDate) {
  std::ifstream in(std::string(CHTLINK_SOURCE_DIR) + "/docs/configuration.md");
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_EQ(committed.str(), renderConfigReference())
      << "docs/configuration.md is stale: regenerate it with `chtlink config docs > "
         "docs/configuration.md`";
}

// The example production file must keep loading as settings change, and stay production.
TEST(ConfigReferenceTest, ExampleProductionFileLoadsAndIsNotASandbox) {
  auto config =
      loadConfig(fromFile(std::string(CHTLINK_SOURCE_DIR) + "/docs/chtlink.example.toml"));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->sandbox.mode, "off");
  EXPECT_FALSE(config->cht_sim.enabled);
  EXPECT_EQ(config->sources.at("store.url").rfind("file ", 0), 0u);
}

struct DurationCase {
  std::string text;
  int64_t ms;
};

TEST(ParseDurationTest, AcceptsUnitsAndBareMilliseconds) {
  for (const auto& [text, ms] : std::vector<DurationCase>{{"0", 0},
                                                          {"250", 250},
                                                          {"250ms", 250},
                                                          {"15s", 15'000},
                                                          {"2m", 120'000},
                                                          {"1h", 3'600'000}}) {
    auto d = parseDuration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->count(), ms) << text;
  }
  for (const char* bad : {"", "s", "-1s", "1d", "1.5s", "99999999999999999999h"})
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
}

TEST(FormatDurationTest, PicksTheLargestExactUnit) {
  EXPECT_EQ(formatDuration(std::chrono::milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatDuration(std::chrono::milliseconds(15000)), "15s");
  EXPECT_EQ(formatDuration(std::chrono::milliseconds(120000)), "2m");
  EXPECT_EQ(formatDuration(std::chrono::milliseconds(0)), "0ms");
}

}  // namespace
}  // namespace chtlink::config
