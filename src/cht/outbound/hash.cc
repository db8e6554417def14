#include "cht/outbound/hash.h"

#include <openssl/sha.h>

#include <algorithm>
#include <vector>

#include "cht/outbound/utf8.h"

namespace chtlink::cht::outbound {
namespace {

// UTF-8 byte order equals code point order; UTF-16 order differs only for code points at
// U+E000..U+FFFF against supplementary ones (surrogates sort below U+E000).
int utf16Rank(uint32_t cp) {
  if (cp >= 0x10000) return 0xD800;
  return static_cast<int>(cp);
}

bool utf16Less(const std::string& a, const std::string& b) {
  auto ca = utf8CodePoints(a);
  auto cb = utf8CodePoints(b);
  for (size_t i = 0; i < ca.size() && i < cb.size(); ++i) {
    if (ca[i] == cb[i]) continue;
    int ra = utf16Rank(ca[i]);
    int rb = utf16Rank(cb[i]);
    if (ra != rb) return ra < rb;
    return ca[i] < cb[i];  // both supplementary: surrogate order is code point order
  }
  return ca.size() < cb.size();
}

void canonical(const OrderedJson& value, std::string& out) {
  if (!value.is_object()) {
    out += jsStringify(value);
    return;
  }
  std::vector<std::string> keys;
  for (const auto& [key, member] : value.items()) {
    if (!member.is_discarded()) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end(), utf16Less);
  out += '{';
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    out += keys[i];
    out += "\":";
    canonical(value.at(keys[i]), out);
  }
  out += '}';
}

}  // namespace

std::string canonicalString(const OrderedJson& payload) {
  std::string out;
  canonical(payload, out);
  return out;
}

std::string payloadHash(const OrderedJson& payload) {
  const std::string text = canonicalString(payload);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : digest) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0x0F];
  }
  return hex;
}

}  // namespace chtlink::cht::outbound
