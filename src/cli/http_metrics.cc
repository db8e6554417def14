#include "cli/http_metrics.h"

namespace chtlink::cli {

HttpMetrics::HttpMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("chtlink_http_requests_total")
                    .Help("HTTP requests answered, by route pattern, method and status")
                    .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("chtlink_http_request_duration_seconds")
                   .Help("Time from a complete request to its answer, by route pattern")
                   .Register(registry)) {}

void HttpMetrics::observe(const net::RequestRecord& record) {
  prometheus::Counter* counter;
  prometheus::Histogram* histogram;
  {
    std::lock_guard lock(mu_);
    auto key =
        std::make_tuple(std::string(record.route), std::string(record.method), record.status);
    auto it = counters_.find(key);
    if (it == counters_.end()) {
      auto& c = requests_.Add({{"route", std::get<0>(key)},
                               {"method", std::get<1>(key)},
                               {"status", std::to_string(record.status)}});
      it = counters_.emplace(std::move(key), &c).first;
    }
    counter = it->second;
    auto h = histograms_.find(record.route);
    if (h == histograms_.end()) {
      auto& added = latency_.Add(
          {{"route", std::string(record.route)}},
          prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1, 0.25, 0.5, 1, 2.5, 5, 10});
      h = histograms_.emplace(std::string(record.route), &added).first;
    }
    histogram = h->second;
  }
  counter->Increment();
  histogram->Observe(std::chrono::duration<double>(record.duration).count());
}

}  // namespace chtlink::cli
