// ChtClient: typed calls to a CHT instance's API (real CHT or cht-sim) over HTTP(S) with Basic
// auth (cht.md 2).
//
// Every call blocks its caller until CHT answers: use it from a worker thread or a CLI command,
// never from an I/O thread. A refusal from CHT keeps CHT's own message ("Insufficient
// privileges", "Document update conflict.", "Person is missing a \"name\" property.") in the
// error, after the method and path, with the error code following the HTTP status (401 ->
// Unauthenticated, 403 -> PermissionDenied, 404 -> NotFound, 409 -> Conflict, 400 ->
// InvalidArgument, 5xx -> Unavailable).
//
// Documents are returned as insertion-ordered JSON: key order is part of what an outbound
// mapping produces, so it must survive.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cht/outbound/js_json.h"
#include "net/client.h"

namespace chtlink::cht {

using outbound::OrderedJson;

struct ChtClientOptions {
  // Base URL of the CHT API (https://cht.example.org or http://127.0.0.1:5988). User and
  // password may be given in it (https://user:pass@host); explicit fields win.
  std::string url;
  std::string username;
  std::string password;
  std::chrono::milliseconds timeout{30'000};
};

struct WriteResult {
  std::string id;
  std::string rev;
};

struct AllDocsQuery {
  std::string db = "medic";
  bool include_docs = true;
  int limit = 1000;
  std::optional<std::string> start_key;  // document id to start from (inclusive)
};

struct DocRow {
  std::string id;
  std::string rev;
  std::optional<OrderedJson> doc;
};

struct ChangesQuery {
  std::string db = "medic";
  std::string since = "0";  // opaque sequence, or "now"
  int limit = 1000;
  bool include_docs = true;
  // longpoll when set: CHT holds the request until a change or this timeout.
  std::optional<std::chrono::milliseconds> longpoll;
};

struct Change {
  std::string seq;
  std::string id;
  std::string rev;
  bool deleted = false;
  std::optional<OrderedJson> doc;
};

struct ChangesPage {
  std::vector<Change> results;
  std::string last_seq;
};

struct HydratedDoc {
  std::string id;
  std::optional<OrderedJson> doc;  // absent: CHT answered not_found
};

class ChtClient {
 public:
  // InvalidArgument if the URL is not an absolute http(s) URL.
  static Result<ChtClient> create(net::HttpClient& http, ChtClientOptions options);

  // GET /api/v1/settings: the app_settings object.
  Result<OrderedJson> getSettings();
  // PUT /api/v1/settings (?overwrite=true replaces everything).
  Status putSettings(const OrderedJson& settings, bool overwrite = false);
  // PUT /api/v1/credentials/{key} (CouchDB admin only).
  Status putCredential(std::string_view key, std::string_view secret);
  // POST /api/v1/people, /api/v1/places.
  Result<WriteResult> createPerson(const OrderedJson& person);
  Result<WriteResult> createPlace(const OrderedJson& place);
  // POST /api/v2/records (JSON): the id of the new report.
  Result<std::string> createRecord(const OrderedJson& record);
  // GET /api/v2/users.
  Result<OrderedJson> listUsers();
  // GET /<db>/<id>.
  Result<OrderedJson> getDoc(std::string_view id, std::string_view db = "medic");
  // PUT /<db>/<id> (the doc carries _rev to update).
  Result<WriteResult> putDoc(const OrderedJson& doc, std::string_view db = "medic");
  // POST /<db>/_bulk_docs; one result or error per doc, in order.
  Result<OrderedJson> bulkDocs(const OrderedJson& docs, bool new_edits = true,
                               std::string_view db = "medic");
  // GET /<db>/_all_docs.
  Result<std::vector<DocRow>> allDocs(const AllDocsQuery& query);
  // GET /<db>/_changes (normal or longpoll).
  Result<ChangesPage> changes(const ChangesQuery& query);
  // The same without blocking: `done` runs once, on an I/O thread (so it must not block).
  // Lets a caller stop waiting for a longpoll answer (pull mode's shutdown).
  void changesAsync(const ChangesQuery& query, std::function<void(Result<ChangesPage>)> done);
  // POST /api/v1/hydrate: documents with their lineage (cht.md 1.3).
  Result<std::vector<HydratedDoc>> hydrate(const std::vector<std::string>& ids);

  const std::string& baseUrl() const { return base_url_; }

 private:
  ChtClient(net::HttpClient& http, std::string base_url, std::string username, std::string password,
            std::chrono::milliseconds timeout);
  Result<OrderedJson> call(std::string method, std::string path, std::string body = {},
                           std::string content_type = "application/json",
                           std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  net::HttpClient* http_;
  std::string base_url_;
  std::string username_;
  std::string password_;
  std::chrono::milliseconds timeout_;
};

// application/x-www-form-urlencoded / query escaping of one value.
std::string urlEncode(std::string_view value);

}  // namespace chtlink::cht
