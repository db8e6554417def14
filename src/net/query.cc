// Percent-decoding and query-string parsing (declared in net/http.h).
#include "net/http.h"

namespace chtlink::net {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Invalid escapes ("%zz", a lone "%") are kept verbatim rather than refused: a lenient decode
// keeps odd but harmless client input working, and the value is validated by whoever uses it.
std::string decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hexValue(s[i + 1]);
      int lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string percentDecode(std::string_view s) {
  if (s.find('%') == std::string_view::npos) return std::string(s);
  return decode(s, /*plus_is_space=*/false);
}

std::string decodeQueryComponent(std::string_view s) { return decode(s, /*plus_is_space=*/true); }

std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;  // "a=1&&b=2"
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(decodeQueryComponent(part), std::string());
    } else {
      out.emplace_back(decodeQueryComponent(part.substr(0, eq)),
                       decodeQueryComponent(part.substr(eq + 1)));
    }
  }
  return out;
}

}  // namespace chtlink::net
