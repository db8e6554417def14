#include "base/random.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace chtlink {
namespace {

TEST(NewUuidTest, IsAVersion4UuidAndUnique) {
  MtRandom random(42);
  std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = newUuid(random);
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(MtRandomTest, SameSeedSameSequence) {
  MtRandom a(7), b(7);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next64(), b.next64());
  double u = a.uniform();
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
}

}  // namespace
}  // namespace chtlink
