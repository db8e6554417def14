// Private to src/net: X-Request-Id validation and generation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/random.h"

namespace chtlink::net {

// Longest X-Request-Id honoured; longer (or non-printable) ones are replaced.
constexpr size_t kMaxRequestIdLength = 128;

// True when a client-sent id may be logged and echoed as is: 1..128 visible ASCII characters.
bool isValidRequestId(std::string_view id);

// A small per-connection generator (SplitMix64), seeded once from the server's shared Random
// so the hot path takes no lock. Not thread-safe: one per session strand.
class RequestIdGenerator final : public Random {
 public:
  explicit RequestIdGenerator(uint64_t seed) : state_(seed) {}
  double uniform() override;
  uint64_t next64() override;
  // A fresh UUID v4 text (same format as newUuid, formatted without fmt: it runs per request).
  std::string next();

 private:
  uint64_t state_;
};

}  // namespace chtlink::net
