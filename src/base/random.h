// Random: the one source of randomness (ids, jitter), injectable so tests are repeatable.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace chtlink {

class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1).
  virtual double uniform() = 0;
  virtual uint64_t next64() = 0;
};

// Thread-safe Mersenne Twister; seeded from std::random_device unless a seed is given.
class MtRandom final : public Random {
 public:
  MtRandom();
  explicit MtRandom(uint64_t seed);
  double uniform() override;
  uint64_t next64() override;

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

// A random RFC 4122 version-4 UUID in its canonical text form.
std::string newUuid(Random& random);

}  // namespace chtlink
