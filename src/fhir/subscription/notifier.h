// Notifier: the write side of rest-hook Subscriptions. Interactions call it inside every
// write transaction; it keeps an in-memory index of live subscriptions by resource type
// (so a write looks only at the subscriptions for its own type), matches the new version
// against their criteria, and for each match records an event and enqueues a delivery job
// in the same transaction as the write (fhir.md 6.3: nothing is lost if the process dies
// after the commit).
//
// The index follows Subscription writes made through Interactions at once, and is re-read
// from the database on the first write and then every `reload_interval` (as HAPI's loader
// does), which picks up subscriptions written by another process and heals the index after
// a Subscription write whose transaction was rolled back. Deliveries re-check the stored
// Subscription, so a stale index never delivers for a subscription that is gone or off.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/result.h"
#include "fhir/search/indexer.h"
#include "fhir/store/resource_store.h"
#include "fhir/subscription/subscription_resource.h"
#include "queue/queue.h"
#include "store/database.h"

namespace spdlog {
class logger;
}

namespace chtlink::fhir::subscription {

// Job kind of rest-hook deliveries; the destination is "Subscription/<id>".
inline constexpr std::string_view kJobKind = "fhir-subscription";

struct NotifierOptions {
  std::chrono::milliseconds reload_interval{60'000};
  queue::QueueOptions queue;  // max_attempts of the delivery jobs
};

class Notifier {
 public:
  Notifier(const search::Indexer& indexer, const Clock& clock, NotifierOptions options,
           std::shared_ptr<spdlog::logger> log);

  // Set before serving: the queue's options, and what wakes its workers after an enqueue.
  void configureQueue(const queue::QueueOptions& options, std::function<void()> wake);

  // Before a create/update of `type` is stored: for a Subscription, checks it and activates
  // it (see acceptSubscription). Other types pass unchanged.
  Status prepare(const std::string& type, Json& resource) const;
  // After `written` (a new, live version) is stored, in the same transaction. `indexed`: its
  // search index rows when the caller has them (else they are computed here).
  Status afterWrite(store::Transaction& tx, const StoredVersion& written,
                    const search::IndexRows* indexed = nullptr);
  // After `deleted` (a deletion version) is stored, in the same transaction: a deleted
  // Subscription leaves the index and its undelivered notifications are cancelled.
  Status afterDelete(store::Transaction& tx, const StoredVersion& deleted);

  // Live subscriptions in the index (for tests and logs).
  size_t liveCount() const;

 private:
  struct Entry {
    std::string id;
    SubscriptionSpec spec;
  };
  Status reloadIfDue(store::Transaction& tx);
  void putLocked(const std::string& id, std::shared_ptr<const Entry> entry);
  void removeLocked(const std::string& id);
  Status cancel(store::Transaction& tx, const std::string& id);
  Status notify(store::Transaction& tx, const Entry& entry, const StoredVersion& written);

  const search::Indexer& indexer_;
  const Clock& clock_;
  NotifierOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<void()> wake_;

  mutable std::shared_mutex mu_;
  bool loaded_ = false;
  std::chrono::steady_clock::time_point loaded_at_;
  // resource type -> live subscriptions on it; subscription id -> its type.
  std::map<std::string, std::vector<std::shared_ptr<const Entry>>, std::less<>> by_type_;
  std::map<std::string, std::string, std::less<>> type_of_;
};

}  // namespace chtlink::fhir::subscription
