// AdminApi: the OpenHIM-compatible management REST API (OpenHIM core's port 8080 role).
//
// Authentication as OpenHIM: the token scheme (GET /authenticate/{email} for the salt, then
// auth-username/auth-ts/auth-salt/auth-token on every call) and Basic. Authorisation is the
// ≤7.1 model: every authenticated endpoint needs a user in group `admin` (403 otherwise).
// Success and error bodies are OpenHIM's plain-text strings where OpenHIM answers text,
// so its own clients (openhim-mediator-utils, the cht configurator) read them unchanged.
//
// Every handler runs its work on the store's pool in one database transaction; a write that
// commits replaces the router's RoutingTable before the answer is sent, so a channel or
// client created through the API routes as soon as the call returns.
#pragma once

#include <chrono>
#include <memory>

#include "base/clock.h"
#include "base/random.h"
#include "him/channel_router.h"
#include "him/options.h"
#include "him/routing_table.h"
#include "net/router.h"
#include "store/database.h"

namespace spdlog {
class logger;
}

namespace chtlink::him {

struct AdminApiDeps {
  store::Database& db;
  RoutingTable& table;
  ChannelRouter& router;
  const Clock& clock;
  Random& random;
  const HimOptions& options;
  std::shared_ptr<spdlog::logger> log;
  std::chrono::steady_clock::time_point started;
};

// The API's routes. `deps` must outlive the returned router's use.
net::Router buildAdminRouter(const AdminApiDeps& deps);

}  // namespace chtlink::him
