// Prometheus metrics of the HTTP server: requests by route, method and status, and a
// latency histogram by route.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "net/server.h"

namespace chtlink::cli {

class HttpMetrics {
 public:
  explicit HttpMetrics(prometheus::Registry& registry);
  // Called by the server after each answered request, on an I/O thread.
  void observe(const net::RequestRecord& record);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  // prometheus-cpp's Family::Add hashes the labels under a lock on every call; remembering
  // the metric per key keeps the per-request cost to one small map lookup.
  std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, prometheus::Counter*> counters_;
  std::map<std::string, prometheus::Histogram*, std::less<>> histograms_;
};

}  // namespace chtlink::cli
