// Checks queue/queue.h compiles on its own (first include).
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>

#include "queue/queue.h"
#include "queue_test_support.h"

namespace chtlink::queue {
namespace {

using std::chrono::milliseconds;

struct BackoffCase {
  int attempt;
  int64_t shortest;  // Random at 0: the fixed half
  int64_t longest;   // Random at 1: the full delay
};

TEST(BackoffTest, DoublesUntilTheCapWithEqualJitter) {
  QueueOptions options;
  options.initial_backoff = milliseconds(1'000);
  options.max_backoff = milliseconds(60'000);
  const BackoffCase cases[] = {
      {0, 500, 1'000},  // treated as attempt 1
      {1, 500, 1'000},       {2, 1'000, 2'000},         {3, 2'000, 4'000},    {4, 4'000, 8'000},
      {5, 8'000, 16'000},    {6, 16'000, 32'000},       {7, 30'000, 60'000},  // 64 s capped at 60 s
      {8, 30'000, 60'000},   {62, 30'000, 60'000},      {63, 30'000, 60'000}, {64, 30'000, 60'000},
      {100, 30'000, 60'000}, {INT_MAX, 30'000, 60'000},
  };
  FixedRandom low(0.0);
  FixedRandom high(1.0);
  for (const BackoffCase& c : cases) {
    EXPECT_EQ(backoffDelay(c.attempt, options, low).count(), c.shortest) << "attempt " << c.attempt;
    EXPECT_EQ(backoffDelay(c.attempt, options, high).count(), c.longest) << "attempt " << c.attempt;
  }
}

TEST(BackoffTest, NeverOverflowsWithAnEnormousCap) {
  QueueOptions options;
  options.initial_backoff = milliseconds(3);
  options.max_backoff = milliseconds(INT64_MAX);
  FixedRandom high(1.0);
  FixedRandom low(0.0);
  EXPECT_EQ(backoffDelay(100, options, high).count(), INT64_MAX);
  EXPECT_EQ(backoffDelay(100, options, low).count(), INT64_MAX - INT64_MAX / 2);
  EXPECT_EQ(backoffDelay(61, options, high).count(), int64_t{3} << 60);
  EXPECT_EQ(backoffDelay(62, options, high).count(), int64_t{3} << 61);
  EXPECT_EQ(backoffDelay(63, options, high).count(), INT64_MAX);  // 3 * 2^62 > max
  options.initial_backoff = milliseconds(1);
  EXPECT_EQ(backoffDelay(63, options, high).count(), int64_t{1} << 62);
  EXPECT_EQ(backoffDelay(64, options, high).count(), INT64_MAX);
}

TEST(BackoffTest, JitterStaysWithinItsHalf) {
  QueueOptions options;
  options.initial_backoff = milliseconds(1'000);
  options.max_backoff = milliseconds(60'000);
  MtRandom random(7);
  bool saw_below_full = false;
  for (int i = 0; i < 1'000; ++i) {
    int64_t d = backoffDelay(3, options, random).count();
    ASSERT_GE(d, 2'000);
    ASSERT_LE(d, 4'000);
    if (d < 3'900) saw_below_full = true;
  }
  EXPECT_TRUE(saw_below_full);  // the random half is used
}

TEST(BackoffTest, ZeroInitialBackoffMeansNoDelay) {
  QueueOptions options;
  options.initial_backoff = milliseconds(0);
  FixedRandom high(1.0);
  EXPECT_EQ(backoffDelay(INT_MAX, options, high).count(), 0);
}

}  // namespace
}  // namespace chtlink::queue
