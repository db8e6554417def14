// FakeHttpClient: a net::HttpClient whose send() calls a test's function, so tests of code
// that makes HTTP calls do not need the real client or a server.
#pragma once

#include <functional>
#include <utility>

#include "net/client.h"

namespace chtlink::testing {

class FakeHttpClient final : public net::HttpClient {
 public:
  using SendFn = std::function<void(net::ClientRequest, Callback)>;
  explicit FakeHttpClient(SendFn send) : send_(std::move(send)) {}

  // net::HttpClient
  void send(net::ClientRequest request, Callback done) override {
    send_(std::move(request), std::move(done));
  }

 private:
  SendFn send_;
};

}  // namespace chtlink::testing
