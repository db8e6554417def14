#include "load_driver.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

namespace chtlink::bench {

double cpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

double writtenBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  double value = 0;
  while (io >> key >> value)
    if (key == "wchar:") return value;
  return 0;
}

Run drive(net::HttpClient& client, int total, int concurrency,
          const std::function<net::ClientRequest(int)>& make, int expected_status) {
  std::atomic<int> started{0}, finished{0}, failures{0};
  std::vector<double> latencies(static_cast<size_t>(total));
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> next = [&] {
    int n = started.fetch_add(1);
    if (n >= total) return;
    auto t = std::chrono::steady_clock::now();
    client.send(make(n), [&, n, t](Result<net::ClientResponse> r) {
      latencies[static_cast<size_t>(n)] =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
      if (!r.has_value() || r->status != expected_status) failures.fetch_add(1);
      next();
      // Last: once the final request is counted, drive() returns and its locals go away.
      if (finished.fetch_add(1) + 1 == total) {
        std::lock_guard lock(mu);
        cv.notify_all();
      }
    });
  };
  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = cpuSeconds();
  double written0 = writtenBytes();
  for (int i = 0; i < concurrency; ++i) next();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return finished.load() == total; });
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::sort(latencies.begin(), latencies.end());
  Run run;
  run.rate = total / seconds;
  run.cpu_us = (cpuSeconds() - cpu0) * 1e6 / total;
  run.written_kb = (writtenBytes() - written0) / 1024 / total;
  run.p50_ms = latencies[latencies.size() / 2];
  run.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  run.failures = failures.load();
  return run;
}

}  // namespace chtlink::bench
