// JSON calls over HTTP for the end-to-end tests against a sandbox serve: the reference
// development credentials, a body sent as JSON, answers parsed, FHIR search totals.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/json.h"
#include "base/result.h"
#include "net/client.h"
#include "serve_process.h"

namespace chtlink::testing {

// The sandbox's router client and cht-sim admin (README, reference development environment).
inline const net::BasicAuth kInteropClient{"interop-client", "interop-password"};
inline const net::BasicAuth kChtSimAdmin{"admin", "password"};

class E2eCalls {
 public:
  Result<net::ClientResponse> call(const std::string& method, const std::string& url,
                                   const std::optional<Json>& body,
                                   const net::BasicAuth& auth = kInteropClient);
  // The status, -1 when the call failed.
  int status(const std::string& method, const std::string& url, const std::optional<Json>& body,
             const net::BasicAuth& auth = kInteropClient);
  // The parsed answer; a test failure when the call fails or its status is not `expected`.
  Json json(const std::string& method, const std::string& url, const std::optional<Json>& body,
            int expected_status, const net::BasicAuth& auth = kInteropClient);
  // `total` of the FHIR search at `search_url`, -1 when it is not a searchset.
  int64_t total(const std::string& search_url);
  // Drops the kept-alive connections (before stopping the server, so a graceful stop has
  // nothing to drain).
  void reconnect() { client_ = std::make_unique<TestClient>(); }

 private:
  std::unique_ptr<TestClient> client_ = std::make_unique<TestClient>();
};

}  // namespace chtlink::testing
