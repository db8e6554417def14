// him: chtlink's interoperability layer, an OpenHIM-compatible router and admin API.
//
// Him owns the pieces and wires them: the RoutingTable (channels and clients in memory),
// the ChannelRouter (the handler of every request on the main server that is not
// /health or /metrics), the TransactionLog (batched writes) and the AdminApi routes for
// their own listener. The composition root (cli/serve.cc) creates one Him, calls start()
// before serving, mounts routerHandler() and adminRouter(), and calls stop() after the
// servers have drained.
//
//   him::Him him(db, http_client, clock, random, options, log);
//   CHTLINK_TRY(him.start());
//   router.add("*", "/{rest...}", him.routerHandler());
//   net::Server api(loop, *him.adminServerOptions(), him.adminRouter(), access_log);
#pragma once

#include <chrono>
#include <memory>

#include "base/clock.h"
#include "base/random.h"
#include "base/result.h"
#include "him/options.h"
#include "net/client.h"
#include "net/http.h"
#include "net/router.h"
#include "net/server.h"
#include "store/database.h"
#include "store/migrations.h"

namespace spdlog {
class logger;
}

namespace chtlink::him {

// Migrations of module "him" (add to the migrate() calls before start()).
std::span<const store::Migration> migrations();

class Him {
 public:
  Him(store::Database& db, net::HttpClient& client, const Clock& clock, Random& random,
      HimOptions options, std::shared_ptr<spdlog::logger> log);
  ~Him();
  Him(const Him&) = delete;
  Him& operator=(const Him&) = delete;

  // Blocking; call before serving. Creates the default admin root@openhim.org with
  // OpenHIM's default password when there is no user; while root still has that password,
  // warns in sandbox mode and fails (FailedPrecondition, saying how to change it) outside it.
  // Marks transactions a crash left Processing as Failed, and loads channels and clients.
  Status start();

  // The router: mount it for every method and path not served otherwise.
  net::Handler routerHandler();
  // The admin API's routes, for a listener built with adminServerOptions().
  net::Router adminRouter();
  // Listener options of the admin API: host, port, name "api", and TLS (the configured
  // certificate, or a self-signed one created in data_dir) unless api_tls is false.
  Result<net::ServerOptions> adminServerOptions(net::ServerOptions base) const;

  // Writes every recorded transaction. Call after the servers have drained.
  void stop();

  const HimOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chtlink::him
