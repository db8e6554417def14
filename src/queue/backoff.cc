#include <algorithm>
#include <cstdint>

#include "queue/queue.h"

namespace chtlink::queue {

std::chrono::milliseconds backoffDelay(int attempt, const QueueOptions& options, Random& random) {
  const int64_t initial = std::max<int64_t>(options.initial_backoff.count(), 0);
  const int64_t cap = std::max<int64_t>(options.max_backoff.count(), 0);
  const int doublings = std::max(attempt, 1) - 1;
  int64_t delay = 0;
  if (initial > 0) {
    // initial * 2^doublings, computed so that it cannot overflow: stop at the cap first.
    delay = doublings >= 63 || initial > (cap >> doublings) ? cap : initial << doublings;
  }
  delay = std::min(delay, cap);
  // Equal jitter: the first half is fixed, the second half uniform in [0, half].
  const int64_t half = delay / 2;
  const double u = std::clamp(random.uniform(), 0.0, 1.0);
  // min(): u * half rounds up near 2^63 in double precision.
  const int64_t jitter = std::min(static_cast<int64_t>(u * static_cast<double>(half)), half);
  return std::chrono::milliseconds(delay - half + jitter);
}

}  // namespace chtlink::queue
