// The job handler that delivers rest-hook notifications (jobs of kind kJobKind), the way
// HAPI does on the wire (fhir.md 6.2/6.3): with a payload type, `PUT {endpoint}/{T}/{id}`
// with the version that matched as body; without one, an empty `POST {endpoint}`; every
// channel.header line sent as a header; any 2xx is success. Each request also carries
// `X-Chtlink-Notification-Id: <seq>` so a receiver can drop a redelivery.
//
// Order: the notifications of one subscription are delivered in the order their writes
// committed. A job delivers every undelivered event of its subscription up to its own, oldest
// first, and jobs of one subscription run one at a time in this process; so a later job never
// overtakes an earlier notification that failed (it retries that one first).
//
// Failures: the job is retried with the queue's backoff. After `max_failures` consecutive
// failed deliveries the Subscription is set to `status: error` with `error` saying what
// failed (delivery continues); the next success sets it `active` again. A Subscription that
// is off or deleted gets nothing: its events are dropped.
#pragma once

#include <memory>

#include "base/clock.h"
#include "fhir/search/indexer.h"
#include "fhir/store/resource_store.h"
#include "net/client.h"
#include "queue/queue.h"
#include "store/database.h"

namespace spdlog {
class logger;
}

namespace chtlink::fhir::subscription {

struct DeliveryOptions {
  int max_failures = 5;  // consecutive failures before status error
  // Events read (and delivered one after the other) per database round trip.
  int batch = 16;
};

// `db`, `store`, `indexer`, `client` and `clock` must outlive the handler and the deliveries
// it started; `keep_alive` is held until then (the owner of store and indexer).
std::shared_ptr<queue::JobHandler> makeDeliveryHandler(store::Database& db, ResourceStore& store,
                                                       const search::Indexer& indexer,
                                                       net::HttpClient& client, const Clock& clock,
                                                       DeliveryOptions options,
                                                       std::shared_ptr<spdlog::logger> log,
                                                       std::shared_ptr<const void> keep_alive);

}  // namespace chtlink::fhir::subscription
