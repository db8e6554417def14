// Channel: an OpenHIM channel document parsed for routing, and channel selection.
//
// Selection follows OpenHIM core: channels ordered by `priority` ascending (1 is highest;
// unprioritised channels after all prioritised ones, in creation order), non-enabled ones
// dropped, and the first whose unanchored `urlPattern` (a JavaScript RegExp, run here as an
// ECMAScript std::regex) matches the path, whose `methods` list the method, and whose
// `matchContentTypes` (when set) list the request's media type wins. An empty `methods`
// never matches. There is no fallback to a later channel when authorisation fails.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace chtlink::him {

struct Route {
  std::string name;
  std::string host;
  uint16_t port = 80;
  std::string path;            // fixed upstream path; wins over path_transform
  std::string path_transform;  // s/from/to[/g]
  bool primary = false;
  bool secured = false;  // https upstream
  bool forward_auth_header = false;
  std::string username;
  std::string password;
  bool wait_primary_response = false;
};

struct Channel {
  std::string id;
  std::string name;
  std::string type = "http";  // http | polling (tcp/tls are not supported)
  std::string url_pattern;
  std::shared_ptr<const std::regex> pattern;
  std::vector<std::string> methods;
  std::optional<int64_t> priority;
  int64_t order = 0;  // creation order, the tie-break
  bool enabled = true;
  bool is_public = false;  // authType public
  std::vector<std::string> allow;
  std::vector<std::string> whitelist;
  std::vector<std::string> match_content_types;
  std::vector<Route> routes;  // enabled routes only
  std::optional<std::chrono::milliseconds> timeout;
  bool request_body = true;
  bool response_body = true;
  std::string polling_schedule;
};

// Parses a stored or submitted channel document. Refuses what cannot route (a urlPattern
// that is not a valid regular expression, a malformed route port).
Result<Channel> parseChannel(const Json& doc, int64_t order = 0);

// The checks OpenHIM's API applies on POST/PUT /channels (400 messages as OpenHIM words
// them): exactly one enabled primary route, path and pathTransform exclusive, pathTransform
// form, priority >= 1, no repeated method, timeout 1..3600000, a compilable urlPattern.
Status validateChannelDocument(const Json& doc);

// Sorts into selection order (priority, then creation order).
void sortForSelection(std::vector<Channel>& channels);

// The channel for the request, or null. `channels` must be in selection order.
const Channel* selectChannel(const std::vector<Channel>& channels, std::string_view method,
                             std::string_view path, std::string_view content_type);

// Applies a sed-like `s/from/to[/g]` transform (`\/` escapes a slash; `$1` works in `to`).
// InvalidArgument when `transform` is not of that form or `from` is not a valid pattern.
Result<std::string> transformPath(std::string_view path, std::string_view transform);

// A polling channel's schedule in OpenHIM's human form ("10 seconds", "5 minutes", "1 hour",
// "2 days"); nullopt for anything else (cron expressions: PollingSchedule in schedule.h).
std::optional<std::chrono::milliseconds> parsePollingSchedule(std::string_view schedule);

// The upstream path for a route: route.path, else the transformed path, else `path`.
Result<std::string> upstreamPath(const Route& route, std::string_view path);

}  // namespace chtlink::him
