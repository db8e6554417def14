// First include: checks that the header is self-contained.
#include "net/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <set>
#include <thread>

#include "wait_until.h"

namespace chtlink::net {
namespace {

using chtlink::testing::waitUntil;

TEST(EventLoopTest, RunsPostedWorkOnItsThreads) {
  EventLoop loop(3);
  EXPECT_EQ(loop.threads(), 3);
  loop.start();
  std::atomic<int> ran{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  for (int i = 0; i < 50; ++i) {
    loop.post([&] {
      std::lock_guard lock(mu);
      ids.insert(std::this_thread::get_id());
      ++ran;
    });
  }
  ASSERT_TRUE(waitUntil([&] { return ran.load() == 50; }));
  std::lock_guard lock(mu);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST(EventLoopTest, StopFromAnIoThreadThenJoin) {
  EventLoop loop(2);
  loop.start();
  loop.post([&] { loop.stop(); });
  loop.join();  // returns once the I/O threads have finished
  loop.stop();  // idempotent
  SUCCEED();
}

TEST(EventLoopTest, SignalCallsHandlerOnce) {
  EventLoop loop(1);
  std::atomic<int> got{0};
  loop.onSignal({SIGUSR1}, [&](int s) { got = s; });
  loop.start();
  std::raise(SIGUSR1);
  EXPECT_TRUE(waitUntil([&] { return got.load() == SIGUSR1; }));
}

TEST(EventLoopTest, NativeContextIsStable) {
  EventLoop loop(1);
  EXPECT_NE(loop.nativeContext(), nullptr);
  EXPECT_EQ(loop.nativeContext(), loop.nativeContext());
}

}  // namespace
}  // namespace chtlink::net
