#include "fhir/subscription/schema.h"

namespace chtlink::fhir::subscription {

// fhir_subscription_event: one row per (subscription, resource version) that matched and is
// not delivered yet, numbered by seq in commit order; delivering deletes it. The queue's job
// for an event carries its seq: a job delivers every event of its subscription up to its own,
// oldest first, which keeps deliveries in order whatever order the jobs run in.
// fhir_subscription_state: consecutive delivery failures per subscription (no row: none).
std::vector<store::Migration> migrations() {
  return {
      {"fhir_subscription", 1, "rest-hook notification outbox", R"sql(
CREATE TABLE fhir_subscription_event (
  seq {{id}},
  subscription_id TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX fhir_subscription_event_sub ON fhir_subscription_event (subscription_id, seq);
CREATE TABLE fhir_subscription_state (
  subscription_id TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  updated_at BIGINT NOT NULL
)
)sql"},
  };
}

}  // namespace chtlink::fhir::subscription
