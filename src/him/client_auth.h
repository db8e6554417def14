// Client and user credential checks, with OpenHIM's exact hash recipes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/json.h"

namespace chtlink::him {

struct BasicCredentials {
  std::string username;
  std::string password;
};

// Parses `Authorization: Basic base64(user:password)`; nullopt for any other value.
std::optional<BasicCredentials> parseBasicAuth(std::string_view authorization);

// Router clients: hex(H(password ‖ salt)) == passwordHash, H the client's passwordAlgorithm
// (a hash name such as sha512). Password first, salt second: the reverse of users. A client
// without algorithm or hash never passes. bcrypt hashes are not supported (never pass).
bool checkClientPassword(const Json& client, std::string_view password);

// API users: hex(H(salt ‖ password)) == passwordHash (H = passwordAlgorithm, sha512 default).
bool checkUserPassword(const Json& user, std::string_view password);

// The hash material for a new password, as OpenHIM's token passport stores it.
Json hashUserPassword(std::string_view password, std::string salt);

// OpenHIM token auth: the four auth-* header values checked against `user`.
// auth-ts must be within `window` of `now`; token = hex(SHA-512(passwordHash ‖ salt ‖ ts)).
bool checkUserToken(const Json& user, std::string_view ts, std::string_view salt,
                    std::string_view token, TimePoint now, std::chrono::milliseconds window);

// True iff `client` is allowed on a channel whose allow list is `allow` (by clientID or
// one of its roles).
bool clientAllowed(const Json& client, const std::vector<std::string>& allow);

}  // namespace chtlink::him
