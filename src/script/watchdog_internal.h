// Watchdog: one thread that stops evaluations running past their deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

namespace chtlink::script {

class Worker;

class Watchdog {
 public:
  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // `worker` runs evaluation `generation` until `deadline` at most.
  void arm(Worker& worker, uint64_t generation, std::chrono::steady_clock::time_point deadline);
  // The evaluation ended; holding the lock here means no interrupt is requested afterwards
  // for it (a late request would be ignored anyway: the generation no longer matches).
  void disarm(Worker& worker);

 private:
  struct Armed {
    uint64_t generation;
    std::chrono::steady_clock::time_point deadline;
  };
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<Worker*, Armed> armed_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace chtlink::script
