#include "script/watchdog_internal.h"
#include "script/worker_internal.h"

namespace chtlink::script {

Watchdog::Watchdog() : thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Watchdog::arm(Worker& worker, uint64_t generation,
                   std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    armed_[&worker] = Armed{generation, deadline};
  }
  wake_.notify_all();
}

void Watchdog::disarm(Worker& worker) {
  std::lock_guard lock(mutex_);
  armed_.erase(&worker);
}

void Watchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    auto next = now + std::chrono::seconds(60);
    for (auto it = armed_.begin(); it != armed_.end();) {
      if (it->second.deadline <= now) {
        it->first->interruptIfStill(it->second.generation);
        it = armed_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    wake_.wait_until(lock, next);
  }
}

}  // namespace chtlink::script
