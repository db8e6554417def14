// Options of the FHIR server (settings [fhir]).
#pragma once

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
};

}  // namespace chtlink::fhir
