// FhirService: the FHIR R4 REST API (JSON) over the resource store. mount() adds its routes
// under options.base_path to any Router: its own listener (fhir.port) or, later, the gateway.
//
// Every database step runs on the store's pool (Database::post); handlers never block an I/O
// thread. Every error answer is an OperationOutcome. Thread-safe once constructed.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "fhir/rest/fhir_options.h"
#include "net/client.h"
#include "net/router.h"
#include "queue/queue.h"
#include "store/database.h"
#include "store/migrations.h"

namespace spdlog {
class logger;
}

namespace chtlink::fhir {

class FhirService {
 public:
  // `db`, `clock` and `random` must outlive the service and every request in flight.
  FhirService(store::Database& db, const Clock& clock, Random& random, FhirOptions options,
              std::shared_ptr<spdlog::logger> log);
  ~FhirService();
  FhirService(const FhirService&) = delete;
  FhirService& operator=(const FhirService&) = delete;

  // Adds "* {base}" and "* {base}/{rest...}" to `router`.
  void mount(net::Router& router);
  // Handles a request whose path starts with options.base_path.
  void handle(net::Request request, net::Reply reply);

  const FhirOptions& options() const;

  // rest-hook Subscriptions: the handler for jobs of kind "fhir-subscription", delivering
  // through `client`. Until it is called, writes enqueue notifications with the default
  // queue options and nothing wakes the workers; afterwards jobs get `queue_options`'
  // max_attempts and `wake` runs (WorkerPool::notify) after a write enqueued one.
  std::shared_ptr<queue::JobHandler> subscriptionHandler(net::HttpClient& client,
                                                         const queue::QueueOptions& queue_options,
                                                         std::function<void()> wake);

  // Tables of the FHIR store (migrations modules "fhir" and "fhir_subscription").
  static std::vector<store::Migration> migrations();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace chtlink::fhir
