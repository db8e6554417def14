#include "mediator/exchange.h"

#include <fmt/format.h>

#include <ctime>

namespace chtlink::mediator {
namespace {

// Orchestration bodies are for an operator reading the transaction log, not a data store.
constexpr size_t kMaxRecordedBody = 64 * 1024;

std::string clip(const std::string& body) {
  if (body.size() <= kMaxRecordedBody) return body;
  return body.substr(0, kMaxRecordedBody) + "\n[truncated ...]";
}

Json headerObject(const net::Headers& headers) {
  Json out = Json::object();
  for (const auto& [name, value] : headers.all()) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "authorization") continue;  // never store credentials in the log
    out[lower] = value;
  }
  return out;
}

}  // namespace

std::string isoTime(TimePoint t) {
  int64_t ms = toUnixMillis(t);
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

void CallLog::add(Json orchestration) {
  std::lock_guard lock(mu_);
  entries_.push_back(std::move(orchestration));
}

Json CallLog::entries() const {
  std::lock_guard lock(mu_);
  return Json(entries_);
}

void Caller::send(const std::shared_ptr<CallLog>& log, std::string name, net::ClientRequest request,
                  Done done) {
  if (request.timeout.count() == 0) request.timeout = timeout_;
  if (!log) {
    http_.send(std::move(request), std::move(done));
    return;
  }
  Json recorded_request{{"method", request.method},
                        {"timestamp", isoTime(clock_.now())},
                        {"headers", headerObject(request.headers)},
                        {"body", clip(request.body)}};
  if (auto url = net::parseUrl(request.url)) {
    std::string target = url->target;
    auto q = target.find('?');
    recorded_request["host"] = url->host;
    recorded_request["port"] = url->port;
    recorded_request["path"] = target.substr(0, q);
    recorded_request["querystring"] = q == std::string::npos ? "" : target.substr(q + 1);
  }
  http_.send(std::move(request),
             [this, log, name = std::move(name), recorded_request = std::move(recorded_request),
              done = std::move(done)](Result<net::ClientResponse> result) mutable {
               Json o{{"name", name}, {"request", std::move(recorded_request)}};
               if (result) {
                 o["response"] = Json{{"status", result->status},
                                      {"headers", headerObject(result->headers)},
                                      {"body", clip(result->body)},
                                      {"timestamp", isoTime(clock_.now())}};
               } else {
                 o["error"] = Json{{"message", result.error().message}};
               }
               log->add(std::move(o));
               done(std::move(result));
             });
}

net::ClientRequest jsonRequest(std::string method, const std::string& base, std::string_view path,
                               const std::optional<net::BasicAuth>& auth,
                               const std::optional<Json>& body) {
  net::ClientRequest r;
  r.method = std::move(method);
  r.url = base + std::string(path);
  r.auth = auth;
  r.headers.set("Accept", "application/json");
  if (body) {
    r.headers.set("Content-Type", "application/json");
    r.body = dumpJson(*body);
  }
  return r;
}

Exchange::Exchange(net::Reply reply, const net::Request& request, const Clock& clock)
    : reply_(std::move(reply)), clock_(clock) {
  if (request.headers.has("X-OpenHIM-TransactionID")) log_ = std::make_shared<CallLog>();
}

void Exchange::setProperty(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  properties_[key] = value;
}

void Exchange::answer(int status, const Json& body) {
  if (!log_) {
    reply_(net::Response::json(status, body));
    return;
  }
  Json properties;
  {
    std::lock_guard lock(mu_);
    properties = properties_;
  }
  Json doc{{"x-mediator-urn", std::string(kMediatorUrn)},
           {"status", status >= 500   ? "Failed"
                      : status >= 400 ? "Completed"
                                      : "Successful"},
           {"response", Json{{"status", status},
                             {"headers", Json{{"content-type", "application/json"}}},
                             {"body", dumpJson(body)},
                             {"timestamp", isoTime(clock_.now())}}},
           {"orchestrations", log_->entries()},
           {"properties", std::move(properties)}};
  net::Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json+openhim");
  r.body = dumpJson(doc);
  reply_(std::move(r));
}

void Exchange::invalid(const std::string& message) {
  answer(400, Json{{"valid", false}, {"message", message}});
}

void Exchange::fail(int status, const std::string& message) {
  answer(status, Json{{"message", message}});
}

std::pair<int, std::string> transportFailure(const Error& error, const std::string& what) {
  if (error.code == ErrorCode::DeadlineExceeded)
    return {504, fmt::format("{} did not answer in time: {}", what, error.message)};
  return {502, fmt::format("{} is unreachable: {}", what, error.message)};
}

}  // namespace chtlink::mediator
