// Clock: the only way chtlink code reads the time, so tests can drive it (FakeClock in
// tests/support). SystemClock is the one implementation that reads the real clock.
#pragma once

#include <chrono>

namespace chtlink {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time: stored timestamps, job schedules, lease expiry.
  virtual TimePoint now() const = 0;
  // Monotonic time for measuring durations (latencies, uptime).
  virtual std::chrono::steady_clock::time_point steadyNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point steadyNow() const override {
    return std::chrono::steady_clock::now();
  }
};

// Milliseconds since the Unix epoch, the unit timestamps are stored in.
inline int64_t toUnixMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint fromUnixMillis(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::milliseconds(ms)));
}

}  // namespace chtlink
