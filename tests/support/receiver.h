// Receiver: a real HTTP server in the test process that counts what chtlink delivers.
//
// Every request is recorded with its X-Chtlink-Job-Id. The answer is chosen by a policy the
// test can change at any time: a status code, or "hold" (keep the request unanswered until
// the receiver is destroyed), which keeps a delivery in flight.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "net/server.h"

namespace chtlink::testing {

class Receiver {
 public:
  static constexpr int kHold = 0;

  // Listens on 127.0.0.1:`port` (0: a free port; a port a destroyed Receiver had, to play a
  // receiver that went down and came back).
  explicit Receiver(uint16_t port = 0);
  ~Receiver();

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const;
  void answerWith(int status) { status_.store(status); }
  // From now on, answers with a 2xx only until `n` requests in all have been acknowledged,
  // then holds every further request (n < 0: no limit). Makes "some delivered, the rest in
  // flight" deterministic however fast the sender is.
  void acknowledgeAtMost(int n) { ack_limit_.store(n); }

  // Requests seen so far (answered or held).
  size_t received() const;
  // Job ids answered with a 2xx, and how many times each.
  std::map<std::string, int> acknowledged() const;
  size_t held() const;
  std::vector<net::Request> requests() const;

 private:
  net::EventLoop loop_{2};
  std::unique_ptr<net::Server> server_;
  uint16_t port_ = 0;
  std::atomic<int> status_{200};
  std::atomic<int> ack_limit_{-1};
  int acknowledged_total_ = 0;  // guarded by mu_
  mutable std::mutex mu_;
  std::vector<net::Request> requests_;
  std::map<std::string, int> acknowledged_;
  std::vector<net::Reply> held_;
};

}  // namespace chtlink::testing
