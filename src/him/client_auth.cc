#include "him/client_auth.h"

#include <algorithm>

#include "him/crypto.h"

namespace chtlink::him {

std::optional<BasicCredentials> parseBasicAuth(std::string_view authorization) {
  constexpr std::string_view kPrefix = "basic ";
  if (authorization.size() <= kPrefix.size()) return std::nullopt;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kPrefix[i]) return std::nullopt;
  }
  std::string_view encoded = authorization.substr(kPrefix.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  auto decoded = base64Decode(encoded);
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool checkClientPassword(const Json& client, std::string_view password) {
  std::string algorithm = client.value("passwordAlgorithm", "");
  std::string hash = client.value("passwordHash", "");
  if (algorithm.empty() || hash.empty()) return false;
  std::string input(password);
  input += client.value("passwordSalt", "");
  auto digest = hexDigest(algorithm, input);
  return digest && constantTimeEquals(*digest, hash);
}

bool checkUserPassword(const Json& user, std::string_view password) {
  std::string hash = user.value("passwordHash", "");
  if (hash.empty()) return false;
  std::string input = user.value("passwordSalt", "");
  input += password;
  auto digest = hexDigest(user.value("passwordAlgorithm", "sha512"), input);
  return digest && constantTimeEquals(*digest, hash);
}

Json hashUserPassword(std::string_view password, std::string salt) {
  std::string input = salt;
  input += password;
  return {{"passwordAlgorithm", "sha512"},
          {"passwordSalt", std::move(salt)},
          {"passwordHash", sha512Hex(input)}};
}

bool checkUserToken(const Json& user, std::string_view ts, std::string_view salt,
                    std::string_view token, TimePoint now, std::chrono::milliseconds window) {
  if (ts.empty() || salt.empty() || token.empty()) return false;
  auto when = parseClientTime(ts);
  if (!when) return false;
  if (*when < now - window || *when > now + window) return false;
  std::string hash = user.value("passwordHash", "");
  if (hash.empty()) return false;
  std::string input = hash;
  input += salt;
  input += ts;
  auto expected = hexDigest(user.value("passwordAlgorithm", "sha512"), input);
  return expected && constantTimeEquals(*expected, token);
}

bool clientAllowed(const Json& client, const std::vector<std::string>& allow) {
  auto listed = [&](const std::string& name) {
    return std::find(allow.begin(), allow.end(), name) != allow.end();
  };
  if (listed(client.value("clientID", ""))) return true;
  if (auto it = client.find("roles"); it != client.end() && it->is_array()) {
    for (const auto& role : *it)
      if (role.is_string() && listed(role.get<std::string>())) return true;
  }
  return false;
}

}  // namespace chtlink::him
