// Options of the FHIR server (settings [fhir]).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace chtlink::fhir {

struct FhirOptions {
  bool enabled = true;
  std::string host = "127.0.0.1";
  uint16_t port = 8090;
  std::string base_path = "/fhir";
  // Absolute base used in Location, fullUrl and links ("https://hie.example.org/fhir");
  // empty: built from the request's Host (and X-Forwarded-Proto/-Host) plus base_path.
  std::string public_base;
  // Largest resource or Bundle accepted; larger gets 413 with an OperationOutcome.
  size_t max_body_bytes = 10 * 1024 * 1024;
  int default_count = 20;              // search page size without _count
  int max_count = 1000;                // _count is clamped to this
  int max_includes = 1000;             // _include/_revinclude resources per page
  int max_transaction_entries = 1000;  // entries per batch/transaction Bundle
  // Validation of written resources against the R4 definitions (fhir.validation):
  // "default" rejects only what HAPI FHIR rejects too (400) and accepts the rest;
  // "strict" rejects any error (422). See docs/decisions/0004-validation-modes.md.
  std::string validation = "default";
  // Referential integrity as HAPI enforces it: a literal local reference ("Patient/1") to a
  // resource that does not exist is refused (400), and so is deleting a resource that
  // others still reference (409).
  bool referential_integrity_on_write = true;
  bool referential_integrity_on_delete = true;
  // rest-hook Subscriptions: consecutive failed deliveries before status error.
  int subscription_max_failures = 5;
  // How often the in-memory index of subscriptions is re-read from the database (picks up
  // subscriptions written by other processes sharing it).
  std::chrono::milliseconds subscription_reload_interval{60'000};
};

}  // namespace chtlink::fhir
