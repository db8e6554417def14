// TransactionRecord: one router transaction as OpenHIM stores it (request, response,
// orchestrations, routes, status), held as plain fields and written to JSON text in one pass.
//
// The router records every exchange twice (Processing, then final) on an I/O thread. Building
// a Json tree for that cost more than forwarding the request (a map node per field and
// header, freed again on the store's thread), so the record keeps strings and writes the
// document's known shape straight to text when the store writes it. The request part is
// shared and immutable: the Processing record and the final one point at the same request.
//
// toJson() gives the document the admin API serves (GET /transactions): the fields of
// openhim.md's transaction schema, key order not significant.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "base/json.h"

namespace chtlink::him {

// Header fields in arrival order; repeated names are joined with ", " when written.
using RecordedHeaders = std::vector<std::pair<std::string, std::string>>;

struct RecordedRequest {
  std::string host;
  std::variant<std::string, int> port;  // the client's Host header port (text), a route's number
  std::string path;
  std::optional<std::string> querystring;  // only on the transaction's own request
  std::string method;
  RecordedHeaders headers;
  std::string body;
  std::string timestamp;  // ISO 8601
};

struct RecordedResponse {
  int status = 0;
  RecordedHeaders headers;
  std::string body;
  std::string timestamp;
};

// An orchestration or a secondary route: what was sent and what came back (or the error).
struct RecordedRoute {
  std::string name;
  RecordedRequest request;
  std::optional<RecordedResponse> response;
  std::optional<std::string> error;  // transport error message
};

struct TransactionRecord {
  std::string id;
  std::string status;     // Processing, Successful, Completed, ...
  std::string client_id;  // the client's object id ("" when none)
  std::string client_ip;
  std::string channel_id;
  int64_t request_ts_ms = 0;  // the request timestamp, for the store's index column
  std::shared_ptr<const RecordedRequest> request;
  std::optional<RecordedResponse> response;
  std::vector<Json> mediator_orchestrations;  // as a mediator reported them, before ours
  std::vector<RecordedRoute> orchestrations;
  std::vector<RecordedRoute> routes;
  Json properties = Json::object();
  std::optional<Json> error;  // {"message", "stack"}, or a mediator's error object
  bool can_rerun = true;
  bool was_rerun = false;
  std::optional<std::string> parent_id;
  std::optional<double> duration_ms;

  std::string toJson() const;
};

}  // namespace chtlink::him
