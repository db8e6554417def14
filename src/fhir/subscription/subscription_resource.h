// The parts of an R4 Subscription resource (subscription.html) the server acts on, read
// from its JSON. Only rest-hook channels are supported (fhir.md 6.3).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "fhir/search/indexer.h"
#include "fhir/subscription/criteria.h"

namespace chtlink::fhir::subscription {

inline constexpr std::string_view kStatusActive = "active";
inline constexpr std::string_view kStatusError = "error";
inline constexpr std::string_view kStatusOff = "off";

struct RestHook {
  std::string endpoint;
  // MIME type of the notification body; nullopt sends an empty POST (a "ping").
  std::optional<std::string> payload;
  std::vector<std::pair<std::string, std::string>> headers;  // from "Name: value" lines
};

struct SubscriptionSpec {
  std::string status;  // active | error | off (requested is stored as active)
  Criteria criteria;
  RestHook channel;

  // Matches writes and delivers: active, and error (which keeps retrying).
  bool live() const { return status == kStatusActive || status == kStatusError; }
};

// Checks a Subscription about to be created or updated, and turns `status: requested` into
// `active` (activation is synchronous; fhir.md 6.3). Errors are fhirError("invalid", ...)
// (HTTP 400) naming the element: bad or unsupported criteria, a channel type other than
// rest-hook, a missing or non-http(s) endpoint, an unsupported payload type, a malformed
// header line, an unknown status.
Result<SubscriptionSpec> acceptSubscription(const search::Indexer& indexer, Json& resource);

// Reads a stored Subscription (accepted earlier; criteria are parsed again).
Result<SubscriptionSpec> readSubscription(const search::Indexer& indexer, const Json& resource);

}  // namespace chtlink::fhir::subscription
