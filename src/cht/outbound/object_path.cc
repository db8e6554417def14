#include "cht/outbound/object_path.h"

#include <charconv>
#include <string>
#include <variant>
#include <vector>

#include "cht/outbound/utf8.h"

namespace chtlink::cht::outbound {
namespace {

// A path segment after object-path's getKey(): a number or a property name.
using Segment = std::variant<int64_t, std::string>;

std::vector<Segment> splitPath(std::string_view path) {
  std::vector<Segment> segments;
  size_t start = 0;
  for (;;) {
    size_t dot = path.find('.', start);
    std::string_view part = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    int64_t number = 0;
    auto parsed = std::from_chars(part.data(), part.data() + part.size(), number);
    if (parsed.ec == std::errc() && parsed.ptr == part.data() + part.size() &&
        std::to_string(number) == part) {
      segments.emplace_back(number);
    } else {
      segments.emplace_back(std::string(part));
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return segments;
}

std::string keyOf(const Segment& segment) {
  if (const auto* number = std::get_if<int64_t>(&segment)) return std::to_string(*number);
  return std::get<std::string>(segment);
}

std::u16string toUtf16(const std::string& text) {
  std::u16string out;
  for (uint32_t cp : utf8CodePoints(text)) {
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (cp >> 10));
      out += static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

std::string unitToUtf8(char16_t unit) {
  std::string out;
  uint32_t cp = unit;
  if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // half a pair cannot be written as UTF-8
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// getShallowProperty(): an own property, or an array element for a numeric segment.
std::optional<OrderedJson> shallow(const OrderedJson& value, const Segment& segment) {
  if (value.is_array()) {
    if (const auto* index = std::get_if<int64_t>(&segment)) {
      if (*index < 0 || static_cast<size_t>(*index) >= value.size()) return std::nullopt;
      const auto& item = value[static_cast<size_t>(*index)];
      if (item.is_discarded()) return std::nullopt;
      return item;
    }
    if (std::get<std::string>(segment) == "length") return OrderedJson(value.size());
    return std::nullopt;
  }
  if (value.is_object()) {
    auto found = value.find(keyOf(segment));
    if (found == value.end() || found->is_discarded()) return std::nullopt;
    return *found;
  }
  if (value.is_string()) {
    std::u16string units = toUtf16(value.get_ref<const std::string&>());
    std::string key = keyOf(segment);
    if (key == "length") return OrderedJson(units.size());
    if (isArrayIndex(key)) {
      size_t index = std::stoull(key);
      if (index < units.size()) return OrderedJson(unitToUtf8(units[index]));
    }
  }
  return std::nullopt;
}

bool unsafe(const Segment& segment) {
  const auto* name = std::get_if<std::string>(&segment);
  return name && (*name == "__proto__" || *name == "constructor" || *name == "prototype");
}

}  // namespace

std::optional<OrderedJson> getPath(const OrderedJson& root, std::string_view path) {
  if (path.empty()) return root;
  const OrderedJson* current = &root;
  std::optional<OrderedJson> holder;
  for (const auto& segment : splitPath(path)) {
    auto next = shallow(*current, segment);
    if (!next) return std::nullopt;
    holder = std::move(next);
    current = &*holder;
  }
  return holder;
}

Status setPath(OrderedJson& root, std::string_view path, OrderedJson value) {
  if (path.empty()) return ok();
  auto segments = splitPath(path);
  OrderedJson* current = &root;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& segment = segments[i];
    if (unsafe(segment)) {
      return invalidArgument("cannot set '" + std::string(path) + "': unsafe key '" +
                             keyOf(segment) + "'");
    }
    if (!current->is_object() && !current->is_array()) {
      return invalidArgument(
          "cannot set '" + keyOf(segment) + "' of '" + std::string(path) + "' on " +
          (current->is_null() ? "null" : "a " + std::string(current->type_name())));
    }
    const bool last = i + 1 == segments.size();
    OrderedJson* slot = nullptr;
    if (current->is_array()) {
      const auto* index = std::get_if<int64_t>(&segment);
      if (!index || *index < 0) {
        // A named property on an array is never serialised; nothing observable to keep.
        return ok();
      }
      auto position = static_cast<size_t>(*index);
      while (current->size() <= position) {
        current->push_back(OrderedJson(OrderedJson::value_t::discarded));
      }
      slot = &(*current)[position];
    } else {
      const std::string key = keyOf(segment);
      const bool existed = current->contains(key);
      slot = &(*current)[key];
      if (!existed) *slot = OrderedJson(OrderedJson::value_t::discarded);
    }
    if (last) {
      *slot = std::move(value);
      return ok();
    }
    if (slot->is_discarded()) {
      *slot = std::holds_alternative<int64_t>(segments[i + 1]) ? OrderedJson::array()
                                                               : OrderedJson::object();
    }
    current = slot;
  }
  return ok();
}

}  // namespace chtlink::cht::outbound
