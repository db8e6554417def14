#include "him/channel_router.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "him/client_auth.h"
#include "him/crypto.h"

namespace chtlink::him {
namespace {

constexpr std::string_view kMediatorType = "application/json+openhim";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9110 7.6.1 hop-by-hop fields, plus framing the client library sets itself.
bool isHopByHop(std::string_view name, std::string_view connection_header) {
  static constexpr std::string_view kHop[] = {"connection",
                                              "keep-alive",
                                              "proxy-authenticate",
                                              "proxy-authorization",
                                              "te",
                                              "trailer",
                                              "transfer-encoding",
                                              "upgrade",
                                              "content-length",
                                              "expect"};
  for (auto h : kHop)
    if (iequals(name, h)) return true;
  // Fields the Connection header names are hop-by-hop too.
  size_t start = 0;
  while (start < connection_header.size()) {
    size_t end = connection_header.find(',', start);
    if (end == std::string_view::npos) end = connection_header.size();
    std::string_view token = connection_header.substr(start, end - start);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (!token.empty() && iequals(token, name)) return true;
    start = end + 1;
  }
  return false;
}

Json errorJson(std::string_view message) { return {{"message", message}, {"stack", ""}}; }

bool sendsBody(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

net::Response refusal(int status, std::string_view reason, std::string_view message) {
  net::Response r = net::Response::error(status, reason, message);
  if (status == 401) r.headers.set("WWW-Authenticate", "Basic");
  return r;
}

// Mediator responses carry status as a number or a numeric string.
std::optional<int> statusOf(const Json& value) {
  if (value.is_number_integer()) return value.get<int>();
  if (value.is_string()) {
    try {
      return std::stoi(value.get<std::string>());
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string bodyText(const Json& body) {
  if (body.is_null()) return "";
  if (body.is_string()) return body.get<std::string>();
  return dumpJson(body);
}

}  // namespace

std::string finalStatus(int primary_status, const std::vector<int>& secondary_statuses) {
  if (primary_status >= 500) return "Failed";
  bool all_ok = true;
  for (int s : secondary_statuses) {
    if (s >= 500) return "Completed with error(s)";
    if (s < 200 || s >= 300) all_ok = false;
  }
  if (primary_status >= 200 && primary_status < 300 && all_ok) return "Successful";
  return "Completed";
}

struct ChannelRouter::Exchange {
  net::Request request;
  std::optional<net::Reply> reply;            // empty for reruns
  std::shared_ptr<const RoutingState> state;  // keeps `channel` alive
  const Channel* channel = nullptr;
  std::string client_id;  // clientID string, for X-OpenHIM-ClientID
  std::chrono::steady_clock::time_point started;

  std::mutex mu;
  TransactionRecord record;
  size_t pending = 0;
  int primary_status = 0;
  std::vector<int> secondary_statuses;
  std::optional<std::string> mediator_status;
};

ChannelRouter::ChannelRouter(const RoutingTable& table, net::HttpClient& client,
                             TransactionLog& transactions, const Clock& clock, Random& random,
                             const HimOptions& options, std::shared_ptr<spdlog::logger> log)
    : table_(table),
      client_(client),
      transactions_(transactions),
      clock_(clock),
      random_(random),
      options_(options),
      log_(std::move(log)) {}

std::string ChannelRouter::cap(std::string_view body, bool* truncated) const {
  if (body.size() <= options_.max_stored_body_bytes) return std::string(body);
  if (truncated) *truncated = true;
  std::string kept(body.substr(0, options_.max_stored_body_bytes));
  kept += "\n[truncated ...]";
  return kept;
}

void ChannelRouter::handle(net::Request request, net::Reply reply) {
  auto state = table_.get();
  const Channel* channel = selectChannel(state->channels, request.method, request.path,
                                         request.headers.get("Content-Type"));
  if (channel == nullptr) {
    reply(refusal(404, "no_channel",
                  fmt::format("no enabled channel matches {} {}", request.method, request.path)));
    return;
  }

  // Authentication never answers by itself: an unidentified caller may still use a public
  // channel. The reason is kept for the 401 of a private one.
  const Json* client = nullptr;
  std::string problem;
  std::string_view authorization = request.headers.get("Authorization");
  if (authorization.empty()) {
    problem = "no credentials: send Authorization: Basic base64(clientID:password)";
  } else if (auto creds = parseBasicAuth(authorization); !creds) {
    problem = "the Authorization header does not hold Basic credentials";
  } else if (auto it = state->clients.find(creds->username);
             it == state->clients.end() || !checkClientPassword(it->second, creds->password)) {
    problem = fmt::format("unknown client or wrong password for client '{}'", creds->username);
  } else {
    client = &it->second;
  }
  if (!channel->whitelist.empty() &&
      std::find(channel->whitelist.begin(), channel->whitelist.end(), request.remote_address) ==
          channel->whitelist.end()) {
    reply(refusal(401, "not_whitelisted",
                  fmt::format("address {} is not in the whitelist of channel '{}'",
                              request.remote_address, channel->name)));
    return;
  }
  if (!channel->is_public) {
    if (client == nullptr) {
      reply(refusal(
          401, "unauthenticated",
          fmt::format("channel '{}' needs client credentials: {}", channel->name, problem)));
      return;
    }
    if (!clientAllowed(*client, channel->allow)) {
      reply(refusal(401, "client_not_allowed",
                    fmt::format("client '{}' is not allowed on channel '{}' (neither its id nor "
                                "its roles are in the channel's allow list)",
                                client->value("clientID", ""), channel->name)));
      return;
    }
  }

  auto exchange = std::make_shared<Exchange>();
  exchange->state = std::move(state);
  exchange->channel = channel;
  exchange->reply = std::move(reply);
  exchange->started = clock_.steadyNow();

  std::string host_header(request.headers.get("Host"));
  if (client != nullptr) {
    exchange->client_id = client->value("clientID", "");
    request.headers.set("X-OpenHIM-ClientID", exchange->client_id);
  }
  std::string forwarded(request.headers.get("X-Forwarded-For"));
  request.headers.set("X-Forwarded-For", forwarded.empty()
                                             ? request.remote_address
                                             : forwarded + ", " + request.remote_address);
  if (!host_header.empty()) request.headers.set("X-Forwarded-Host", host_header);
  request.headers.set("X-Forwarded-Proto", "http");

  exchange->record = newTransaction(request, *channel, newObjectId(clock_, random_),
                                    client != nullptr ? client->value("_id", "") : "");
  request.headers.set("X-OpenHIM-TransactionID", exchange->record.id);
  exchange->request = std::move(request);
  transactions_.record(exchange->record);
  forward(std::move(exchange));
}

TransactionRecord ChannelRouter::newTransaction(const net::Request& request, const Channel& channel,
                                                std::string tx_id, std::string client_object_id) {
  std::string_view host_header = request.headers.get("Host");
  size_t colon = host_header.rfind(':');
  auto stored = std::make_shared<RecordedRequest>();
  stored->host = std::string(host_header.substr(0, colon));
  stored->port =
      colon == std::string_view::npos ? std::string() : std::string(host_header.substr(colon + 1));
  stored->path = request.path;
  stored->querystring = request.query;
  stored->method = request.method;
  for (const auto& [name, value] : request.headers.all())
    if (!iequals(name, "Authorization")) stored->headers.emplace_back(name, value);
  bool truncated = false;
  if (channel.request_body) stored->body = cap(request.body, &truncated);
  bool body_lost = !channel.request_body && sendsBody(request.method) && !request.body.empty();
  TimePoint now = clock_.now();
  stored->timestamp = isoTime(now);

  TransactionRecord record;
  record.id = std::move(tx_id);
  record.status = "Processing";
  record.client_id = std::move(client_object_id);
  record.client_ip = request.remote_address;
  record.channel_id = channel.id;
  record.request_ts_ms = toUnixMillis(now);
  record.request = std::move(stored);
  record.can_rerun = !truncated && !body_lost;
  return record;
}

Status ChannelRouter::poll(const std::string& channel_id, TimePoint last_run) {
  auto state = table_.get();
  const Channel* channel = nullptr;
  for (const auto& c : state->channels)
    if (c.id == channel_id) channel = &c;
  if (channel == nullptr || !channel->enabled)
    return notFound(fmt::format("polling channel {} is gone or not enabled", channel_id));
  net::Request request;
  request.method = "GET";
  request.path = "/trigger";
  request.target = "/trigger";
  request.remote_address = "127.0.0.1";
  request.headers.set("X-OpenHIM-LastRunAt", last_run == TimePoint() ? "" : isoTime(last_run));
  auto exchange = std::make_shared<Exchange>();
  exchange->state = std::move(state);
  exchange->channel = channel;
  exchange->started = clock_.steadyNow();
  exchange->record = newTransaction(request, *channel, newObjectId(clock_, random_), "");
  request.headers.set("X-OpenHIM-TransactionID", exchange->record.id);
  exchange->request = std::move(request);
  transactions_.record(exchange->record);
  forward(std::move(exchange));
  return ok();
}

Status ChannelRouter::rerun(const Json& original, const std::string& child_id) {
  auto state = table_.get();
  std::string channel_id = original.value("channelID", "");
  const Channel* channel = nullptr;
  for (const auto& c : state->channels)
    if (c.id == channel_id) channel = &c;
  if (channel == nullptr || !channel->enabled) {
    return invalidArgument(fmt::format("transaction {}: its channel {} is gone or not enabled",
                                       original.value("_id", ""), channel_id));
  }
  if (!original.value("canRerun", true)) {
    return invalidArgument(
        fmt::format("transaction {} cannot be rerun: its request body was not stored whole",
                    original.value("_id", "")));
  }
  const Json& stored = original.contains("request") ? original["request"] : Json::object();
  net::Request request;
  request.method = stored.value("method", "GET");
  request.path = stored.value("path", "/");
  request.query = stored.value("querystring", "");
  request.target = request.path + (request.query.empty() ? "" : "?" + request.query);
  request.body = stored.value("body", "");
  request.remote_address = original.value("clientIP", "");
  if (auto it = stored.find("headers"); it != stored.end() && it->is_object()) {
    for (const auto& [name, value] : it->items())
      if (value.is_string()) request.headers.set(name, value.get<std::string>());
  }

  auto exchange = std::make_shared<Exchange>();
  exchange->state = std::move(state);
  exchange->channel = channel;
  exchange->started = clock_.steadyNow();
  exchange->client_id = std::string(request.headers.get("X-OpenHIM-ClientID"));
  // The child keeps the original's request as stored (host, port, headers); only the time
  // is new.
  auto child_request = std::make_shared<RecordedRequest>();
  child_request->host = stored.value("host", "");
  if (auto it = stored.find("port"); it != stored.end() && it->is_number_integer()) {
    child_request->port = it->get<int>();
  } else if (it != stored.end() && it->is_string()) {
    child_request->port = it->get<std::string>();
  }
  child_request->path = request.path;
  child_request->querystring = request.query;
  child_request->method = request.method;
  for (const auto& [name, value] : request.headers.all())
    child_request->headers.emplace_back(name, value);
  child_request->body = request.body;
  TimePoint now = clock_.now();
  child_request->timestamp = isoTime(now);
  TransactionRecord& record = exchange->record;
  record.id = child_id;
  record.status = "Processing";
  record.client_id = original.value("clientID", "");
  record.client_ip = request.remote_address;
  record.channel_id = channel_id;
  record.request_ts_ms = toUnixMillis(now);
  record.request = std::move(child_request);
  if (auto it = original.find("properties"); it != original.end() && it->is_object())
    record.properties = *it;
  record.parent_id = original.value("_id", "");
  request.headers.set("X-OpenHIM-TransactionID", child_id);
  exchange->request = std::move(request);
  transactions_.record(exchange->record);
  forward(std::move(exchange));
  return ok();
}

void ChannelRouter::forward(std::shared_ptr<Exchange> exchange) {
  const auto& routes = exchange->channel->routes;
  std::vector<size_t> now;
  for (size_t i = 0; i < routes.size(); ++i)
    if (routes[i].primary || !routes[i].wait_primary_response) now.push_back(i);
  {
    std::lock_guard lock(exchange->mu);
    exchange->pending = now.size();
  }
  if (now.empty()) {
    answerClient(exchange, refusal(500, "no_primary_route",
                                   fmt::format("channel '{}' has no enabled primary route",
                                               exchange->channel->name)));
    {
      std::lock_guard lock(exchange->mu);
      exchange->primary_status = 500;
      exchange->record.error = errorJson("channel has no enabled primary route");
    }
    complete(exchange);
    return;
  }
  for (size_t i : now) sendRoute(exchange, i);
}

void ChannelRouter::sendRoute(const std::shared_ptr<Exchange>& exchange, size_t route_index) {
  const Route& route = exchange->channel->routes[route_index];
  const net::Request& in = exchange->request;

  net::ClientRequest out;
  out.method = in.method;
  auto path = upstreamPath(route, in.path);
  std::string target = path.has_value() ? *path : in.path;
  if (!in.query.empty()) target += (target.find('?') == std::string::npos ? "?" : "&") + in.query;
  out.url =
      fmt::format("{}://{}:{}{}", route.secured ? "https" : "http", route.host, route.port, target);
  std::string_view connection = in.headers.get("Connection");
  for (const auto& [name, value] : in.headers.all()) {
    if (isHopByHop(name, connection) || iequals(name, "Host")) continue;
    if (iequals(name, "Authorization") && !route.forward_auth_header) continue;
    out.headers.add(name, value);
  }
  if (!route.username.empty() && !route.password.empty())
    out.auth = net::BasicAuth{route.username, route.password};
  if (sendsBody(in.method)) out.body = in.body;
  out.timeout = exchange->channel->timeout.value_or(options_.router_timeout);

  RecordedRequest sent;
  sent.host = route.host;
  sent.port = static_cast<int>(route.port);
  sent.path = std::move(target);
  sent.method = in.method;
  sent.headers = out.headers.all();
  if (exchange->channel->request_body) sent.body = cap(out.body);
  sent.timestamp = isoTime(clock_.now());
  if (!path.has_value()) {
    finishRoute(exchange, route_index, path.error(), std::move(sent));
    return;
  }
  client_.send(std::move(out), [this, exchange, route_index, sent = std::move(sent)](
                                   Result<net::ClientResponse> result) mutable {
    finishRoute(exchange, route_index, std::move(result), std::move(sent));
  });
}

void ChannelRouter::finishRoute(const std::shared_ptr<Exchange>& exchange, size_t route_index,
                                Result<net::ClientResponse> result, RecordedRequest sent) {
  const Route& route = exchange->channel->routes[route_index];
  const Channel& channel = *exchange->channel;
  std::string now = isoTime(clock_.now());
  auto timeout = channel.timeout.value_or(options_.router_timeout);
  std::string error_message;
  if (!result.has_value()) {
    error_message = result.error().code == ErrorCode::DeadlineExceeded
                        ? fmt::format("Request took longer than {}ms", timeout.count())
                        : result.error().message;
  }

  RecordedRoute entry{route.name, std::move(sent), std::nullopt, std::nullopt};
  if (result.has_value()) {
    entry.response = RecordedResponse{result->status, result->headers.all(),
                                      channel.response_body ? cap(result->body) : "", now};
  } else {
    entry.error = error_message;
  }

  if (!route.primary) {
    std::lock_guard lock(exchange->mu);
    exchange->secondary_statuses.push_back(result.has_value() ? result->status : 500);
    exchange->record.routes.push_back(std::move(entry));
    // complete() takes the lock itself.
    if (--exchange->pending != 0) return;
  } else {
    net::Response to_client;
    Json mediator_doc;
    bool mediator = false;
    if (!result.has_value()) {
      if (log_) log_->warn("channel '{}' route '{}': {}", channel.name, route.name, error_message);
      to_client =
          refusal(500, "upstream_unavailable",
                  fmt::format("An internal server error occurred: channel '{}' route "
                              "'{}' ({}:{}) failed: {}",
                              channel.name, route.name, route.host, route.port, error_message));
    } else {
      std::string_view content_type = result->headers.get("Content-Type");
      mediator = content_type.find(kMediatorType) != std::string_view::npos;
      if (mediator) {
        auto parsed = parseJson(result->body);
        if (parsed.has_value() && parsed->is_object() && (*parsed)["response"].is_object() &&
            statusOf((*parsed)["response"]["status"])) {
          mediator_doc = std::move(parsed).value();
        } else {
          mediator = false;
          error_message =
              "the mediator's application/json+openhim response is not valid "
              "(it needs a JSON object with a response object holding a status)";
          to_client = refusal(500, "bad_mediator_response",
                              fmt::format("An internal server error occurred: channel '{}' route "
                                          "'{}': {}",
                                          channel.name, route.name, error_message));
        }
      }
      if (mediator) {
        const Json& r = mediator_doc["response"];
        to_client.status = *statusOf(r["status"]);
        if (r.contains("headers") && r["headers"].is_object()) {
          for (const auto& [name, value] : r["headers"].items()) {
            if (isHopByHop(name, "")) continue;
            to_client.headers.set(name,
                                  value.is_string() ? value.get<std::string>() : dumpJson(value));
          }
        }
        to_client.body = r.contains("body") ? bodyText(r["body"]) : "";
      } else if (error_message.empty()) {
        to_client.status = result->status;
        std::string_view connection = result->headers.get("Connection");
        for (const auto& [name, value] : result->headers.all()) {
          if (isHopByHop(name, connection)) continue;
          to_client.headers.add(name, value);
        }
        to_client.body = std::move(result->body);
      }
    }
    to_client.headers.set("X-OpenHIM-TransactionID", exchange->record.id);
    {
      std::lock_guard lock(exchange->mu);
      TransactionRecord& record = exchange->record;
      if (mediator) {
        if (auto it = mediator_doc.find("orchestrations");
            it != mediator_doc.end() && it->is_array()) {
          for (auto& o : *it) record.mediator_orchestrations.push_back(std::move(o));
        }
        if (auto it = mediator_doc.find("properties");
            it != mediator_doc.end() && it->is_object()) {
          record.properties = std::move(*it);
        }
        if (auto it = mediator_doc.find("status"); it != mediator_doc.end() && it->is_string())
          exchange->mediator_status = it->get<std::string>();
        if (auto it = mediator_doc.find("error"); it != mediator_doc.end() && it->is_object())
          record.error = std::move(*it);
      }
      if (!error_message.empty()) record.error = errorJson(error_message);
      record.orchestrations.push_back(std::move(entry));
      exchange->primary_status = to_client.status;
      record.response = RecordedResponse{to_client.status, to_client.headers.all(),
                                         channel.response_body ? cap(to_client.body) : "", now};
    }
    answerClient(exchange, std::move(to_client));

    // Routes that wait for the primary start now.
    std::vector<size_t> deferred;
    for (size_t i = 0; i < channel.routes.size(); ++i)
      if (!channel.routes[i].primary && channel.routes[i].wait_primary_response)
        deferred.push_back(i);
    bool last = false;
    {
      std::lock_guard lock(exchange->mu);
      exchange->pending += deferred.size();
      last = --exchange->pending == 0;
    }
    if (!last) {
      for (size_t i : deferred) sendRoute(exchange, i);
      return;
    }
  }
  complete(exchange);
}

void ChannelRouter::answerClient(const std::shared_ptr<Exchange>& exchange,
                                 net::Response response) {
  if (exchange->reply) (*exchange->reply)(std::move(response));
}

void ChannelRouter::complete(const std::shared_ptr<Exchange>& exchange) {
  TransactionRecord record;
  {
    std::lock_guard lock(exchange->mu);
    exchange->record.status = exchange->mediator_status.value_or(
        finalStatus(exchange->primary_status, exchange->secondary_statuses));
    auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(clock_.steadyNow() -
                                                                         exchange->started);
    exchange->record.duration_ms = static_cast<double>(elapsed.count()) / 1000.0;
    // Every route has finished: nothing reads the record after this.
    record = std::move(exchange->record);
  }
  transactions_.record(std::move(record));
}

}  // namespace chtlink::him
