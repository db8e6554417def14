// Hashing and encoding helpers with the exact recipes OpenHIM uses.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/random.h"

namespace chtlink::him {

// Lower-case hex digest of `data` with a Node crypto hash name ("sha512", "sha256", "sha1",
// "md5"); nullopt for an algorithm OpenSSL does not know.
std::optional<std::string> hexDigest(std::string_view algorithm, std::string_view data);
std::string sha512Hex(std::string_view data);

std::string base64Encode(std::string_view data);
// nullopt when `text` is not valid base64.
std::optional<std::string> base64Decode(std::string_view text);

// Compares without an early exit, so timing does not reveal how much of a hash matched.
bool constantTimeEquals(std::string_view a, std::string_view b);

// A 24-hex-digit id shaped like a MongoDB ObjectId (4 bytes of seconds, 8 random bytes),
// because OpenHIM tooling expects ids of that form.
std::string newObjectId(const Clock& clock, Random& random);

// ISO 8601 UTC with milliseconds ("2024-05-01T10:11:12.345Z").
std::string isoTime(TimePoint t);
// Parses the forms JavaScript's Date.parse accepts that clients actually send: ISO 8601
// (with Z or an offset, optional fraction) and Date.toString()
// ("Wed May 01 2024 10:11:12 GMT+0200 (...)"). nullopt otherwise.
std::optional<TimePoint> parseClientTime(std::string_view text);

}  // namespace chtlink::him
