// waitUntil: poll a condition with a deadline instead of sleeping a fixed time.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace chtlink::testing {

// Returns true as soon as `condition` holds, false when `deadline` passes first.
inline bool waitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds deadline = std::chrono::seconds(10),
                      std::chrono::milliseconds step = std::chrono::milliseconds(5)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(step);  // one poll step, bounded by the deadline
  }
  return condition();
}

}  // namespace chtlink::testing
