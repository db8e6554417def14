#include "fhir/store/schema.h"

namespace chtlink::fhir {

// fhir_resource holds the current version of each resource (a tombstone when deleted);
// fhir_history every version. pk is the resource's internal number: it never changes across
// versions, so it orders default search results and anchors paging snapshots. Index rows
// belong to the current version and are replaced on every write.
std::vector<store::Migration> migrations() {
  return {
      {"fhir", 1, "FHIR resources, history and search indexes", R"sql(
CREATE TABLE fhir_resource (
  pk {{id}},
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version BIGINT NOT NULL,
  last_updated BIGINT NOT NULL,
  deleted INTEGER NOT NULL,
  json TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  UNIQUE (type, id)
);
CREATE INDEX fhir_resource_updated ON fhir_resource (type, last_updated);
CREATE TABLE fhir_history (
  seq {{id}},
  pk BIGINT NOT NULL,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version BIGINT NOT NULL,
  last_updated BIGINT NOT NULL,
  deleted INTEGER NOT NULL,
  method TEXT NOT NULL,
  json TEXT NOT NULL,
  UNIQUE (pk, version)
);
CREATE INDEX fhir_history_type ON fhir_history (type, last_updated);
CREATE INDEX fhir_history_time ON fhir_history (last_updated);
CREATE TABLE fhir_idx_string (
  pk BIGINT NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  normalized TEXT NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX fhir_idx_string_value ON fhir_idx_string (type, param, normalized);
CREATE INDEX fhir_idx_string_pk ON fhir_idx_string (pk);
CREATE TABLE fhir_idx_token (
  pk BIGINT NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  has_system INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX fhir_idx_token_value ON fhir_idx_token (type, param, code);
CREATE INDEX fhir_idx_token_pk ON fhir_idx_token (pk);
CREATE TABLE fhir_idx_reference (
  pk BIGINT NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  target_type TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL
);
CREATE INDEX fhir_idx_reference_target ON fhir_idx_reference (target_type, target_id);
CREATE INDEX fhir_idx_reference_value ON fhir_idx_reference (type, param, target_id);
CREATE INDEX fhir_idx_reference_pk ON fhir_idx_reference (pk);
CREATE TABLE fhir_idx_date (
  pk BIGINT NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  low BIGINT NOT NULL, high BIGINT NOT NULL
);
CREATE INDEX fhir_idx_date_value ON fhir_idx_date (type, param, low);
CREATE INDEX fhir_idx_date_pk ON fhir_idx_date (pk);
CREATE TABLE fhir_idx_number (
  pk BIGINT NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
  system TEXT NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL
);
CREATE INDEX fhir_idx_number_value ON fhir_idx_number (type, param, low);
CREATE INDEX fhir_idx_number_pk ON fhir_idx_number (pk);
CREATE TABLE fhir_idx_uri (
  pk BIGINT NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL
);
CREATE INDEX fhir_idx_uri_value ON fhir_idx_uri (type, param, value);
CREATE INDEX fhir_idx_uri_pk ON fhir_idx_uri (pk)
)sql"},
  };
}

}  // namespace chtlink::fhir
