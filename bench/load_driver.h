// What the HTTP benchmarks share: a closed-loop load driver over net::HttpClient (a fixed
// number of requests in flight, each latency recorded) and the process's CPU time and bytes
// written, which stay meaningful per request when other work makes rates noisy.
#pragma once

#include <functional>

#include "net/client.h"

namespace chtlink::bench {

// CPU seconds (user + system, all threads) this process has used so far.
double cpuSeconds();
// Bytes this process has written (to files and sockets alike: /proc/self/io "wchar").
double writtenBytes();

struct Run {
  double rate = 0;
  double written_kb = 0;  // KiB written per request (database files and sockets)
  double cpu_us = 0;      // CPU microseconds per request, whole process (server and client)
  double p50_ms = 0;
  double p99_ms = 0;
  int failures = 0;
};

// `total` requests made by `make(i)`, `concurrency` in flight; latency of each recorded. A
// request fails when it gets no answer or a status other than `expected_status`.
Run drive(net::HttpClient& client, int total, int concurrency,
          const std::function<net::ClientRequest(int)>& make, int expected_status);

}  // namespace chtlink::bench
