// Transactions: list with filters and paging, read one, rerun (POST /tasks).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "him/admin_api/api_internal.h"
#include "him/crypto.h"

namespace chtlink::him::api {
namespace {

using store::Access;

constexpr size_t kTruncateSize = 15000;

Json stripBodies(Json doc) {
  for (const char* part : {"request", "response"})
    if (doc.contains(part) && doc[part].is_object()) doc[part].erase("body");
  for (const char* list : {"routes", "orchestrations"}) {
    if (!doc.contains(list) || !doc[list].is_array()) continue;
    for (auto& entry : doc[list]) {
      for (const char* part : {"request", "response"})
        if (entry.contains(part) && entry[part].is_object()) entry[part].erase("body");
    }
  }
  return doc;
}

void truncateBodies(Json& node) {
  if (node.is_object()) {
    for (auto& [key, value] : node.items()) {
      if (key == "body" && value.is_string() && value.get<std::string>().size() > kTruncateSize) {
        value = value.get<std::string>().substr(0, kTruncateSize);
      } else {
        truncateBodies(value);
      }
    }
  } else if (node.is_array()) {
    for (auto& v : node) truncateBodies(v);
  }
}

Json represent(Json doc, const std::string& representation) {
  if (representation == "full") return doc;
  if (representation == "fulltruncate") {
    truncateBodies(doc);
    return doc;
  }
  doc = stripBodies(std::move(doc));
  if (representation == "simpledetails") return doc;
  // simple: no headers, routes or orchestrations either
  for (const char* part : {"request", "response"})
    if (doc.contains(part) && doc[part].is_object()) doc[part].erase("headers");
  doc.erase("routes");
  doc.erase("orchestrations");
  return doc;
}

Result<int64_t> integerParam(const std::map<std::string, std::string>& q, const std::string& key) {
  auto it = q.find(key);
  if (it == q.end() || it->second.empty()) return int64_t{0};
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < 0) throw std::invalid_argument(key);
    return v;
  } catch (const std::exception&) {
    return invalidArgument(
        fmt::format("{} must be a non-negative integer, got '{}'", key, it->second));
  }
}

Result<int64_t> timeBound(const Json& value, const std::string& op) {
  auto t = value.is_string() ? parseClientTime(value.get<std::string>()) : std::nullopt;
  if (!t) return invalidArgument(fmt::format("request.timestamp {} needs an ISO 8601 time", op));
  return toUnixMillis(*t);
}

std::vector<std::string> split(const std::string& dotted) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = dotted.find('.', start);
    out.push_back(dotted.substr(start, dot == std::string::npos ? dot : dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

// Whether `test` holds for a value at the dotted `path` in `node`, descending into arrays
// on the way (routes.request.path looks at every route), as a MongoDB query does.
bool anyAt(const Json& node, const std::vector<std::string>& path, size_t i,
           const std::function<bool(const Json&)>& test) {
  if (i == path.size()) return test(node);
  if (node.is_array()) {
    return std::any_of(node.begin(), node.end(),
                       [&](const Json& item) { return anyAt(item, path, i, test); });
  }
  if (!node.is_object()) return false;
  auto it = node.find(path[i]);
  return it != node.end() && anyAt(*it, path, i + 1, test);
}

Result<TransactionFilter> parseFilters(const std::map<std::string, std::string>& q) {
  TransactionFilter f;
  CHTLINK_ASSIGN_OR_RETURN(f.limit, integerParam(q, "filterLimit"));
  CHTLINK_ASSIGN_OR_RETURN(f.page, integerParam(q, "filterPage"));
  auto it = q.find("filters");
  if (it == q.end() || it->second.empty()) return f;
  auto filters = parseJson(it->second);
  if (!filters.has_value() || !filters->is_object())
    return invalidArgument("filters must be a JSON object");
  std::vector<std::function<bool(const Json&)>> conditions;
  for (const auto& [key, value] : filters->items()) {
    if (key == "status" && value.is_string()) {
      f.status = value.get<std::string>();
    } else if (key == "channelID" && value.is_string()) {
      f.channel_id = value.get<std::string>();
    } else if (key == "clientID" && value.is_string()) {
      f.client_id = value.get<std::string>();
    } else if (key == "request.timestamp") {
      // OpenHIM passes this one as a JSON string holding {"$gte": ..., "$lte": ...}.
      Json range = value;
      if (value.is_string()) {
        auto parsed = parseJson(value.get<std::string>());
        if (!parsed.has_value()) return invalidArgument("request.timestamp must be a JSON object");
        range = std::move(parsed).value();
      }
      if (!range.is_object()) return invalidArgument("request.timestamp must be a JSON object");
      if (range.contains("$gte")) {
        CHTLINK_ASSIGN_OR_RETURN(f.from_ms, timeBound(range["$gte"], "$gte"));
      }
      if (range.contains("$lte")) {
        CHTLINK_ASSIGN_OR_RETURN(f.to_ms, timeBound(range["$lte"], "$lte"));
      }
    } else if (key == "request.path" || key == "request.querystring" ||
               key == "routes.request.path" || key == "orchestrations.request.path") {
      // As OpenHIM: a case-insensitive, unanchored regular expression.
      if (!value.is_string()) return invalidArgument(fmt::format("{} must be a string", key));
      std::shared_ptr<const std::regex> rx;
      try {
        rx = std::make_shared<const std::regex>(value.get<std::string>(),
                                                std::regex::ECMAScript | std::regex::icase);
      } catch (const std::regex_error& e) {
        return invalidArgument(
            fmt::format("{} is not a valid regular expression: {}", key, e.what()));
      }
      conditions.push_back([rx, path = split(key)](const Json& doc) {
        return anyAt(doc, path, 0, [&](const Json& v) {
          return v.is_string() && std::regex_search(v.get<std::string>(), *rx);
        });
      });
    } else if (key == "response.status" || key == "routes.response.status" ||
               key == "orchestrations.response.status") {
      // 201, "201", or a class such as "2xx".
      std::string wanted = value.is_string() ? value.get<std::string>() : value.dump();
      bool is_class = wanted.size() == 3 && (wanted[1] == 'x' || wanted[1] == 'X') &&
                      (wanted[2] == 'x' || wanted[2] == 'X') && wanted[0] >= '1' &&
                      wanted[0] <= '5';
      int code = 0;
      if (!is_class) {
        auto [end, ec] = std::from_chars(wanted.data(), wanted.data() + wanted.size(), code);
        if (ec != std::errc() || end != wanted.data() + wanted.size())
          return invalidArgument(fmt::format("{} must be a status code or a class like 2xx", key));
      }
      conditions.push_back([is_class, code, cls = wanted.empty() ? '0' : wanted[0],
                            path = split(key)](const Json& doc) {
        return anyAt(doc, path, 0, [&](const Json& v) {
          if (!v.is_number_integer()) return false;
          int status = v.get<int>();
          return is_class ? status / 100 == cls - '0' : status == code;
        });
      });
    } else if (key == "properties") {
      // {"key": "value"} matches that value; {"key": null} only needs the key.
      if (!value.is_object()) return invalidArgument("properties must be a JSON object");
      conditions.push_back([wanted = value](const Json& doc) {
        auto props = doc.find("properties");
        if (props == doc.end() || !props->is_object()) return false;
        for (const auto& [name, v] : wanted.items()) {
          auto p = props->find(name);
          if (p == props->end()) return false;
          if (!v.is_null() && *p != v) return false;
        }
        return true;
      });
    } else {
      // Any other field (wasRerun, canRerun, autoRetry, request.method, childIDs, ...): an
      // exact match, as OpenHIM passes it to MongoDB; an array field matches when it holds
      // the value. OpenHIM sends childIDs as a JSON string.
      Json wanted = value;
      if (key == "childIDs" && value.is_string()) {
        if (auto parsed = parseJson(value.get<std::string>()); parsed.has_value())
          wanted = std::move(parsed).value();
      }
      conditions.push_back([wanted, path = split(key)](const Json& doc) {
        return anyAt(doc, path, 0, [&](const Json& v) {
          if (v == wanted) return true;
          return v.is_array() && std::find(v.begin(), v.end(), wanted) != v.end();
        });
      });
    }
  }
  if (!conditions.empty()) {
    f.matches = [conditions = std::move(conditions)](const Json& doc) {
      return std::all_of(conditions.begin(), conditions.end(),
                         [&](const auto& c) { return c(doc); });
    };
  }
  return f;
}

std::map<std::string, std::string> queryMap(const net::Request& request) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : net::parseQuery(request.query)) out[k] = v;
  return out;
}

// OpenHIM's metrics shape, over the transactions whose request time is in the range.
Json aggregate(const std::vector<Json>& docs) {
  int64_t total = 0, failed = 0, successful = 0, processing = 0, completed = 0, with_errors = 0;
  double sum = 0, min = 0, max = 0;
  for (const auto& d : docs) {
    ++total;
    std::string status = d.value("status", "");
    if (status == "Failed") ++failed;
    if (status == "Successful") ++successful;
    if (status == "Processing") ++processing;
    if (status == "Completed") ++completed;
    if (status == "Completed with error(s)") ++with_errors;
    double ms = d.value("durationMs", 0.0);
    sum += ms;
    min = total == 1 ? ms : std::min(min, ms);
    max = std::max(max, ms);
  }
  return {{"total", total},
          {"avgResp", total > 0 ? sum / static_cast<double>(total) : 0.0},
          {"minResp", min},
          {"maxResp", max},
          {"failed", failed},
          {"successful", successful},
          {"processing", processing},
          {"completed", completed},
          {"completedWErrors", with_errors}};
}

Result<TransactionFilter> metricsRange(const std::map<std::string, std::string>& q) {
  auto start = q.find("startDate");
  auto end = q.find("endDate");
  if (start == q.end() || end == q.end())
    return invalidArgument("startDate and endDate (ISO 8601) are required");
  TransactionFilter f;
  CHTLINK_ASSIGN_OR_RETURN(f.from_ms, timeBound(Json(start->second), "startDate"));
  CHTLINK_ASSIGN_OR_RETURN(f.to_ms, timeBound(Json(end->second), "endDate"));
  return f;
}

}  // namespace

void addTransactionRoutes(net::Router& router, const AdminApiDeps& deps) {
  router.add("GET", "/transactions",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               auto q = queryMap(call.request);
               CHTLINK_ASSIGN_OR_RETURN(TransactionFilter filter, parseFilters(q));
               std::string representation =
                   q.count("filterRepresentation") ? q["filterRepresentation"] : "";
               if (representation == "bulkrerun") {
                 filter.limit = 0;
                 CHTLINK_ASSIGN_OR_RETURN(auto all, listTransactions(call.tx, filter));
                 return json(200, {{"count", all.size()}});
               }
               CHTLINK_ASSIGN_OR_RETURN(auto docs, listTransactions(call.tx, filter));
               Json out = Json::array();
               for (auto& d : docs) out.push_back(represent(std::move(d), representation));
               return json(200, out);
             }));
  // GET /metrics and /metrics/channels: totals and response times (ms) in a date range.
  router.add("GET", "/metrics",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(TransactionFilter filter,
                                        metricsRange(queryMap(call.request)));
               CHTLINK_ASSIGN_OR_RETURN(auto docs, listTransactions(call.tx, filter));
               Json m = aggregate(docs);
               m["_id"] = Json::object();
               return json(200, Json::array({m}));
             }));
  router.add("GET", "/metrics/channels",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(TransactionFilter filter,
                                        metricsRange(queryMap(call.request)));
               CHTLINK_ASSIGN_OR_RETURN(auto docs, listTransactions(call.tx, filter));
               std::map<std::string, std::vector<Json>> by_channel;
               for (auto& d : docs) by_channel[d.value("channelID", "")].push_back(std::move(d));
               Json out = Json::array();
               for (const auto& [channel, list] : by_channel) {
                 Json m = aggregate(list);
                 m["_id"] = {{"channelID", channel}};
                 out.push_back(std::move(m));
               }
               return json(200, out);
             }));
  router.add("GET", "/transactions/{id}",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               std::string id(call.request.param("id"));
               CHTLINK_ASSIGN_OR_RETURN(auto doc, findTransaction(call.tx, id));
               if (!doc) return notFound(fmt::format("Could not find transaction with ID: {}", id));
               auto q = queryMap(call.request);
               std::string representation =
                   q.count("filterRepresentation") ? q["filterRepresentation"] : "full";
               return json(200, represent(std::move(*doc), representation));
             }));
  // POST /tasks {"tids": [...]}: reruns the transactions. The originals get the child ids
  // and wasRerun in the same database transaction; the replays start once it commits.
  router.add(
      "POST", "/tasks",
      handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
        CHTLINK_ASSIGN_OR_RETURN(Json body, bodyJson(call.request));
        if (!body.is_object() || !body.contains("tids") || !body["tids"].is_array() ||
            body["tids"].empty()) {
          return invalidArgument(
              "Not creating task as there are no transactions: tids is required");
        }
        std::vector<std::pair<Json, std::string>> reruns;
        for (const auto& tid : body["tids"]) {
          if (!tid.is_string()) return invalidArgument("tids must be transaction ids (strings)");
          CHTLINK_ASSIGN_OR_RETURN(auto doc, findTransaction(call.tx, tid.get<std::string>()));
          if (!doc)
            return notFound(fmt::format("Could not find transaction with ID: {}", tid.dump()));
          std::string channel_id = doc->value("channelID", "");
          CHTLINK_ASSIGN_OR_RETURN(auto channel,
                                   findById(call.tx, Collection::Channels, channel_id));
          if (!channel || channel->doc.value("status", "enabled") != "enabled") {
            return invalidArgument(fmt::format(
                "Cannot rerun transaction {}: its channel {} is gone, disabled or deleted",
                tid.get<std::string>(), channel_id));
          }
          std::string child = newObjectId(call.deps.clock, call.deps.random);
          Json updated = *doc;
          updated["wasRerun"] = true;
          updated["childIDs"].push_back(child);
          CHTLINK_TRY(upsertTransactions(call.tx, std::span<const Json>(&updated, 1)));
          reruns.emplace_back(std::move(*doc), std::move(child));
        }
        ChannelRouter* channel_router = &call.deps.router;
        auto log = call.deps.log;
        call.after_commit.push_back([channel_router, log, reruns = std::move(reruns)] {
          for (const auto& [original, child] : reruns) {
            if (auto s = channel_router->rerun(original, child); !s.has_value() && log)
              log->warn("rerun of {}: {}", original.value("_id", ""), s.error().message);
          }
        });
        return text(201,
                    fmt::format("User {} created task with id {}", call.user.value("email", ""),
                                newObjectId(call.deps.clock, call.deps.random)));
      }));
}

}  // namespace chtlink::him::api
