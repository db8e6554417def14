// The outbound mapper: which push configurations a document is relevant to, and the payload
// each one sends (cht.md 3.2, 3.4). One implementation for cht-sim's Sentinel, pull mode and
// `outbound dry-run`.
//
// Runs inside a script::Session (a pool thread of the JavaScript engine) bound to the
// hydrated document, so relevant_to and every mapping expr of the document take one hop.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "cht/outbound/config.h"
#include "cht/outbound/js_json.h"
#include "script/engine.h"

namespace chtlink::cht::outbound {

struct Payload {
  OrderedJson value;
  std::string body;  // JSON.stringify(value): the request body, byte for byte
  std::string hash;  // payloadHash(value)
};

// One configuration that applies to the document: its payload, or why it cannot be built.
struct PushOutcome {
  std::string config;
  std::optional<Payload> payload;
  std::optional<Error> error;  // exactly one of payload / error is set
};

struct DocumentOutcome {
  std::string doc_id;
  // Configurations whose relevant_to is truthy (or threw: then `error` says so), in order.
  std::vector<PushOutcome> pushes;
};

// The payload for one configuration (no relevant_to check: CHT's retries skip it too).
// Errors name the configuration, the mapping key and the document id, as CHT's do.
Result<Payload> mapDocument(script::Session& session, const PushConfig& config,
                            const OrderedJson& doc);

// relevant_to of each configuration, then the mapping of those that apply.
DocumentOutcome evaluateDocument(script::Session& session, const OutboundSettings& settings,
                                 const OrderedJson& doc);

// Builds a Payload from an already mapped value (tests, re-hashing stored payloads).
Payload makePayload(OrderedJson value);

}  // namespace chtlink::cht::outbound
