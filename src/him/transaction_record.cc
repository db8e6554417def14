#include "him/transaction_record.h"

#include <fmt/format.h>

#include <string_view>

namespace chtlink::him {
namespace {

// Appends `"key":`, preceded by a comma unless it opens the object.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_.push_back('{'); }
  ~ObjectWriter() { out_.push_back('}'); }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  std::string& key(std::string_view name) {
    if (!first_) out_.push_back(',');
    first_ = false;
    appendJsonString(out_, name);
    out_.push_back(':');
    return out_;
  }
  void string(std::string_view name, std::string_view value) { appendJsonString(key(name), value); }
  void boolean(std::string_view name, bool value) { key(name) += value ? "true" : "false"; }
  void integer(std::string_view name, int64_t value) {
    fmt::format_to(std::back_inserter(key(name)), "{}", value);
  }
  void json(std::string_view name, const Json& value) { key(name) += dumpJson(value); }

 private:
  std::string& out_;
  bool first_ = true;
};

// Header fields as one object; a name that repeats gets its values joined with ", ", as
// OpenHIM's object of headers holds one value per name.
void writeHeaders(std::string& out, const RecordedHeaders& headers) {
  ObjectWriter object(out);
  for (size_t i = 0; i < headers.size(); ++i) {
    const auto& [name, value] = headers[i];
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = headers[j].first == name;
    if (seen) continue;
    std::string joined = value;
    for (size_t j = i + 1; j < headers.size(); ++j)
      if (headers[j].first == name) joined.append(", ").append(headers[j].second);
    object.string(name, joined);
  }
}

void writeRequest(std::string& out, const RecordedRequest& request) {
  ObjectWriter object(out);
  object.string("host", request.host);
  if (const auto* text = std::get_if<std::string>(&request.port)) {
    object.string("port", *text);
  } else {
    object.integer("port", std::get<int>(request.port));
  }
  object.string("path", request.path);
  if (request.querystring) object.string("querystring", *request.querystring);
  object.string("method", request.method);
  writeHeaders(object.key("headers"), request.headers);
  object.string("body", request.body);
  object.string("timestamp", request.timestamp);
}

void writeResponse(std::string& out, const RecordedResponse& response) {
  ObjectWriter object(out);
  object.integer("status", response.status);
  writeHeaders(object.key("headers"), response.headers);
  object.string("body", response.body);
  object.string("timestamp", response.timestamp);
}

void writeError(std::string& out, std::string_view message) {
  ObjectWriter object(out);
  object.string("message", message);
  object.string("stack", "");
}

void writeRoute(std::string& out, const RecordedRoute& route) {
  ObjectWriter object(out);
  object.string("name", route.name);
  writeRequest(object.key("request"), route.request);
  if (route.response) writeResponse(object.key("response"), *route.response);
  if (route.error) writeError(object.key("error"), *route.error);
}

void writeRoutes(std::string& out, const std::vector<Json>& reported,
                 const std::vector<RecordedRoute>& routes) {
  out.push_back('[');
  bool first = true;
  for (const auto& r : reported) {
    if (!first) out.push_back(',');
    first = false;
    out += dumpJson(r);
  }
  for (const auto& r : routes) {
    if (!first) out.push_back(',');
    first = false;
    writeRoute(out, r);
  }
  out.push_back(']');
}

}  // namespace

std::string TransactionRecord::toJson() const {
  std::string out;
  out.reserve(1024);
  {
    ObjectWriter object(out);
    object.string("_id", id);
    object.string("status", status);
    object.string("clientID", client_id);
    object.string("clientIP", client_ip);
    object.string("channelID", channel_id);
    if (request) writeRequest(object.key("request"), *request);
    if (response) writeResponse(object.key("response"), *response);
    writeRoutes(object.key("orchestrations"), mediator_orchestrations, orchestrations);
    writeRoutes(object.key("routes"), {}, routes);
    object.json("properties", properties);
    object.boolean("canRerun", can_rerun);
    object.boolean("autoRetry", false);
    object.boolean("wasRerun", was_rerun);
    object.key("childIDs") += "[]";
    if (error) object.json("error", *error);
    if (parent_id) object.string("parentID", *parent_id);
    if (duration_ms)
      fmt::format_to(std::back_inserter(object.key("durationMs")), "{}", *duration_ms);
  }
  return out;
}

}  // namespace chtlink::him
