#include "fhir/validation/primitives.h"

#include <cctype>
#include <cstdint>

namespace chtlink::fhir::validation {
namespace {

bool digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

int number(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

int daysIn(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// YYYY, YYYY-MM or YYYY-MM-DD at the start of s; returns the length consumed, 0 if invalid.
size_t datePart(std::string_view s, bool full) {
  if (!digits(s, 0, 4) || number(s, 0, 4) == 0) return 0;
  if (s.size() == 4) return full ? 0 : 4;
  if (s[4] != '-' || !digits(s, 5, 2)) return 0;
  int month = number(s, 5, 2);
  if (month < 1 || month > 12) return 0;
  if (s.size() == 7) return full ? 0 : 7;
  if (s[7] != '-' || !digits(s, 8, 2)) return 0;
  int day = number(s, 8, 2);
  if (day < 1 || day > daysIn(number(s, 0, 4), month)) return 0;
  return 10;
}

// hh:mm:ss(.f+)? at the start of s; returns the length consumed, 0 if invalid.
size_t timePart(std::string_view s) {
  if (!digits(s, 0, 2) || s.size() < 8 || s[2] != ':' || !digits(s, 3, 2) || s[5] != ':' ||
      !digits(s, 6, 2))
    return 0;
  if (number(s, 0, 2) > 23 || number(s, 3, 2) > 59 || number(s, 6, 2) > 60) return 0;
  size_t n = 8;
  if (n < s.size() && s[n] == '.') {
    size_t start = ++n;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == start) return 0;
  }
  return n;
}

bool zone(std::string_view s) {
  if (s == "Z") return true;
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || !digits(s, 1, 2) || s[3] != ':' ||
      !digits(s, 4, 2))
    return false;
  int h = number(s, 1, 2), m = number(s, 4, 2);
  return m <= 59 && (h < 14 || (h == 14 && m == 0));
}

bool dateTime(std::string_view s, bool instant) {
  size_t n = datePart(s, instant);
  if (n == 0) return false;
  if (n == s.size()) return !instant;
  if (n != 10 || s[n] != 'T') return false;
  size_t t = timePart(s.substr(n + 1));
  if (t == 0) return false;
  return zone(s.substr(n + 1 + t));
}

bool noWhitespace(std::string_view s) {
  for (char c : s)
    if (std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

bool base64(std::string_view s) {
  size_t count = 0;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
      return false;
    ++count;
  }
  return count % 4 == 0;
}

bool oid(std::string_view s) {
  if (s.rfind("urn:oid:", 0) != 0) return false;
  s.remove_prefix(8);
  if (s.size() < 3 || s[0] < '0' || s[0] > '2' || s[1] != '.') return false;
  size_t i = 1;
  while (i < s.size()) {
    if (s[i] != '.') return false;
    size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || (s[start] == '0' && i - start > 1)) return false;
  }
  return true;
}

bool uuid(std::string_view s) {
  if (s.rfind("urn:uuid:", 0) != 0 || s.size() != 45) return false;
  s.remove_prefix(9);
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool decimalText(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == start || (s[start] == '0' && i - start > 1)) return false;
  if (i < s.size() && s[i] == '.') {
    size_t f = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == f) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t e = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == e) return false;
  }
  return i == s.size();
}

std::optional<int64_t> integerText(std::string_view s) {
  size_t i = s.size() > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size() || s.size() - i > 10) return std::nullopt;
  int64_t v = 0;
  for (size_t k = i; k < s.size(); ++k) {
    if (s[k] < '0' || s[k] > '9') return std::nullopt;
    v = v * 10 + (s[k] - '0');
  }
  return s[0] == '-' ? -v : v;
}

std::optional<std::string> integerRange(std::string_view type, int64_t v) {
  if (v < INT32_MIN || v > INT32_MAX) return "is outside the 32-bit range of an integer";
  if (type == "positiveInt" && v < 1) return "must be 1 or more (positiveInt)";
  if (type == "unsignedInt" && v < 0) return "must be 0 or more (unsignedInt)";
  return std::nullopt;
}

bool isIntegerType(std::string_view t) {
  return t == "integer" || t == "positiveInt" || t == "unsignedInt";
}

}  // namespace

bool isKnownPrimitive(std::string_view t) {
  static constexpr std::string_view kAll[] = {
      "boolean",      "integer", "positiveInt", "unsignedInt", "decimal", "string", "code",
      "id",           "uri",     "url",         "canonical",   "oid",     "uuid",   "markdown",
      "base64Binary", "date",    "dateTime",    "instant",     "time",    "xhtml"};
  for (auto k : kAll)
    if (k == t) return true;
  return false;
}

std::optional<std::string> checkPrimitiveText(std::string_view t, std::string_view s) {
  if (s.empty()) return "must not be an empty string (leave the element out instead)";
  if (t == "string" || t == "markdown") {
    if (s.size() > 1024 * 1024) return "is longer than 1 MB";
    return std::nullopt;
  }
  if (t == "code") {
    bool ok = !std::isspace(static_cast<unsigned char>(s.front())) &&
              !std::isspace(static_cast<unsigned char>(s.back()));
    for (size_t i = 1; ok && i < s.size(); ++i)
      if (std::isspace(static_cast<unsigned char>(s[i])) &&
          (s[i] != ' ' || std::isspace(static_cast<unsigned char>(s[i - 1]))))
        ok = false;
    if (!ok) return "is not a valid code: no leading, trailing or repeated whitespace";
    return std::nullopt;
  }
  if (t == "id") {
    bool ok = s.size() <= 64;
    for (char c : s)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.');
    if (!ok) return "is not a valid id: 1-64 characters of A-Z a-z 0-9 - .";
    return std::nullopt;
  }
  if (t == "uri" || t == "url" || t == "canonical") {
    if (!noWhitespace(s)) return "is not a valid " + std::string(t) + ": it contains whitespace";
    return std::nullopt;
  }
  if (t == "oid") {
    if (!oid(s)) return "is not a valid oid: expected urn:oid:1.2.3";
    return std::nullopt;
  }
  if (t == "uuid") {
    if (!uuid(s))
      return "is not a valid uuid: expected urn:uuid: and 36 lowercase hex/dash characters";
    return std::nullopt;
  }
  if (t == "base64Binary") {
    if (!base64(s)) return "is not valid base64";
    return std::nullopt;
  }
  if (t == "date") {
    if (datePart(s, false) != s.size())
      return "is not a valid date: expected YYYY, YYYY-MM or YYYY-MM-DD";
    return std::nullopt;
  }
  if (t == "dateTime") {
    if (!dateTime(s, false))
      return "is not a valid dateTime: expected YYYY, YYYY-MM, YYYY-MM-DD or "
             "YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or +hh:mm)";
    return std::nullopt;
  }
  if (t == "instant") {
    if (!dateTime(s, true))
      return "is not a valid instant: expected YYYY-MM-DDThh:mm:ss(.sss) with a time zone "
             "(Z or +hh:mm)";
    return std::nullopt;
  }
  if (t == "time") {
    if (timePart(s) != s.size()) return "is not a valid time: expected hh:mm:ss(.sss)";
    return std::nullopt;
  }
  if (t == "xhtml") {
    size_t start = s.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos || s.substr(start, 4) != "<div")
      return "is not valid narrative XHTML: it must be a <div> element";
    return std::nullopt;
  }
  if (t == "decimal") {
    if (!decimalText(s)) return "is not a valid decimal";
    return std::nullopt;
  }
  if (isIntegerType(t)) {
    auto v = integerText(s);
    if (!v) return "is not a valid integer";
    return integerRange(t, *v);
  }
  if (t == "boolean") {
    if (s != "true" && s != "false") return "is not a valid boolean: expected true or false";
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> checkPrimitiveJson(std::string_view t, const Json& v, bool& wrong_kind) {
  wrong_kind = false;
  if (t == "boolean") {
    if (v.is_boolean()) return std::nullopt;
    wrong_kind = true;
    if (v.is_string()) return checkPrimitiveText(t, v.get_ref<const std::string&>());
    return "is not a valid boolean: expected true or false";
  }
  if (isIntegerType(t)) {
    if (v.is_number_integer())
      return integerRange(t, v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX
                                 ? INT64_MAX
                                 : v.get<int64_t>());
    wrong_kind = true;
    if (v.is_string()) return checkPrimitiveText(t, v.get_ref<const std::string&>());
    return "is not a valid integer";
  }
  if (t == "decimal") {
    if (v.is_number()) return std::nullopt;
    wrong_kind = true;
    if (v.is_string()) return checkPrimitiveText(t, v.get_ref<const std::string&>());
    return "is not a valid decimal";
  }
  if (v.is_string()) return checkPrimitiveText(t, v.get_ref<const std::string&>());
  wrong_kind = true;
  if (v.is_number() || v.is_boolean()) return checkPrimitiveText(t, dumpJson(v));
  return "must be a JSON string";
}

}  // namespace chtlink::fhir::validation
