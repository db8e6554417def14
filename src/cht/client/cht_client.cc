#include "cht/client/cht_client.h"

#include <cctype>

namespace chtlink::cht {
namespace {

std::string excerpt(const std::string& body) {
  return body.size() > 300 ? body.substr(0, 300) + "..." : body;
}

// CHT's envelopes: {"code","error","details"} from API, {"error","reason"} from CouchDB,
// {"error":{"message"}} from the users API; text/plain otherwise.
std::string chtMessage(const std::string& body) {
  auto parsed = outbound::parseOrderedJson(body);
  if (!parsed || !parsed->is_object()) return excerpt(body);
  const auto& json = *parsed;
  std::string message;
  if (auto error = json.find("error"); error != json.end()) {
    if (error->is_string()) {
      message = error->get<std::string>();
    } else if (error->is_object() && error->contains("message") &&
               (*error)["message"].is_string()) {
      message = (*error)["message"].get<std::string>();
    }
  }
  for (const char* extra : {"reason", "details"}) {
    if (auto found = json.find(extra); found != json.end()) {
      std::string text = found->is_string() ? found->get<std::string>() : found->dump();
      message += message.empty() ? text : ": " + text;
    }
  }
  return message.empty() ? excerpt(body) : message;
}

Error httpError(int status, const std::string& what, const std::string& message) {
  std::string text = "CHT answered " + std::to_string(status) + " to " + what + ": " + message;
  switch (status) {
    case 400:
      return invalidArgument(text, "cht_bad_request");
    case 401:
      return unauthenticated(text, "cht_unauthorized");
    case 403:
      return permissionDenied(text, "cht_forbidden");
    case 404:
      return notFound(text, "cht_not_found");
    case 409:
      return conflict(text, "cht_conflict");
    case 413:
      return tooLarge(text, "cht_too_large");
    default:
      if (status >= 500 || status == 429) return unavailable(text, "cht_unavailable");
      return failedPrecondition(text, "cht_error");
  }
}

std::string stringOf(const OrderedJson& json, const char* key) {
  auto found = json.find(key);
  if (found == json.end()) return {};
  if (found->is_string()) return found->get<std::string>();
  return outbound::jsStringify(*found);
}

Result<WriteResult> writeResult(const OrderedJson& answer) {
  if (!answer.is_object()) return internalError("CHT answered a write with a non-object");
  return WriteResult{stringOf(answer, "id"), stringOf(answer, "rev")};
}

}  // namespace

std::string urlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

Result<ChtClient> ChtClient::create(net::HttpClient& http, ChtClientOptions options) {
  std::string url = options.url;
  std::string username;
  std::string password;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return invalidArgument("CHT URL '" + url + "' must be absolute (http(s)://host[:port])");
  }
  const auto host_start = scheme_end + 3;
  const auto path_start = url.find('/', host_start);
  const auto at = url.rfind('@', path_start == std::string::npos ? std::string::npos : path_start);
  if (at != std::string::npos && at > host_start) {
    std::string userinfo = url.substr(host_start, at - host_start);
    auto colon = userinfo.find(':');
    username = userinfo.substr(0, colon);
    if (colon != std::string::npos) password = userinfo.substr(colon + 1);
    url.erase(host_start, at + 1 - host_start);
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  CHTLINK_TRY(net::parseUrl(url));
  if (!options.username.empty()) username = options.username;
  if (!options.password.empty()) password = options.password;
  return ChtClient(http, url, username, password, options.timeout);
}

ChtClient::ChtClient(net::HttpClient& http, std::string base_url, std::string username,
                     std::string password, std::chrono::milliseconds timeout)
    : http_(&http),
      base_url_(std::move(base_url)),
      username_(std::move(username)),
      password_(std::move(password)),
      timeout_(timeout) {}

Result<OrderedJson> ChtClient::call(std::string method, std::string path, std::string body,
                                    std::string content_type,
                                    std::optional<std::chrono::milliseconds> timeout) {
  const std::string what = method + " " + path;
  net::ClientRequest request;
  request.method = std::move(method);
  request.url = base_url_ + path;
  request.headers.set("accept", "application/json");
  if (!body.empty() || request.method != "GET") request.headers.set("content-type", content_type);
  request.body = std::move(body);
  request.timeout = timeout.value_or(timeout_);
  if (!username_.empty()) request.auth = net::BasicAuth{username_, password_};
  auto answer = http_->sendSync(std::move(request));
  if (!answer) return answer.error().withContext("CHT " + what + " at " + base_url_ + ": ");
  if (answer->status < 200 || answer->status >= 300) {
    return httpError(answer->status, what, chtMessage(answer->body));
  }
  if (answer->body.empty()) return OrderedJson();
  auto parsed = outbound::parseOrderedJson(answer->body);
  if (!parsed) {
    return internalError("CHT answered " + what + " with invalid JSON: " + parsed.error().message,
                         "cht_bad_answer");
  }
  return std::move(parsed).value();
}

Result<OrderedJson> ChtClient::getSettings() { return call("GET", "/api/v1/settings"); }

Status ChtClient::putSettings(const OrderedJson& settings, bool overwrite) {
  CHTLINK_TRY(call("PUT", std::string("/api/v1/settings") + (overwrite ? "?overwrite=true" : ""),
                   outbound::jsStringify(settings)));
  return ok();
}

Status ChtClient::putCredential(std::string_view key, std::string_view secret) {
  CHTLINK_TRY(
      call("PUT", "/api/v1/credentials/" + urlEncode(key), std::string(secret), "text/plain"));
  return ok();
}

Result<WriteResult> ChtClient::createPerson(const OrderedJson& person) {
  CHTLINK_ASSIGN_OR_RETURN(auto answer,
                           call("POST", "/api/v1/people", outbound::jsStringify(person)));
  return writeResult(answer);
}

Result<WriteResult> ChtClient::createPlace(const OrderedJson& place) {
  CHTLINK_ASSIGN_OR_RETURN(auto answer,
                           call("POST", "/api/v1/places", outbound::jsStringify(place)));
  return writeResult(answer);
}

Result<std::string> ChtClient::createRecord(const OrderedJson& record) {
  CHTLINK_ASSIGN_OR_RETURN(auto answer,
                           call("POST", "/api/v2/records", outbound::jsStringify(record)));
  if (!answer.is_object() || answer.value("success", false) != true) {
    return failedPrecondition("CHT did not accept the record: " + outbound::jsStringify(answer),
                              "cht_record_refused");
  }
  return stringOf(answer, "id");
}

Result<OrderedJson> ChtClient::listUsers() { return call("GET", "/api/v2/users"); }

Result<OrderedJson> ChtClient::getDoc(std::string_view id, std::string_view db) {
  return call("GET", "/" + std::string(db) + "/" + urlEncode(id));
}

Result<WriteResult> ChtClient::putDoc(const OrderedJson& doc, std::string_view db) {
  CHTLINK_ASSIGN_OR_RETURN(
      auto answer, call("PUT", "/" + std::string(db) + "/" + urlEncode(stringOf(doc, "_id")),
                        outbound::jsStringify(doc)));
  return writeResult(answer);
}

Result<OrderedJson> ChtClient::bulkDocs(const OrderedJson& docs, bool new_edits,
                                        std::string_view db) {
  OrderedJson body = OrderedJson::object();
  body["docs"] = docs;
  if (!new_edits) body["new_edits"] = false;
  return call("POST", "/" + std::string(db) + "/_bulk_docs", outbound::jsStringify(body));
}

Result<std::vector<DocRow>> ChtClient::allDocs(const AllDocsQuery& query) {
  std::string path = "/" + query.db + "/_all_docs?limit=" + std::to_string(query.limit);
  if (query.include_docs) path += "&include_docs=true";
  if (query.start_key) path += "&startkey=" + urlEncode(OrderedJson(*query.start_key).dump());
  CHTLINK_ASSIGN_OR_RETURN(auto answer, call("GET", path));
  std::vector<DocRow> rows;
  if (!answer.is_object() || !answer.contains("rows") || !answer["rows"].is_array()) {
    return internalError("CHT answered _all_docs without rows", "cht_bad_answer");
  }
  for (auto& row : answer["rows"]) {
    DocRow out;
    out.id = stringOf(row, "id");
    if (row.contains("value") && row["value"].is_object()) out.rev = stringOf(row["value"], "rev");
    if (row.contains("doc") && row["doc"].is_object()) out.doc = std::move(row["doc"]);
    rows.push_back(std::move(out));
  }
  return rows;
}

namespace {

std::string changesPath(const ChangesQuery& query) {
  std::string path = "/" + query.db + "/_changes?since=" + urlEncode(query.since) +
                     "&limit=" + std::to_string(query.limit);
  if (query.include_docs) path += "&include_docs=true";
  if (query.longpoll) path += "&feed=longpoll&timeout=" + std::to_string(query.longpoll->count());
  return path;
}

Result<ChangesPage> parseChanges(OrderedJson answer) {
  if (!answer.is_object() || !answer.contains("results") || !answer["results"].is_array()) {
    return internalError("CHT answered _changes without results", "cht_bad_answer");
  }
  ChangesPage page;
  page.last_seq = stringOf(answer, "last_seq");
  for (auto& result : answer["results"]) {
    Change change;
    change.seq = stringOf(result, "seq");
    change.id = stringOf(result, "id");
    if (result.contains("changes") && result["changes"].is_array() && !result["changes"].empty()) {
      change.rev = stringOf(result["changes"][0], "rev");
    }
    change.deleted = result.value("deleted", false);
    if (result.contains("doc") && result["doc"].is_object()) change.doc = std::move(result["doc"]);
    page.results.push_back(std::move(change));
  }
  return page;
}

}  // namespace

Result<ChangesPage> ChtClient::changes(const ChangesQuery& query) {
  std::optional<std::chrono::milliseconds> timeout;
  if (query.longpoll) timeout = *query.longpoll + timeout_;
  CHTLINK_ASSIGN_OR_RETURN(auto answer,
                           call("GET", changesPath(query), {}, "application/json", timeout));
  return parseChanges(std::move(answer));
}

void ChtClient::changesAsync(const ChangesQuery& query,
                             std::function<void(Result<ChangesPage>)> done) {
  const std::string path = changesPath(query);
  net::ClientRequest request;
  request.url = base_url_ + path;
  request.headers.set("accept", "application/json");
  request.timeout = query.longpoll ? *query.longpoll + timeout_ : timeout_;
  if (!username_.empty()) request.auth = net::BasicAuth{username_, password_};
  http_->send(std::move(request),
              [done = std::move(done), path, base = base_url_](Result<net::ClientResponse> answer) {
                if (!answer) {
                  done(answer.error().withContext("CHT GET " + path + " at " + base + ": "));
                  return;
                }
                if (answer->status < 200 || answer->status >= 300) {
                  done(httpError(answer->status, "GET " + path, chtMessage(answer->body)));
                  return;
                }
                auto parsed = outbound::parseOrderedJson(answer->body);
                if (!parsed) {
                  done(internalError(
                      "CHT answered GET " + path + " with invalid JSON: " + parsed.error().message,
                      "cht_bad_answer"));
                  return;
                }
                done(parseChanges(std::move(parsed).value()));
              });
}

Result<std::vector<HydratedDoc>> ChtClient::hydrate(const std::vector<std::string>& ids) {
  OrderedJson body = OrderedJson::object();
  body["doc_ids"] = ids;
  CHTLINK_ASSIGN_OR_RETURN(auto answer,
                           call("POST", "/api/v1/hydrate", outbound::jsStringify(body)));
  if (!answer.is_array()) return internalError("CHT answered hydrate with a non-array");
  std::vector<HydratedDoc> docs;
  for (auto& item : answer) {
    HydratedDoc out;
    out.id = stringOf(item, "id");
    if (item.contains("doc") && item["doc"].is_object()) out.doc = std::move(item["doc"]);
    docs.push_back(std::move(out));
  }
  return docs;
}

}  // namespace chtlink::cht
