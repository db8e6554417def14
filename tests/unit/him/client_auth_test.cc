#include "him/client_auth.h"

#include <gtest/gtest.h>

#include "him/crypto.h"

namespace chtlink::him {
namespace {

// Check values from OpenHIM core: the default root token passport and the performance
// fixture client.
constexpr const char* kRootSalt = "d9bcb40e-ae65-478f-962e-5e5e5e7d0a01";
constexpr const char* kRootHash =
    "943a856bba65aad6c639d5c8d4a11fc8bb7fe9de62ae307aec8cf6ae6c1faab722127964c71db4bdd2ea2cdf"
    "60c6e4094dcad54d4522ab2839b65ae98100d0fb";
constexpr const char* kPerfSalt = "acc04fcd4ebc5336d04fe562a2eccd79";
constexpr const char* kPerfHash =
    "bb1f8a8d974592540687ab4583a0d5c30f99b6c3620a5359ad5e352af5e7402c2b41c72e0892febf407d59ab"
    "000a7fa27071fa1e3c2216f665350eca73dc7901";

Json rootUser() {
  return {{"email", "root@openhim.org"},
          {"passwordAlgorithm", "sha512"},
          {"passwordSalt", kRootSalt},
          {"passwordHash", kRootHash}};
}

TEST(ClientPasswordTest, PasswordThenSaltAsOpenHimClients) {
  Json client = {{"clientID", "performance"},
                 {"passwordAlgorithm", "sha512"},
                 {"passwordSalt", kPerfSalt},
                 {"passwordHash", kPerfHash}};
  EXPECT_TRUE(checkClientPassword(client, "performance"));
  EXPECT_FALSE(checkClientPassword(client, "wrong"));
  // The user recipe (salt first) must not pass for a client.
  Json reversed = client;
  reversed["passwordHash"] = sha512Hex(std::string(kPerfSalt) + "performance");
  EXPECT_FALSE(checkClientPassword(reversed, "performance"));
}

TEST(ClientPasswordTest, OtherHashNamesWorkAndMissingMaterialNeverPasses) {
  Json client = {{"passwordAlgorithm", "sha256"},
                 {"passwordSalt", "s"},
                 {"passwordHash", *hexDigest("sha256", "pws")}};
  EXPECT_TRUE(checkClientPassword(client, "pw"));
  EXPECT_FALSE(checkClientPassword(Json{{"passwordHash", "x"}}, "pw"));
  EXPECT_FALSE(checkClientPassword(Json{{"passwordAlgorithm", "sha512"}}, ""));
  Json bcrypt = {{"passwordAlgorithm", "bcrypt"}, {"passwordHash", "$2a$10$abc"}};
  EXPECT_FALSE(checkClientPassword(bcrypt, "pw"));
}

TEST(UserPasswordTest, SaltThenPasswordAsOpenHimUsers) {
  EXPECT_TRUE(checkUserPassword(rootUser(), "openhim-password"));
  EXPECT_FALSE(checkUserPassword(rootUser(), "openhim-passwordx"));
  Json made = hashUserPassword("secret", "salty");
  EXPECT_EQ(made["passwordHash"], sha512Hex("saltysecret"));
  EXPECT_TRUE(checkUserPassword(made, "secret"));
}

std::string token(const std::string& ts) {
  return sha512Hex(std::string(kRootHash) + kRootSalt + ts);
}

TEST(UserTokenTest, TokenOverHashSaltAndTimestampWithinTheWindow) {
  TimePoint now = *parseClientTime("2024-05-01T10:11:12.345Z");
  const std::chrono::milliseconds window(10'000);
  std::string ts = "2024-05-01T10:11:10.000Z";
  EXPECT_TRUE(checkUserToken(rootUser(), ts, kRootSalt, token(ts), now, window));
  EXPECT_FALSE(checkUserToken(rootUser(), ts, kRootSalt, token(ts) + "0", now, window));
  EXPECT_FALSE(checkUserToken(rootUser(), ts, "other-salt", token(ts), now, window));
  std::string old = "2024-05-01T10:11:01.000Z";  // 11.3 s old
  EXPECT_FALSE(checkUserToken(rootUser(), old, kRootSalt, token(old), now, window));
  std::string future = "2024-05-01T10:11:23.000Z";
  EXPECT_FALSE(checkUserToken(rootUser(), future, kRootSalt, token(future), now, window));
  EXPECT_FALSE(checkUserToken(rootUser(), "", kRootSalt, token(""), now, window));
}

TEST(UserTokenTest, JavaScriptDateToStringTimestampsAreAccepted) {
  TimePoint now = *parseClientTime("2024-05-01T08:11:12Z");
  std::string ts = "Wed May 01 2024 10:11:12 GMT+0200 (Central European Summer Time)";
  EXPECT_TRUE(
      checkUserToken(rootUser(), ts, kRootSalt, token(ts), now, std::chrono::milliseconds(10'000)));
}

TEST(BasicAuthTest, ParsesSchemeCaseInsensitivelyAndSplitsOnFirstColon) {
  auto c = parseBasicAuth("Basic " + base64Encode("client:pa:ss"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->username, "client");
  EXPECT_EQ(c->password, "pa:ss");
  EXPECT_TRUE(parseBasicAuth("basic " + base64Encode("a:b")).has_value());
  EXPECT_FALSE(parseBasicAuth("Bearer abc").has_value());
  EXPECT_FALSE(parseBasicAuth("Basic " + base64Encode("nocolon")).has_value());
  EXPECT_FALSE(parseBasicAuth("Basic !!!").has_value());
}

TEST(ClientAllowedTest, ByClientIdOrAnyRole) {
  Json client = {{"clientID", "interop-client"}, {"roles", {"interop", "other"}}};
  EXPECT_TRUE(clientAllowed(client, {"interop"}));
  EXPECT_TRUE(clientAllowed(client, {"interop-client"}));
  EXPECT_FALSE(clientAllowed(client, {"admin"}));
  EXPECT_FALSE(clientAllowed(client, {}));
}

}  // namespace
}  // namespace chtlink::him
