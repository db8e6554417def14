// Router: picks the handler for a request by method and path pattern.
//
// Patterns are literal segments and parameters: "/fhir/{type}/{id}". A last segment
// "{name...}" captures the rest of the path, slashes included ("/fhir/{rest...}").
// Literal segments win over parameters at the same position, so "/jobs/dead" beats
// "/jobs/{id}". A path that matches some pattern but not its method gets 405 with an Allow
// header; no match at all gets 404. Both carry a JSON body.
//
// Details, fixed here so callers can rely on them:
// - The most specific pattern that accepts the method wins: with "GET /jobs/dead" and
//   "DELETE /jobs/{id}", DELETE /jobs/dead reaches the second (id = "dead"). Matching
//   backtracks, so "/jobs/dead/retry" can still reach "/jobs/{id}/retry".
// - A trailing slash is significant: "/fhir/Patient/" does not match "/fhir/Patient" (a
//   pattern may end in "/" to accept it). A {name} never matches an empty segment; a
//   {rest...} may be empty ("/mediator/" matches "/mediator/{rest...}", "/mediator" does not).
// - Paths are matched before percent-decoding, segment by segment, so "%2F" never splits a
//   segment. Literal segments compare with %XX decoded ("/jobs/de%61d" is "/jobs/dead").
//   {name} values are percent-decoded ('+' stays '+'); a {rest...} value is passed on
//   exactly as received, since it is a path to forward rather than a value.
// - HEAD falls back to the GET route when no HEAD route matches; Allow then lists HEAD too.
// - Method names are case-sensitive; "*" matches every method.
//
// Thread-safety: build it on one thread before the server starts; match() is then const and
// safe from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.h"

namespace chtlink::net {

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // Adds a route. `method` "*" matches every method. Throws std::invalid_argument on a
  // malformed pattern (a programming error, found at start-up).
  void add(std::string_view method, std::string_view pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null when no route matched; owned by the router
    std::string_view pattern;          // the matched pattern, for metrics ("/fhir/{type}");
                                       // empty on refusal. Valid while the router lives.
    std::vector<PathParam> params;
    std::optional<Response> refusal;  // 404 or 405 when handler is null
  };
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
};

}  // namespace chtlink::net
