// The outbound dedupe hash, exactly as CHT computes it (cht.md 3.6), so hashes recorded by a
// real CHT in info docs and ours compare equal.
#pragma once

#include <string>

#include "cht/outbound/js_json.h"

namespace chtlink::cht::outbound {

// C(v): plain objects with keys sorted by UTF-16 code units and written raw (no escaping);
// anything else, including objects inside arrays, as JSON.stringify writes it.
std::string canonicalString(const OrderedJson& payload);

// Lower-case hex SHA-256 of the UTF-8 bytes of canonicalString(payload).
std::string payloadHash(const OrderedJson& payload);

}  // namespace chtlink::cht::outbound
