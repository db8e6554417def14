#include "cht/outbound/js_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace chtlink::cht::outbound {
namespace {

constexpr double kMaxSafeInteger = 9007199254740992.0;  // 2^53

void write(const OrderedJson& value, std::string& out);

void writeString(const std::string& text, std::string& out) {
  out += OrderedJson(text).dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

void write(const OrderedJson& value, std::string& out) {
  switch (value.type()) {
    case OrderedJson::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& key : jsKeys(value)) {
        const auto& member = value.at(key);
        if (member.is_discarded()) continue;
        if (!first) out += ',';
        first = false;
        writeString(key, out);
        out += ':';
        write(member, out);
      }
      out += '}';
      return;
    }
    case OrderedJson::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value) {
        if (!first) out += ',';
        first = false;
        if (item.is_discarded()) {
          out += "null";
        } else {
          write(item, out);
        }
      }
      out += ']';
      return;
    }
    case OrderedJson::value_t::string:
      writeString(value.get_ref<const std::string&>(), out);
      return;
    case OrderedJson::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case OrderedJson::value_t::number_integer: {
      auto number = value.get<int64_t>();
      if (std::llabs(number) < static_cast<int64_t>(kMaxSafeInteger)) {
        out += std::to_string(number);
      } else {
        out += jsNumber(static_cast<double>(number));
      }
      return;
    }
    case OrderedJson::value_t::number_unsigned: {
      auto number = value.get<uint64_t>();
      if (number < static_cast<uint64_t>(kMaxSafeInteger)) {
        out += std::to_string(number);
      } else {
        out += jsNumber(static_cast<double>(number));
      }
      return;
    }
    case OrderedJson::value_t::number_float:
      out += jsNumber(value.get<double>());
      return;
    case OrderedJson::value_t::null:
    case OrderedJson::value_t::binary:
    case OrderedJson::value_t::discarded:
      out += "null";
      return;
  }
}

}  // namespace

Result<OrderedJson> parseOrderedJson(std::string_view text) {
  try {
    return OrderedJson::parse(text.begin(), text.end());
  } catch (const OrderedJson::parse_error& error) {
    return invalidArgument(error.what(), "invalid_json");
  }
}

std::string jsStringify(const OrderedJson& value) {
  std::string out;
  write(value, out);
  return out;
}

std::string jsNumber(double value) {
  if (!std::isfinite(value)) return "null";
  if (value == 0) return "0";
  char buffer[64];
  auto converted =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string_view text(buffer, static_cast<size_t>(converted.ptr - buffer));
  std::string out;
  if (text.front() == '-') {
    out += '-';
    text.remove_prefix(1);
  }
  const auto e_pos = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  const int exponent = std::atoi(std::string(text.substr(e_pos + 1)).c_str());
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;  // the decimal point sits after n digits
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n));
    out += '.';
    out += digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += 'e';
    out += (n - 1 >= 0) ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

bool isArrayIndex(std::string_view key) {
  if (key.empty() || key.size() > 10) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  if (!std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return std::stoull(std::string(key)) < 4294967295ull;
}

std::vector<std::string> jsKeys(const OrderedJson& object) {
  std::vector<std::string> indices;
  std::vector<std::string> names;
  for (const auto& [key, value] : object.items()) {
    (isArrayIndex(key) ? indices : names).push_back(key);
  }
  std::sort(indices.begin(), indices.end(), [](const std::string& a, const std::string& b) {
    return std::stoull(a) < std::stoull(b);
  });
  indices.insert(indices.end(), names.begin(), names.end());
  return indices;
}

}  // namespace chtlink::cht::outbound
