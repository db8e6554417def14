// FakeClock: time that moves only when a test says so.
#pragma once

#include <atomic>

#include "base/clock.h"

namespace chtlink::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = fromUnixMillis(1'700'000'000'000)) : now_(start) {}
  TimePoint now() const override { return now_.load(); }
  std::chrono::steady_clock::time_point steadyNow() const override {
    return std::chrono::steady_clock::time_point(now_.load().time_since_epoch());
  }
  void advance(Duration d) { now_.store(now_.load() + d); }
  void set(TimePoint t) { now_.store(t); }

 private:
  std::atomic<TimePoint> now_;
};

}  // namespace chtlink::testing
