#include "net/request_id.h"

#include <algorithm>

namespace chtlink::net {

bool isValidRequestId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

uint64_t RequestIdGenerator::next64() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string RequestIdGenerator::next() {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t hi = next64();
  uint64_t lo = next64();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  std::string out(36, '-');
  size_t pos = 0;
  auto put = [&](uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) out[pos++] = kHex[(v >> (i * 4)) & 0xF];
  };
  put(hi >> 32, 8);
  ++pos;
  put((hi >> 16) & 0xFFFF, 4);
  ++pos;
  put(hi & 0xFFFF, 4);
  ++pos;
  put(lo >> 48, 4);
  ++pos;
  put(lo & 0xFFFFFFFFFFFFULL, 12);
  return out;
}

double RequestIdGenerator::uniform() { return static_cast<double>(next64() >> 11) * 0x1.0p-53; }

}  // namespace chtlink::net
