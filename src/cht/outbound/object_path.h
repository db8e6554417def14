// object-path get/set as CHT's outbound mapping uses them (cht.md 3.2).
//
// get: the path is split on "."; a segment that reads back as the same integer
// (String(parseInt(s)) === s, so "0" and "-1" but not "01") is a number; a number indexes an
// array, anything else reads an own property (strings have "length" and their characters,
// arrays "length"). A missing link yields undefined (nullopt), never an error.
// set: intermediate containers that are missing are created, an array when the next segment
// is a number, else an object; the last segment overwrites.
#pragma once

#include <optional>
#include <string_view>

#include "base/result.h"
#include "cht/outbound/js_json.h"

namespace chtlink::cht::outbound {

// objectPath.get(root, path); nullopt = undefined.
std::optional<OrderedJson> getPath(const OrderedJson& root, std::string_view path);

// objectPath.set(root, path, value). Fails (InvalidArgument, naming the segment) where
// JavaScript would throw: setting a property on null or a primitive, or an unsafe key
// (__proto__, constructor, prototype).
Status setPath(OrderedJson& root, std::string_view path, OrderedJson value);

}  // namespace chtlink::cht::outbound
