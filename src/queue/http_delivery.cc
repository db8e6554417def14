#include "queue/http_delivery.h"

#include <fmt/format.h>

#include "base/json.h"

namespace chtlink::queue {

namespace {

constexpr size_t kErrorBodyChars = 200;
constexpr std::string_view kJobIdHeader = "X-Chtlink-Job-Id";

// "http://user:secret@host/x" -> "http://user:***@host/x": last_error is shown to operators.
std::string maskedUrl(std::string_view url) {
  size_t authority = url.find("://");
  if (authority == std::string_view::npos) return std::string(url);
  authority += 3;
  size_t end = url.find_first_of("/?#", authority);
  size_t at = url.rfind('@', end == std::string_view::npos ? url.size() : end);
  if (at == std::string_view::npos || at < authority) return std::string(url);
  size_t colon = url.find(':', authority);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return fmt::format("{}***{}", url.substr(0, colon + 1), url.substr(at));
}

std::string bodyStart(const std::string& body) {
  if (body.size() <= kErrorBodyChars) return body;
  return body.substr(0, kErrorBodyChars) + "...";
}

Outcome classify(const std::string& what, const Result<net::ClientResponse>& answer) {
  if (!answer.has_value()) {
    const Error& e = answer.error();
    std::string why = fmt::format("{} failed: {}", what, e.message);
    switch (e.code) {
      case ErrorCode::Unavailable:
      case ErrorCode::DeadlineExceeded:
      case ErrorCode::Internal:
        return Outcome::retry(std::move(why));
      default:
        return Outcome::fail(std::move(why));  // bad URL, answer too large, ...
    }
  }
  const int status = answer->status;
  if (status >= 200 && status < 300) return Outcome::delivered();
  std::string why = fmt::format("{} answered {}: {}", what, status, bodyStart(answer->body));
  if (status == 408 || status == 429 || status >= 500) return Outcome::retry(std::move(why));
  return Outcome::fail(std::move(why));  // the receiver will not accept this request
}

class HttpDeliveryHandler final : public JobHandler {
 public:
  explicit HttpDeliveryHandler(net::HttpClient& client) : client_(client) {}

  // JobHandler
  void handle(const Job& job, std::function<void(Outcome)> done) override {
    auto decoded = decodeHttpJob(job.payload);
    if (!decoded.has_value()) {
      done(Outcome::fail(
          fmt::format("job {}: undecodable http payload: {}", job.id, decoded.error().message)));
      return;
    }
    HttpJob& http = *decoded;
    net::ClientRequest request;
    request.method = http.method;
    request.url = http.url;
    for (const auto& [name, value] : http.headers) request.headers.add(name, value);
    request.headers.set(kJobIdHeader, std::to_string(job.id));
    request.body = std::move(http.body);
    std::string what = fmt::format("{} {}", http.method, maskedUrl(http.url));
    client_.send(std::move(request),
                 [done = std::move(done), what = std::move(what)](
                     Result<net::ClientResponse> answer) { done(classify(what, answer)); });
  }

 private:
  net::HttpClient& client_;
};

}  // namespace

std::string encodeHttpJob(const HttpJob& job) {
  Json headers = Json::array();
  for (const auto& [name, value] : job.headers) headers.push_back(Json::array({name, value}));
  Json j = {{"method", job.method},
            {"url", job.url},
            {"headers", std::move(headers)},
            {"body", job.body}};
  return dumpJson(j);
}

Result<HttpJob> decodeHttpJob(std::string_view payload) {
  CHTLINK_ASSIGN_OR_RETURN(Json j, parseJson(payload));
  if (!j.is_object()) return invalidArgument("http job payload must be a JSON object");
  HttpJob job;
  auto method = j.find("method");
  if (method != j.end()) {
    if (!method->is_string() || method->get_ref<const std::string&>().empty()) {
      return invalidArgument("http job \"method\" must be a non-empty string");
    }
    job.method = method->get<std::string>();
  }
  auto url = j.find("url");
  if (url == j.end() || !url->is_string() || url->get_ref<const std::string&>().empty()) {
    return invalidArgument("http job needs a \"url\" string");
  }
  job.url = url->get<std::string>();
  auto headers = j.find("headers");
  if (headers != j.end() && !headers->is_null()) {
    if (headers->is_array()) {
      for (const Json& h : *headers) {
        if (!h.is_array() || h.size() != 2 || !h[0].is_string() || !h[1].is_string()) {
          return invalidArgument("http job \"headers\" entries must be [name, value] strings");
        }
        job.headers.emplace_back(h[0].get<std::string>(), h[1].get<std::string>());
      }
    } else if (headers->is_object()) {
      for (const auto& [name, value] : headers->items()) {
        if (!value.is_string()) {
          return invalidArgument(
              fmt::format("http job header \"{}\" must have a string value", name));
        }
        job.headers.emplace_back(name, value.get<std::string>());
      }
    } else {
      return invalidArgument("http job \"headers\" must be an array of pairs or an object");
    }
  }
  auto body = j.find("body");
  if (body != j.end() && !body->is_null()) {
    if (!body->is_string()) return invalidArgument("http job \"body\" must be a string");
    job.body = body->get<std::string>();
  }
  return job;
}

std::shared_ptr<JobHandler> makeHttpDeliveryHandler(net::HttpClient& client) {
  return std::make_shared<HttpDeliveryHandler>(client);
}

}  // namespace chtlink::queue
