#include "script/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "script_platform_env.h"

namespace chtlink::script {
namespace {

using ::testing::HasSubstr;

constexpr const char* kPerson =
    R"({"_id":"b7c1","type":"person","name":"Amina Otieno","short_name":"Amina",)"
    R"("sex":"female","n":172,"parent":{"_id":"hh","name":"Home"}})";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { engine_ = makeEngine(EngineOptions{}); }

  static std::unique_ptr<Engine> makeEngine(EngineOptions options) {
    auto engine = Engine::create(testing::platform(), options, nullptr);
    EXPECT_TRUE(engine.has_value()) << engine.error().message;
    return std::move(engine).value();
  }

  Value eval(const std::string& expression, const std::string& doc = kPerson) {
    auto value = engine_->evaluateSync(doc, expression, "test");
    EXPECT_TRUE(value.has_value()) << value.error().message;
    return value.has_value() ? *value : Value{};
  }

  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, ReadsTheDocAndReturnsJson) {
  EXPECT_EQ(eval("doc.name").json, "\"Amina Otieno\"");
  EXPECT_EQ(eval("doc.parent.name").json, "\"Home\"");
  EXPECT_EQ(eval("doc.n / 10").json, "17.2");
  EXPECT_EQ(eval("[doc.missing]").json, "[null]");
  EXPECT_EQ(eval("({a: doc.missing, b: 1})").json, "{\"b\":1}");
}

TEST_F(EngineTest, ModernSyntax) {
  EXPECT_EQ(eval("(() => doc.sex === 'female' ? 'F' : 'M')()").json, "\"F\"");
  EXPECT_EQ(eval("`Patient/?identifier=${doc._id}`").json, "\"Patient/?identifier=b7c1\"");
  EXPECT_EQ(eval("const parts = doc.name.split(' '); parts[parts.length - 1]").json, "\"Otieno\"");
  // Evaluated again in the same reused realm: a top-level const must not collide.
  EXPECT_EQ(eval("const parts = doc.name.split(' '); parts[0]").json, "\"Amina\"");
  EXPECT_EQ(eval("doc?.parent?.missing ?? 'none'").json, "\"none\"");
  EXPECT_EQ(eval("({...doc.parent, x: 1}).x").json, "1");
}

TEST_F(EngineTest, NumbersAndDatesFormatAsInV8) {
  EXPECT_EQ(eval("0.1 + 0.2").json, "0.30000000000000004");
  EXPECT_EQ(eval("1e21").json, "1e+21");
  EXPECT_EQ(eval("1e-7").json, "1e-7");
  EXPECT_EQ(eval("-0").json, "0");
  EXPECT_EQ(eval("NaN").json, "null");
  EXPECT_EQ(eval("new Date(0)").json, "\"1970-01-01T00:00:00.000Z\"");
  EXPECT_EQ(eval("'\\u00e9\\u2028'").json, "\"\xC3\xA9\xE2\x80\xA8\"");
}

TEST_F(EngineTest, UndefinedAndTruthiness) {
  Value missing = eval("doc.short_name2");
  EXPECT_TRUE(missing.undefined);
  EXPECT_FALSE(missing.truthy);
  EXPECT_FALSE(missing.json.has_value());
  Value zero = eval("0");
  EXPECT_FALSE(zero.undefined);
  EXPECT_FALSE(zero.truthy);
  EXPECT_EQ(zero.json, "0");
  EXPECT_TRUE(eval("doc.type === 'person' && doc.name").truthy);
  Value function = eval("(function () {})");
  EXPECT_FALSE(function.undefined);
  EXPECT_FALSE(function.json.has_value());
  EXPECT_EQ(eval("[undefined, () => 1]").json, "[null,null]");
}

TEST_F(EngineTest, OnlyDocAndBuiltInsAreGlobals) {
  EXPECT_EQ(eval("typeof require").json, "\"undefined\"");
  EXPECT_EQ(eval("typeof console").json, "\"undefined\"");
  EXPECT_EQ(eval("typeof setTimeout").json, "\"undefined\"");
  EXPECT_EQ(eval("typeof Math.max + typeof JSON.stringify + typeof Date").json,
            "\"functionfunctionfunction\"");
}

TEST_F(EngineTest, EachExpressionSeesTheOriginalDoc) {
  EXPECT_EQ(eval("doc.name = 'changed'; doc.name").json, "\"changed\"");
  EXPECT_EQ(eval("doc.name").json, "\"Amina Otieno\"");
}

TEST_F(EngineTest, ErrorsNameTheLabelAndCarryTheJavaScriptMessage) {
  auto thrown = engine_->evaluateSync(kPerson, "doc.missing.field", "config 'FHIR_patient'");
  ASSERT_FALSE(thrown.has_value());
  EXPECT_EQ(thrown.error().reason, "script_error");
  EXPECT_THAT(thrown.error().message, HasSubstr("config 'FHIR_patient'"));
  EXPECT_THAT(thrown.error().message, HasSubstr("TypeError"));
  EXPECT_THAT(thrown.error().message, HasSubstr("doc.missing.field"));

  auto syntax = engine_->evaluateSync(kPerson, "doc.name +", "cfg");
  ASSERT_FALSE(syntax.has_value());
  EXPECT_THAT(syntax.error().message, HasSubstr("SyntaxError"));

  auto custom = engine_->evaluateSync(kPerson, "(() => { throw new Error('boom'); })()", "cfg");
  ASSERT_FALSE(custom.has_value());
  EXPECT_THAT(custom.error().message, HasSubstr("Error: boom"));

  auto recursion = engine_->evaluateSync(kPerson, "const f = () => f(); f()", "cfg");
  ASSERT_FALSE(recursion.has_value());
  EXPECT_THAT(recursion.error().message, HasSubstr("recursion"));

  EXPECT_EQ(eval("doc.name").json, "\"Amina Otieno\"");
}

TEST_F(EngineTest, InvalidDocumentIsAnError) {
  auto value = engine_->evaluateSync("{not json", "doc", "cfg");
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().reason, "script_bad_document");
}

TEST_F(EngineTest, EndlessLoopHitsTheTimeLimitAndTheEngineRecovers) {
  EngineOptions options;
  options.threads = 1;
  options.time_limit = std::chrono::milliseconds(200);
  auto engine = makeEngine(options);
  auto started = std::chrono::steady_clock::now();
  auto value = engine->evaluateSync(kPerson, "while(true){}", "config 'loop'");
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().code, ErrorCode::DeadlineExceeded);
  EXPECT_EQ(value.error().reason, "script_timeout");
  EXPECT_THAT(value.error().message, HasSubstr("config 'loop'"));
  EXPECT_THAT(value.error().message, HasSubstr("200 ms"));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  // A try/catch in the script cannot swallow the interrupt.
  auto caught = engine->evaluateSync(kPerson, "try { while(true){} } catch (e) { 1 }", "cfg");
  ASSERT_FALSE(caught.has_value());
  EXPECT_EQ(caught.error().reason, "script_timeout");
  auto after = engine->evaluateSync(kPerson, "doc.sex", "cfg");
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->json, "\"female\"");
}

TEST_F(EngineTest, HugeAllocationHitsTheMemoryLimitAndTheEngineRecovers) {
  EngineOptions options;
  options.threads = 1;
  options.time_limit = std::chrono::seconds(20);
  options.memory_limit_bytes = 8 * 1024 * 1024;
  auto engine = makeEngine(options);
  auto value = engine->evaluateSync(
      kPerson, "const a = []; for (let i = 0; ; ++i) a.push([i, i, i, i, i, i, i, i]);",
      "config 'greedy'");
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().reason, "script_memory");
  EXPECT_EQ(value.error().code, ErrorCode::TooLarge);
  EXPECT_THAT(value.error().message, HasSubstr("config 'greedy'"));
  auto after = engine->evaluateSync(kPerson, "[1,2,3].map(x => x * 2)", "cfg");
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->json, "[2,4,6]");
}

TEST_F(EngineTest, SessionEvaluatesManyExpressionsOnOneDocument) {
  auto names = engine_->runSync<std::vector<std::string>>(
      kPerson, [](Session& session) -> Result<std::vector<std::string>> {
        std::vector<std::string> out;
        for (const char* expression : {"doc._id", "doc.type", "doc.name.length"}) {
          CHTLINK_ASSIGN_OR_RETURN(Value value, session.evaluate(expression, "cfg"));
          out.push_back(value.json.value_or("?"));
        }
        return out;
      });
  ASSERT_TRUE(names.has_value());
  EXPECT_THAT(*names, ::testing::ElementsAre("\"b7c1\"", "\"person\"", "12"));
}

TEST_F(EngineTest, RunsInParallelOffTheCallersThread) {
  const auto caller = std::this_thread::get_id();
  std::atomic<int> done{0};
  std::atomic<bool> on_caller{false};
  std::vector<std::promise<void>> finished(50);
  for (int i = 0; i < 50; ++i) {
    engine_->post(std::string(R"({"i":)") + std::to_string(i) + "}", [&, i](Session& session) {
      if (std::this_thread::get_id() == caller) on_caller = true;
      auto value = session.evaluate("doc.i * 2", "cfg");
      if (value.has_value() && value->json == std::to_string(i * 2)) ++done;
      finished[static_cast<size_t>(i)].set_value();
    });
  }
  for (auto& promise : finished) promise.get_future().wait();
  EXPECT_EQ(done.load(), 50);
  EXPECT_FALSE(on_caller.load());
}

// Threads start on demand: when tasks queue up behind the only started thread, busy with a
// task that waits for them, another thread starts and runs them.
TEST_F(EngineTest, StartsAnotherThreadWhenTasksQueueBehindABusyOne) {
  std::promise<void> queued_ran;
  std::promise<bool> busy_saw_them;
  engine_->post("{}", [&](Session&) {
    busy_saw_them.set_value(queued_ran.get_future().wait_for(std::chrono::seconds(10)) ==
                            std::future_status::ready);
  });
  std::atomic<int> evaluated{0};
  for (int i = 0; i < 2; ++i) {
    engine_->post("{}", [&](Session& session) {
      if (session.evaluate("1 + 1", "cfg").has_value() && ++evaluated == 2) queued_ran.set_value();
    });
  }
  EXPECT_TRUE(busy_saw_them.get_future().get());
  EXPECT_EQ(evaluated.load(), 2);
}

TEST_F(EngineTest, RejectsBadOptions) {
  EngineOptions options;
  options.time_limit = std::chrono::milliseconds(0);
  EXPECT_FALSE(Engine::create(testing::platform(), options, nullptr).has_value());
}

}  // namespace
}  // namespace chtlink::script
