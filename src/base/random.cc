#include "base/random.h"

#include <fmt/format.h>

namespace chtlink {

MtRandom::MtRandom() : engine_(std::random_device{}()) {}
MtRandom::MtRandom(uint64_t seed) : engine_(seed) {}

double MtRandom::uniform() {
  std::lock_guard lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
}

uint64_t MtRandom::next64() {
  std::lock_guard lock(mu_);
  return engine_();
}

std::string newUuid(Random& random) {
  uint64_t hi = random.next64();
  uint64_t lo = random.next64();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

}  // namespace chtlink
