#include "script_platform_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

namespace chtlink::script::testing {
namespace {

class PlatformEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    auto created = Platform::initialize();
    ASSERT_TRUE(created.has_value()) << created.error().message;
    platform_ = std::move(created).value();
  }
  void TearDown() override { platform_.reset(); }
  Platform& get() { return *platform_; }

 private:
  std::unique_ptr<Platform> platform_;
};

// GoogleTest owns registered environments; this pointer only finds ours again.
PlatformEnvironment* const kEnvironment =
    static_cast<PlatformEnvironment*>(::testing::AddGlobalTestEnvironment(new PlatformEnvironment));

}  // namespace

Platform& platform() { return kEnvironment->get(); }

}  // namespace chtlink::script::testing
