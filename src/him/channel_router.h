// ChannelRouter: the client-facing router (OpenHIM core's port 5001 role).
//
// handle() is a net::Handler: pick the channel (channel.h), authenticate the client with
// Basic auth and authorise it (authType, allow, whitelist), forward to every enabled route
// through net::HttpClient (async; no I/O thread ever waits), answer with the primary
// route's response (a mediator's application/json+openhim answer unwrapped), and record the
// transaction (TransactionLog) with its final status once every route has finished.
//
// Refusals carry JSON bodies {"error": token, "message": text}: 404 no channel, 401 missing
// credentials / unknown client or wrong password / client not allowed / address not
// whitelisted (with WWW-Authenticate: Basic; no transaction stored), 500 when the primary
// upstream cannot be reached or times out (transaction Failed).
//
// Thread-safety: handle() and rerun() from any thread; the router must outlive every
// request it is handling (the HttpClient's callbacks reference it).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/json.h"
#include "base/random.h"
#include "him/options.h"
#include "him/routing_table.h"
#include "him/transaction_log.h"
#include "net/client.h"
#include "net/http.h"

namespace spdlog {
class logger;
}

namespace chtlink::him {

class ChannelRouter {
 public:
  ChannelRouter(const RoutingTable& table, net::HttpClient& client, TransactionLog& transactions,
                const Clock& clock, Random& random, const HimOptions& options,
                std::shared_ptr<spdlog::logger> log);

  void handle(net::Request request, net::Reply reply);

  // Replays the request stored in transaction `original` on its channel's current routes,
  // without authentication, as a new transaction `child_id` whose parentID is the original.
  // InvalidArgument when the channel no longer exists or is not enabled, or the stored
  // request cannot be replayed (canRerun false).
  Status rerun(const Json& original, const std::string& child_id);

  // Calls polling channel `channel_id` now (GET /trigger, no client), as a new transaction.
  // `last_run` (epoch when never run) is sent as X-OpenHIM-LastRunAt.
  Status poll(const std::string& channel_id, TimePoint last_run);

 private:
  // The Processing record of a new transaction for `request` on `channel`.
  TransactionRecord newTransaction(const net::Request& request, const Channel& channel,
                                   std::string tx_id, std::string client_object_id);
  struct Exchange;
  void forward(std::shared_ptr<Exchange> exchange);
  void sendRoute(const std::shared_ptr<Exchange>& exchange, size_t route_index);
  void finishRoute(const std::shared_ptr<Exchange>& exchange, size_t route_index,
                   Result<net::ClientResponse> result, RecordedRequest sent);
  void answerClient(const std::shared_ptr<Exchange>& exchange, net::Response response);
  void complete(const std::shared_ptr<Exchange>& exchange);
  std::string cap(std::string_view body, bool* truncated = nullptr) const;

  const RoutingTable& table_;
  net::HttpClient& client_;
  TransactionLog& transactions_;
  const Clock& clock_;
  Random& random_;
  const HimOptions& options_;
  std::shared_ptr<spdlog::logger> log_;
};

// Final status of a transaction from its primary response status and the statuses of the
// other routes (0 for a route that failed at the transport level), OpenHIM's rules.
std::string finalStatus(int primary_status, const std::vector<int>& secondary_statuses);

}  // namespace chtlink::him
