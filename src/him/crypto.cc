#include "him/crypto.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <memory>

namespace chtlink::him {

std::optional<std::string> hexDigest(std::string_view algorithm, std::string_view data) {
  std::string name(algorithm);
  const EVP_MD* md = EVP_get_digestbyname(name.c_str());
  if (md == nullptr) return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
    return std::nullopt;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 0xF];
  }
  return hex;
}

std::string sha512Hex(std::string_view data) { return hexDigest("sha512", data).value_or(""); }

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}
}  // namespace

std::string base64Encode(std::string_view data) {
  std::string out;
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(data[k]); };
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == data.size()) {
    unsigned v = byte(i) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = b64Value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string newObjectId(const Clock& clock, Random& random) {
  auto seconds = static_cast<uint32_t>(toUnixMillis(clock.now()) / 1000);
  return fmt::format("{:08x}{:016x}", seconds, random.next64());
}

std::string isoTime(TimePoint t) {
  int64_t ms = toUnixMillis(t);
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

namespace {

int64_t daysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<TimePoint> fromParts(int y, int mo, int d, int h, int mi, int s, int ms,
                                   int offset_minutes) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t total = ((days * 24 + h) * 60 + mi - offset_minutes) * 60 + s;
  return fromUnixMillis(total * 1000 + ms);
}

std::optional<int> monthIndex(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (size_t i = 0; i < kMonths.size(); ++i)
    if (kMonths[i] == name) return static_cast<int>(i) + 1;
  return std::nullopt;
}

}  // namespace

std::optional<TimePoint> parseClientTime(std::string_view text) {
  std::string s(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0;
  // ISO 8601: 2024-05-01T10:11:12[.345][Z|+02:00]
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6) {
    size_t i = static_cast<size_t>(n);
    int ms = 0;
    if (i < s.size() && s[i] == '.') {
      int digits = 0;
      ++i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (digits < 3) ms = ms * 10 + (s[i] - '0');
        ++digits;
        ++i;
      }
      if (digits == 0) return std::nullopt;
      for (; digits < 3; ++digits) ms *= 10;
    }
    int offset = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
      ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      int oh = 0, om = 0;
      if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
      offset = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
      i += 6;
    }
    if (i != s.size()) return std::nullopt;
    return fromParts(y, mo, d, h, mi, sec, ms, offset);
  }
  // Date.toString(): "Wed May 01 2024 10:11:12 GMT+0200 (Central European Summer Time)"
  char wday[4] = {}, mon[4] = {};
  char sign = '+';
  int off = 0;
  if (std::sscanf(s.c_str(), "%3s %3s %d %d %d:%d:%d GMT%c%4d", wday, mon, &d, &y, &h, &mi, &sec,
                  &sign, &off) == 9) {
    auto m = monthIndex(mon);
    if (!m) return std::nullopt;
    int offset = (sign == '-' ? -1 : 1) * ((off / 100) * 60 + off % 100);
    return fromParts(y, *m, d, h, mi, sec, 0, offset);
  }
  return std::nullopt;
}

}  // namespace chtlink::him
