// JSON values as JavaScript sees them: insertion-ordered objects, JSON.stringify output.
//
// Outbound payloads must serialise byte for byte as CHT (Node/V8) serialises them, because
// receivers see the body and the dedupe hash (hash.h) is computed over it. Differences from
// nlohmann's dump that matter: object keys that are array indices ("0", "17") come first in
// ascending order, then the others in insertion order (JS property order); numbers use the
// ECMAScript Number::toString format (1e21 -> "1e+21", 1e-7 -> "1e-7"); a `discarded` value
// stands for a JS value JSON.stringify cannot write (an array hole, a function): omitted as a
// property, `null` as an array item.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace chtlink::cht::outbound {

using OrderedJson = nlohmann::ordered_json;

// Parses JSON text keeping object key order; duplicate keys keep the first position and the
// last value, as JSON.parse does. Errors name line and column.
Result<OrderedJson> parseOrderedJson(std::string_view text);

// JSON.stringify(value) as V8 writes it (compact).
std::string jsStringify(const OrderedJson& value);

// ECMAScript Number::toString for a finite double (NaN and infinities give "null", as in JSON).
std::string jsNumber(double value);

// The keys of `object` in JavaScript property order (array indices first, ascending).
std::vector<std::string> jsKeys(const OrderedJson& object);

// True if `key` is an array index ("0", "42"; not "01", "-1").
bool isArrayIndex(std::string_view key);

}  // namespace chtlink::cht::outbound
