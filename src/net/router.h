// Router: picks the handler for a request by method and path pattern.
//
// Patterns are literal segments and parameters: "/fhir/{type}/{id}". A last segment
// "{name...}" captures the rest of the path, slashes included ("/fhir/{rest...}").
// Literal segments win over parameters at the same position, so "/jobs/dead" beats
// "/jobs/{id}". A path that matches some pattern but not its method gets 405 with an Allow
// header; no match at all gets 404. Both carry a JSON body.
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
    const Handler* handler = nullptr;  // null when no route matched
    std::string_view pattern;          // the matched pattern, for metrics ("/fhir/{type}")
    std::vector<PathParam> params;
    std::optional<Response> refusal;  // 404 or 405 when handler is null
  };
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Node;
  std::unique_ptr<Node> root_;
};

}  // namespace chtlink::net
