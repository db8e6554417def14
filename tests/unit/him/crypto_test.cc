#include "him/crypto.h"

#include <gtest/gtest.h>

#include <regex>

#include "fake_clock.h"

namespace chtlink::him {
namespace {

TEST(CryptoTest, Sha512HexOfKnownInput) {
  EXPECT_EQ(sha512Hex("abc").substr(0, 16), "ddaf35a193617aba");
  EXPECT_FALSE(hexDigest("no-such-hash", "x").has_value());
}

TEST(CryptoTest, Base64RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(*base64Decode(base64Encode(data)), data) << i;
    data += static_cast<char>(i * 37);
  }
  EXPECT_EQ(base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_FALSE(base64Decode("a*b").has_value());
}

TEST(CryptoTest, ObjectIdsAre24HexDigitsAndDiffer) {
  testing::FakeClock clock;
  MtRandom random(7);
  std::string a = newObjectId(clock, random);
  std::string b = newObjectId(clock, random);
  EXPECT_TRUE(std::regex_match(a, std::regex("[0-9a-f]{24}"))) << a;
  EXPECT_NE(a, b);
}

TEST(CryptoTest, IsoTimeRoundTripsAndOffsetsAreApplied) {
  TimePoint t = fromUnixMillis(1714558272345);
  EXPECT_EQ(isoTime(t), "2024-05-01T10:11:12.345Z");
  EXPECT_EQ(parseClientTime("2024-05-01T10:11:12.345Z"), t);
  EXPECT_EQ(parseClientTime("2024-05-01T12:11:12.345+02:00"), t);
  EXPECT_EQ(parseClientTime("2024-05-01T10:11:12.345678Z"), t);
  EXPECT_FALSE(parseClientTime("yesterday").has_value());
  EXPECT_FALSE(parseClientTime("2024-05-01T10:11:12Zjunk").has_value());
}

}  // namespace
}  // namespace chtlink::him
